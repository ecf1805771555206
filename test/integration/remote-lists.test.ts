// GitHub meta and OpenAI range lists: fetched from a local stub, cached on disk, stale cache on failure.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/log/index.js';
import { parseGitHubMeta, RemoteCidrList } from '../../src/http/gate/index.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { http } from '../helpers/http.js';
import { LogCapture } from '../helpers/log-capture.js';
import { startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { tempDir } from '../helpers/tmp.js';

const viaProxy = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });

describe('remote origin lists', () => {
  let stub: StubForge;
  before(async () => {
    stub = await startStubForge();
  });
  after(() => stub.close());

  const config = () => `
[server]
allow_origins = ["github", "openai"]
trusted_proxies = ["127.0.0.1"]
openai_ip_lists = ["${stub.url}/openai/chatgpt-connectors.json", "${stub.url}/openai/chatgpt-agents.json"]
[github]
api_url = "${stub.url}/api"
`;

  test('fetched at startup, cached to disk (0600), used by the gate', async () => {
    stub.listStatus = 200;
    await using d = await startTestDaemon(config());
    assert.equal((await http(`${d.url}/healthz`, viaProxy('192.30.252.44'))).status, 200);
    assert.equal((await http(`${d.url}/healthz`, viaProxy('2a0a:a440::9'))).status, 200);
    assert.equal((await http(`${d.url}/healthz`, viaProxy('23.102.140.115'))).status, 200);
    assert.equal((await http(`${d.url}/healthz`, viaProxy('8.8.8.8'))).status, 403);
    const origins = d.logs.find('request').map((l) => l.origin);
    assert.deepEqual(origins.slice(0, 3), ['github', 'github', 'openai']);
    const cache = JSON.parse(await readFile(join(d.cacheDir, 'origins', 'github.json'), 'utf8')) as { cidrs: string[]; urls: string[] };
    assert.deepEqual(cache.cidrs.sort(), [...stub.githubHooks].sort());
    assert.deepEqual(cache.urls, [`${stub.url}/api/meta`]);
    assert.equal((await stat(join(d.cacheDir, 'origins', 'github.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(d.cacheDir, 'origins'))).mode & 0o777, 0o700);
    const openai = JSON.parse(await readFile(join(d.cacheDir, 'origins', 'openai.json'), 'utf8')) as { cidrs: string[] };
    assert.deepEqual(openai.cidrs.sort(), ['23.102.140.112/28', '2603:1030:a::/48']);
  });

  test('a fresh cache is used without fetching', async () => {
    await using dir = await tempDir();
    const cacheDir = join(dir.path, 'cache');
    await mkdir(join(cacheDir, 'origins'), { recursive: true });
    const cached = { fetchedAt: new Date().toISOString(), urls: [`${stub.url}/api/meta`], cidrs: ['198.51.100.0/24'] };
    await writeFile(join(cacheDir, 'origins', 'github.json'), JSON.stringify(cached));
    const hitsBefore = stub.hits['GET /api/meta'] ?? 0;
    await using d = await startTestDaemon(config(), { dir, cacheDir });
    assert.equal(stub.hits['GET /api/meta'] ?? 0, hitsBefore);
    assert.equal((await http(`${d.url}/healthz`, viaProxy('198.51.100.3'))).status, 200);
  });

  test('when the source fails (500), the stale cache is used and the failure logged', async () => {
    await using dir = await tempDir();
    const cacheDir = join(dir.path, 'cache');
    await mkdir(join(cacheDir, 'origins'), { recursive: true });
    const stale = { fetchedAt: new Date(Date.now() - 3 * 86_400_000).toISOString(), urls: [`${stub.url}/api/meta`], cidrs: ['198.51.100.0/24'] };
    await writeFile(join(cacheDir, 'origins', 'github.json'), JSON.stringify(stale));
    stub.listStatus = 500;
    try {
      const hitsBefore = stub.hits['GET /api/meta'] ?? 0;
      await using d = await startTestDaemon(config(), { dir, cacheDir });
      assert.ok((stub.hits['GET /api/meta'] ?? 0) > hitsBefore, 'a stale cache triggers a fetch');
      assert.equal((await http(`${d.url}/healthz`, viaProxy('198.51.100.3'))).status, 200, 'stale data still allows');
      assert.equal((await http(`${d.url}/healthz`, viaProxy('192.30.252.44'))).status, 403, 'new data never arrived');
      const failure = d.logs.find('origin list fetch failed').find((l) => l.list === 'github')!;
      assert.equal(failure.usingCached, 1);
      assert.match(String(failure.err), /HTTP 500/);
      // The file keeps the last good copy.
      const onDisk = JSON.parse(await readFile(join(cacheDir, 'origins', 'github.json'), 'utf8')) as { fetchedAt: string };
      assert.equal(onDisk.fetchedAt, stale.fetchedAt);
    } finally {
      stub.listStatus = 200;
    }
  });

  test('after a failure the list retries with backoff and recovers', async () => {
    await using dir = await tempDir();
    const logs = new LogCapture();
    const { logger } = createLogger({ destination: logs, level: 'debug' });
    stub.listStatus = 503;
    const list = new RemoteCidrList({ name: 'github', urls: [`${stub.url}/api/meta`], parse: parseGitHubMeta, cacheDir: dir.path, logger, retryInitialMs: 20 });
    const updated = new Promise<readonly string[]>((resolve) => list.onUpdate(resolve));
    try {
      await list.start(1_000);
      assert.deepEqual(list.current(), []);
      stub.listStatus = 200;
      assert.deepEqual([...(await updated)].sort(), [...stub.githubHooks].sort());
      const retries = logs.find('origin list fetch failed').map((l) => l.retryInMs as number);
      assert.ok(retries.length >= 1);
      assert.ok(retries.every((ms, i) => i === 0 || ms >= retries[i - 1]!), 'backoff never shrinks');
    } finally {
      list.stop();
      stub.listStatus = 200;
    }
  });

  test('startup does not wait for a source that never answers', async () => {
    await using dir = await tempDir();
    const sockets = new Set<Socket>();
    const hang = createServer(() => {});
    hang.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const { logger } = createLogger({ destination: new LogCapture() });
    const list = new RemoteCidrList({ name: 'github', urls: [`http://127.0.0.1:${(hang.address() as AddressInfo).port}/meta`], parse: parseGitHubMeta, cacheDir: dir.path, logger });
    try {
      await list.start(200); // resolves although the fetch is still pending
      assert.deepEqual(list.current(), []);
    } finally {
      list.stop();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });
});

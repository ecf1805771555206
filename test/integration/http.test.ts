// The daemon over real sockets: error envelopes, security headers, the gate with trusted proxies,
// host lock, malformed requests, and how long a client may take to send one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { openSse, type SseStream } from '../../src/http/sse.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { cookiePair, http } from '../helpers/http.js';
import { writeCountryMmdb } from '../helpers/mmdb-writer.js';
import { RawConnection, rawRequest, type RawAnswer } from '../helpers/raw-http.js';
import { SseClient } from '../helpers/sse.js';
import { CLIENT, githubLoginToml, startStubForge } from '../helpers/stub-forge.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

type Envelope = { error: { code: string; message: string }; details?: Record<string, unknown> };
const LOCAL_ONLY = '[server]\nallow_origins = ["local"]\n';

describe('basics and error envelopes', () => {
  test('healthz, readyz, server config, status page', async () => {
    await using d = await startTestDaemon(LOCAL_ONLY, { webDir: null });
    assert.deepEqual((await http(`${d.url}/healthz`)).json(), { status: 'ok' });
    const ready = (await http(`${d.url}/readyz`)).json<{ status: string; checks: Record<string, string> }>();
    assert.equal(ready.checks.config, 'ok');
    assert.ok('docker' in ready.checks, 'readiness includes the container engine');
    const cfg = (await http(`${d.url}/api/v1/server/config`)).json<{ version: string; authEnabled: boolean; authProviders: string[] }>();
    assert.match(cfg.version, /^\d+\.\d+\.\d+/);
    assert.equal(cfg.authEnabled, false);
    assert.deepEqual(cfg.authProviders, []);
    const page = await http(`${d.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /no-auth mode/);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
  });

  test('400, 404, 405, 413 all use the envelope and never leak a stack', async () => {
    await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\nbody_limit = 2048\n');
    const bad = await http(`${d.url}/api/v1/auth/github/start?return=nowhere`);
    assert.equal(bad.status, 400);
    const badBody = bad.json<Envelope>();
    assert.equal(badBody.error.code, 'BAD_REQUEST');
    assert.match(badBody.error.message, /invalid querystring: return/);
    assert.ok(Array.isArray(badBody.details?.issues));

    const badProvider = await http(`${d.url}/api/v1/auth/google/start`);
    assert.equal(badProvider.status, 400);

    const json = await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    assert.equal(json.status, 400);
    assert.deepEqual(json.json(), { error: { code: 'BAD_REQUEST', message: 'request body is not valid JSON' } });

    const missing = await http(`${d.url}/api/v1/nothing-here`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json<Envelope>().error.code, 'NOT_FOUND');

    const wrongMethod = await http(`${d.url}/api/v1/server/config`, { method: 'DELETE' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.json<Envelope>().error.code, 'METHOD_NOT_ALLOWED');
    assert.equal(wrongMethod.headers.allow, 'GET, HEAD');

    const big = await http(`${d.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(5000) }),
    });
    assert.equal(big.status, 413);
    assert.deepEqual(big.json(), { error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is larger than 2048 bytes' } });

    const media = await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' });
    assert.equal(media.status, 415);
    assert.equal(media.json<Envelope>().error.code, 'UNSUPPORTED_MEDIA_TYPE');

    for (const r of [bad, json, missing, wrongMethod, big, media]) {
      assert.doesNotMatch(r.body, /at .*\.js:\d+/);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.match(String(r.headers['content-type']), /^application\/json/);
    }
    // Routine 2xx lines are debug; errors are info; each has the gate fields.
    const lines = d.logs.find('request');
    const line413 = lines.find((l) => l.status === 413)!;
    assert.equal(line413.level, 30);
    assert.equal(line413.origin, 'local');
    assert.equal(line413.ip, '127.0.0.1');
    assert.equal(typeof line413.ms, 'number');
    assert.ok(Number(line413.bytes) > 0);
  });

  test('at info level only refusals and errors are logged, each once', async () => {
    await using d = await startTestDaemon(LOCAL_ONLY, { logLevel: 'info' });
    assert.equal((await http(`${d.url}/healthz`)).status, 200);
    // Under /api/: other unknown paths answer the web UI's index.html when web/dist is built.
    assert.equal((await http(`${d.url}/api/nope`)).status, 404);
    const denied = await d.daemon.app.inject({ url: '/healthz', remoteAddress: '198.51.100.9' });
    assert.equal(denied.statusCode, 403);
    // The access line is written when the response has finished, which the client may see first.
    await until(() => d.logs.find('request').length >= 2, 'two access lines');
    const lines = d.logs.find('request');
    assert.deepEqual(
      lines.map((l) => [l.path, l.status, l.level]),
      [
        ['/api/nope', 404, 30],
        ['/healthz', 403, 30],
      ],
    );
    assert.equal(lines[1]!.ip, '198.51.100.9');
  });

  test('no-auth mode: login routes answer 404, /auth/me 404', async () => {
    await using d = await startTestDaemon(LOCAL_ONLY);
    assert.equal((await http(`${d.url}/api/v1/auth/github/start`)).status, 404);
    const me = await http(`${d.url}/api/v1/auth/me`);
    assert.equal(me.status, 404);
    assert.match(me.json<Envelope>().error.message, /login is not configured/);
  });

  test('state-changing requests from another site are refused', async () => {
    await using d = await startTestDaemon(LOCAL_ONLY);
    const host = new URL(d.url).host;
    const cross = await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: { origin: 'https://evil.example' } });
    assert.equal(cross.status, 403);
    const fetchMeta = await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(fetchMeta.status, 403);
    const same = await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: { origin: `http://${host}` } });
    assert.equal(same.status, 200);
    const cli = await http(`${d.url}/api/v1/auth/logout`, { method: 'POST' });
    assert.equal(cli.status, 200);
  });
});

describe('gate over sockets', () => {
  test('a trusted proxy forwards the client address; untrusted X-Forwarded-For is ignored', async () => {
    await using dir = await tempDir();
    await writeCountryMmdb(join(dir.path, 'geo.mmdb'), [
      { cidr: '81.2.69.0/24', country: 'GB' },
      { cidr: '203.0.113.0/24', country: 'CA' },
    ]);
    const toml = (proxies: string) =>
      `[server]\nallow_origins = ["CA", "198.51.100.0/24"]\ngeo_db = "${join(dir.path, 'geo.mmdb')}"\ntrusted_proxies = [${proxies}]\n`;

    {
      await using d = await startTestDaemon(toml('"127.0.0.1"'));
      const ca = await http(`${d.url}/healthz`, { headers: { 'x-forwarded-for': '81.2.69.1, 203.0.113.9' } });
      assert.equal(ca.status, 200, 'rightmost untrusted hop is Canadian');
      const gb = await http(`${d.url}/healthz`, { headers: { 'x-forwarded-for': '203.0.113.9, 81.2.69.1' } });
      assert.equal(gb.status, 403);
      assert.deepEqual(gb.json(), { error: { code: 'FORBIDDEN', message: 'origin 81.2.69.1 (GB) not allowed' } });
      const cidr = await http(`${d.url}/healthz`, { headers: { 'x-forwarded-for': '198.51.100.77' } });
      assert.equal(cidr.status, 200);
      const direct = await http(`${d.url}/healthz`);
      assert.equal(direct.status, 403, 'the proxy itself is local, and local is not allowed');
      const denial = d.logs.find('request').find((l) => l.ip === '81.2.69.1')!;
      assert.equal(denial.level, 30);
      assert.equal(denial.country, 'GB');
      assert.equal(denial.status, 403);
      const allowed = d.logs.find('request').find((l) => l.ip === '203.0.113.9')!;
      assert.deepEqual([allowed.origin, allowed.country, allowed.level], ['CA', 'CA', 20]);
    }
    {
      await using d = await startTestDaemon(toml(''));
      const spoof = await http(`${d.url}/healthz`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(spoof.status, 403, 'no trusted proxy: judged by the socket address');
      assert.match(spoof.json<Envelope>().error.message, /origin 127\.0\.0\.1 \(local\) not allowed/);
    }
  });

  test('a trusted proxy that forwards garbage is refused, though the proxy itself is allowed', async () => {
    await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\ntrusted_proxies = ["127.0.0.1"]\n');
    assert.equal((await http(`${d.url}/healthz`)).status, 200, 'control: the proxy alone is allowed');
    assert.equal((await http(`${d.url}/healthz`, { headers: { 'x-forwarded-for': '10.1.2.3' } })).status, 200, 'control: a local client');
    for (const xff of ['unknown', '10.1.2.3, garbage', '999.1.1.1', '10.1.2.3:80']) {
      const res = await http(`${d.url}/healthz`, { headers: { 'x-forwarded-for': xff } });
      assert.equal(res.status, 403, xff);
      assert.deepEqual(
        res.json(),
        { error: { code: 'FORBIDDEN', message: 'cannot determine the client address (malformed X-Forwarded-For from a trusted proxy)' } },
        xff,
      );
    }
  });

  test('an untrusted peer claiming X-Forwarded-For: 127.0.0.1 is judged by its own address', async () => {
    await using d = await startTestDaemon(LOCAL_ONLY);
    const res = await d.daemon.app.inject({ url: '/healthz', remoteAddress: '198.51.100.9', headers: { 'x-forwarded-for': '127.0.0.1' } });
    assert.equal(res.statusCode, 403);
    assert.match(res.body, /origin 198\.51\.100\.9 \(unknown\) not allowed/);
    const v6 = await d.daemon.app.inject({ url: '/healthz', remoteAddress: '::ffff:198.51.100.9' });
    assert.equal(v6.statusCode, 403);
    const local6 = await d.daemon.app.inject({ url: '/healthz', remoteAddress: '::1' });
    assert.equal(local6.statusCode, 200);
  });
});

describe('host lock and HTTPS', () => {
  test('auto pins the first FQDN; IPs and localhost always pass', async () => {
    await using d = await startTestDaemon(LOCAL_ONLY);
    const port = new URL(d.url).port;
    assert.equal((await http(`${d.url}/healthz`, { headers: { host: `caic.example.com:${port}` } })).status, 200);
    const other = await http(`${d.url}/healthz`, { headers: { host: 'evil.example.net' } });
    assert.equal(other.status, 403);
    assert.match(other.json<Envelope>().error.message, /invalid host/);
    assert.equal((await http(`${d.url}/healthz`, { headers: { host: `CAIC.example.com.:${port}` } })).status, 200);
    assert.equal((await http(`${d.url}/healthz`, { headers: { host: `localhost:${port}` } })).status, 200);
    assert.equal((await http(`${d.url}/healthz`, { headers: { host: `127.0.0.1:${port}` } })).status, 200);
    assert.equal((await http(`${d.url}/healthz`, { headers: { host: `[::1]:${port}` } })).status, 200);
    assert.ok(d.logs.find('external URL locked to the first hostname seen').length === 1);
  });

  test('an explicit external_url is enforced; HSTS only over HTTPS via a trusted proxy', async () => {
    await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\nexternal_url = "https://caic.example.com"\ntrusted_proxies = ["127.0.0.1"]\n');
    assert.equal((await http(`${d.url}/healthz`, { headers: { host: 'caic.example.com' } })).status, 200);
    assert.equal((await http(`${d.url}/healthz`, { headers: { host: 'other.example.com' } })).status, 403);
    assert.equal((await http(`${d.url}/healthz`, { headers: { host: 'x', 'x-forwarded-host': 'other.example.com' } })).status, 403);
    const plain = await http(`${d.url}/healthz`);
    assert.equal(plain.headers['strict-transport-security'], undefined);
    const tls = await http(`${d.url}/healthz`, { headers: { 'x-forwarded-proto': 'https', host: 'caic.example.com' } });
    assert.equal(tls.headers['strict-transport-security'], 'max-age=31536000');
  });
});

test('close() stops accepting but finishes requests in flight', async () => {
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const d = await startTestDaemon(LOCAL_ONLY, {
    extend: (app) => {
      app.get('/api/v1/test/slow', async () => {
        entered();
        await gate;
        return { done: true };
      });
    },
  });
  try {
    const pending = http(`${d.url}/api/v1/test/slow`);
    await inHandler;
    const closing = d.daemon.close();
    await until(() => !d.daemon.app.server.listening, 'the listener to close');
    await assert.rejects(http(`${d.url}/healthz`), /ECONNREFUSED|ECONNRESET|socket hang up/);
    release();
    const res = await pending;
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { done: true });
    await closing;
  } finally {
    await d.dir[Symbol.asyncDispose]();
  }
});

describe('repositories, preferences and tool inputs through the API', () => {
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  async function makeRepo(path: string): Promise<void> {
    await mkdir(path, { recursive: true });
    git(path, 'init', '-q', '-b', 'main');
    await writeFile(join(path, 'a.txt'), 'a\n');
    git(path, 'add', '-A');
    git(path, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'first');
  }
  const post = (d: TestDaemon, path: string, body: unknown) =>
    http(`${d.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('the resolved root is in the server config; a repository added later shows after a rescan', async () => {
    await using dir = await tempDir();
    const started = join(dir.path, 'work');
    await makeRepo(join(started, 'first'));
    await using d = await startTestDaemon(LOCAL_ONLY, { startDir: started });
    assert.equal((await http(`${d.url}/api/v1/server/config`)).json<{ root: string }>().root, started);
    assert.deepEqual((await http(`${d.url}/api/v1/server/repos`)).json<{ name: string }[]>().map((r) => r.name), ['first']);
    const listening = d.logs.find('caic listening')[0]!;
    assert.deepEqual([listening.root, listening.repositories], [started, 1]);

    await makeRepo(join(started, 'group', 'second'));
    const scan = await post(d, '/api/v1/server/repos/scan', {});
    assert.equal(scan.status, 200, scan.body);
    assert.deepEqual(scan.json<{ name: string }[]>().map((r) => r.name), ['first', 'group/second']);
    const listed = (await http(`${d.url}/api/v1/server/repos`)).json<Record<string, unknown>[]>();
    assert.deepEqual(Object.keys(listed[0]!).sort(), ['baseBranch', 'ci', 'forge', 'name', 'remote', 'remoteURL'], 'no host path, no bookkeeping');
  });

  test('with login on, the root is shown to signed-in callers only', async () => {
    const stub = await startStubForge();
    try {
      await using dir = await tempDir();
      const started = join(dir.path, 'work');
      await using d = await startTestDaemon(`[server]\nallow_origins = ["local"]\nexternal_url = "https://caic.test"\n${githubLoginToml(stub, ['octocat'])}`, {
        startDir: started,
        dir,
      });
      const anonymous = (await http(`${d.url}/api/v1/server/config`, { headers: { host: 'caic.test' } })).json<{ root: string; authEnabled: boolean }>();
      assert.deepEqual([anonymous.authEnabled, anonymous.root], [true, '']);
      assert.ok(!JSON.stringify(anonymous).includes(dir.path), 'no host path for a visitor');
      const start = await http(`${d.url}/api/v1/auth/github/start`, { headers: { host: 'caic.test' } });
      const approve = await http(String(start.headers.location));
      const cb = new URL(String(approve.headers.location));
      const done = await http(`${d.url}${cb.pathname}${cb.search}`, { headers: { host: 'caic.test', cookie: cookiePair(start.setCookies[0]!) } });
      const session = cookiePair(done.setCookies.find((c) => c.startsWith('caic_session='))!);
      const signedIn = (await http(`${d.url}/api/v1/server/config`, { headers: { host: 'caic.test', cookie: session } })).json<{ root: string }>();
      assert.equal(signedIn.root, started);
    } finally {
      await stub.close();
    }
  });

  test('cloning: bad targets and local sources are refused with 4xx envelopes, never a 500', async () => {
    await using dir = await tempDir();
    const root = join(dir.path, 'root');
    await makeRepo(join(dir.path, 'origin'));
    await mkdir(root);
    await writeFile(join(root, 'file.txt'), 'x');
    await using d = await startTestDaemon(LOCAL_ONLY, { startDir: root });
    const cases: [unknown, number, RegExp][] = [
      [{ url: 'https://forge.invalid/o/r.git', path: 'd'.repeat(256) }, 400, /name too long/],
      [{ url: `https://forge.invalid/o/${'n'.repeat(256)}` }, 400, /name too long/],
      [{ url: 'https://forge.invalid/o/r.git', path: 'file.txt/r' }, 400, /not a directory/],
      [{ url: `file://${join(dir.path, 'origin')}` }, 403, /allow_local_clone/],
      [{ url: join(dir.path, 'origin') }, 400, /url must be/],
      [{ url: 'https://forge.invalid/o/r.git', path: '.git' }, 400, /invalid body|not searched/],
    ];
    for (const [body, status, message] of cases) {
      const r = await post(d, '/api/v1/server/repos', body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 90)} → ${r.status} ${r.body.slice(0, 200)}`);
      assert.match(r.json<Envelope>().error.message, message);
      assert.ok(!r.body.includes(root), 'the host path is not echoed');
    }
    assert.equal(d.logs.find('request failed').length, 0, 'nothing was an internal error');
    const allowed = await startTestDaemon('[server]\nallow_origins = ["local"]\n[core]\nallow_local_clone = true\n', { startDir: root });
    try {
      const r = await post(allowed, '/api/v1/server/repos', { url: `file://${join(dir.path, 'origin')}`, path: 'copy' });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json<{ name: string }>().name, 'copy');
    } finally {
      await allowed[Symbol.asyncDispose]();
    }
  });

  test('preferences: a value nested 5,000 deep is a 400 that breaks nobody; a write is read back', async () => {
    await using d = await startTestDaemon(LOCAL_ONLY);
    const deep = `{"settings":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`;
    const refused = await http(`${d.url}/api/v1/server/preferences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
    assert.equal(refused.status, 400, refused.body);
    assert.match(refused.json<Envelope>().error.message, /settings: must be nested at most 8 levels deep/);
    const big = await post(d, '/api/v1/server/preferences', { settings: { blob: 'x'.repeat(70 * 1024) } });
    assert.equal(big.status, 400, big.body);
    assert.equal((await http(`${d.url}/api/v1/server/preferences`)).status, 200, 'reads still work');

    const set = await post(d, '/api/v1/server/preferences', { settings: { theme: 'dark', panes: { left: 30 } } });
    assert.equal(set.status, 200, set.body);
    const back = (await http(`${d.url}/api/v1/server/preferences`)).json<{ settings: unknown; repositories: unknown[] }>();
    assert.deepEqual(back.settings, { theme: 'dark', panes: { left: 30 } });
    assert.deepEqual(back.repositories, []);
    assert.equal(d.logs.find('request failed').length, 0);
  });

  test('the tool-input route answers the full input of a tool call, also for a task from before a restart', async () => {
    await using dir = await tempDir();
    const cacheDir = join(dir.path, 'cache');
    await mkdir(join(cacheDir, 'tasks'), { recursive: true });
    const id = '01jtoolinput0000000000000a';
    const sid = '5d1e6b4a-0c1f-4f39-9a51-2a3b1c7f0e11';
    const big = { file_path: 'big.txt', content: 'x'.repeat(20 * 1024) };
    const small = { command: 'ls -la' };
    const lines = [
      { type: 'caic_meta', version: 1, id, title: 'T', prompt: 'p', repos: [], harness: 'claude', model: 'sonnet', sudo: false, owner: '', ownerName: '', createdAt: '2026-11-01T00:00:00.000Z' },
      { type: 'assistant', message: { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_big', name: 'Write', input: big }] }, session_id: sid },
      { type: 'assistant', message: { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_small', name: 'Bash', input: small }] }, session_id: sid },
      { type: 'caic_state', state: 'failed' },
    ];
    await writeFile(join(cacheDir, 'tasks', `${id}.jsonl`), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    await using d = await startTestDaemon(LOCAL_ONLY, { dir, cacheDir });
    const tool = (toolUseId: string) => http(`${d.url}/api/v1/tasks/${id}/tool/${toolUseId}`);
    const first = await tool('toolu_big');
    assert.equal(first.status, 200, first.body);
    assert.deepEqual(first.json(), { toolUseId: 'toolu_big', input: big });
    assert.deepEqual((await tool('toolu_small')).json(), { toolUseId: 'toolu_small', input: small });
    const missing = await tool('toolu_nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json<Envelope>().error.code, 'NOT_FOUND');
  });
});

/** The edge's marks on an error answer: the JSON envelope with this code and the security headers. */
function assertEdgeAnswer(res: RawAnswer, status: number, code: string, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.body}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, what);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(res.headers['referrer-policy'], 'no-referrer', what);
  assert.equal((JSON.parse(res.body) as Envelope).error.code, code, what);
}

describe('requests refused before routing get the edge too', () => {
  const big = 'a'.repeat(20_000);
  const parserProbes: [string, string, number, string][] = [
    ['headers too large', `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${big}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['malformed header', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n', 400, 'BAD_REQUEST'],
    ['malformed method', 'F@O /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n', 400, 'BAD_REQUEST'],
    ['HTTP/2 preface on HTTP/1.1', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, 'BAD_REQUEST'],
    ['Content-Length with Transfer-Encoding', 'POST /api/v1/auth/logout HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'BAD_REQUEST'],
  ];
  const urlProbes: [string, string, RegExp][] = [
    ['bad percent-encoding', '/%c0%ae%c0%ae/etc/passwd', /etc|passwd|%c0/i],
    ['over-long path parameter', `/api/v1/tasks/${'z'.repeat(300)}`, /zzzz/],
  ];

  // Without a web UI build: with one, an over-long parameter under /api/ falls through to the UI's
  // wildcard route and so to the plain 404.
  test('parser errors, bad URLs and a missing Host: the envelope, the security headers, no echo', async () => {
    await using d = await startTestDaemon(LOCAL_ONLY, { webDir: null });
    for (const [what, raw, status, code] of parserProbes) {
      const res = await rawRequest(d.url, raw);
      assertEdgeAnswer(res, status, code, what);
      assert.ok(res.closedAfter, `${what}: connection closed`);
    }
    for (const [what, path, echo] of urlProbes) {
      const res = await rawRequest(d.url, `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      assertEdgeAnswer(res, 400, 'BAD_REQUEST', what);
      assert.doesNotMatch(res.body, echo, `${what}: the path is not repeated`);
    }
    const noHost = await rawRequest(d.url, 'GET /healthz HTTP/1.1\r\n\r\n');
    assertEdgeAnswer(noHost, 400, 'BAD_REQUEST', 'missing Host');
    assert.match(noHost.body, /missing Host header/);
    assert.equal((await rawRequest(d.url, 'GET /healthz HTTP/1.0\r\n\r\n')).status, 200, 'HTTP/1.0 needs no Host');
    // An expectation we do not know is ignored (RFC 9110 allows it) rather than answered by Node alone.
    const expect = await rawRequest(d.url, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nExpect: magic\r\n\r\n');
    assert.equal(expect.status, 200);
    assert.equal(expect.headers['x-content-type-options'], 'nosniff');
    // Answered outside routing, yet each gets its one access line (this daemon logs at debug).
    for (const [what, path] of urlProbes) {
      assert.equal(d.logs.find('request').filter((l) => l.path === path && l.status === 400).length, 1, `${what}: one access line`);
    }
    const lines = d.logs.find('request refused by the HTTP layer');
    assert.deepEqual(
      lines.map((l) => l.status),
      parserProbes.map(([, , status]) => status),
    );
    assert.ok(lines.every((l) => /^HPE_[A-Z0-9_]+$/.test(String(l.parserError)) && l.ip === '127.0.0.1' && l.level === 30));
  });

  test('the gate decides first: a refused client gets 403 whatever is wrong with its request', async () => {
    // The socket peer (127.0.0.1) is not allowed.
    {
      await using d = await startTestDaemon('[server]\nallow_origins = ["198.51.100.0/24"]\n', { webDir: null });
      for (const [what, raw] of parserProbes) assertEdgeAnswer(await rawRequest(d.url, raw), 403, 'FORBIDDEN', what);
      for (const [what, path] of urlProbes) {
        assertEdgeAnswer(await rawRequest(d.url, `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`), 403, 'FORBIDDEN', what);
      }
      assertEdgeAnswer(await rawRequest(d.url, 'GET /healthz HTTP/1.1\r\n\r\n'), 403, 'FORBIDDEN', 'missing Host');
    }
    // Behind a trusted proxy: the forwarded client decides where the request could be parsed.
    {
      await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\ntrusted_proxies = ["127.0.0.1"]\n', { webDir: null });
      for (const [what, path] of urlProbes) {
        const refused = await rawRequest(d.url, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n`);
        assertEdgeAnswer(refused, 403, 'FORBIDDEN', `${what}, refused client`);
        assert.match(refused.body, /origin 203\.0\.113\.9/);
        const allowed = await rawRequest(d.url, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 10.0.0.7\r\n\r\n`);
        assertEdgeAnswer(allowed, 400, 'BAD_REQUEST', `${what}, allowed client`);
      }
    }
  });
});

describe('how long a client may take', () => {
  const protectedUpload = (app: FastifyInstance) => {
    app.post('/api/v1/test/upload', (req) => ({ bytes: JSON.stringify(req.body).length }));
  };

  /** Headers announcing a body (within body_limit), then a few bytes of it. */
  const bigPost = (extra: string) =>
    `POST /api/v1/test/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n${extra}\r\n{"pad":"`;

  async function assertCutOff(url: string, extra: string, status: number, code: string): Promise<void> {
    const conn = await RawConnection.open(url);
    try {
      conn.write(bigPost(extra));
      conn.dripBytes();
      assertEdgeAnswer(await conn.answer(), status, code, extra || 'no extra headers');
      // The body was never read: the server hangs up instead of reading the rest of it.
      await conn.waitClosed(5_000);
    } finally {
      conn.close();
    }
  }

  test('a refused or unauthenticated client dripping a large body is disconnected after the refusal', async () => {
    {
      await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\ntrusted_proxies = ["127.0.0.1"]\n', { extend: protectedUpload });
      await assertCutOff(d.url, 'X-Forwarded-For: 203.0.113.9\r\n', 403, 'FORBIDDEN');
      await assertCutOff(d.url, 'Origin: https://evil.example\r\n', 403, 'FORBIDDEN');
    }
    {
      const login = `[server]\nallow_origins = ["local"]\nexternal_url = "https://caic.test"\n[github.oauth]\nclient_id = "${CLIENT.github.id}"\nclient_secret = "${CLIENT.github.secret}"\nallowed_users = ["octocat"]\n`;
      await using d = await startTestDaemon(login, { extend: protectedUpload });
      await assertCutOff(d.url, '', 401, 'UNAUTHORIZED');
      await assertCutOff(d.url, 'Authorization: Bearer not.a.jwt\r\n', 401, 'UNAUTHORIZED');
    }
  });

  test('request and header time are bounded (408, disconnected); event streams, long responses, are not', async () => {
    let opened!: (s: SseStream) => void;
    const streamOpened = new Promise<SseStream>((resolve) => (opened = resolve));
    await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\nrequest_timeout_seconds = 1\n', {
      extend: (app) => {
        protectedUpload(app);
        app.get('/api/v1/test/stream', (req, reply) => {
          opened(openSse(req, reply));
        });
      },
    });
    const server = d.daemon.app.server;
    assert.deepEqual([server.requestTimeout, server.headersTimeout], [1000, 1000]);

    const sse = new SseClient(`${d.url}/api/v1/test/stream`);
    const stream = await streamOpened;
    // Both slow clients start after the stream: when they are cut off, the stream is older than the limit.
    const slowBody = await RawConnection.open(d.url);
    const slowHeaders = await RawConnection.open(d.url);
    try {
      slowBody.write(bigPost(''));
      slowBody.dripBytes(100);
      slowHeaders.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      slowHeaders.dripBytes(100);
      for (const [conn, what] of [[slowBody, 'slow body'], [slowHeaders, 'slow headers']] as const) {
        const res = await conn.answer(10_000);
        assertEdgeAnswer(res, 408, 'REQUEST_TIMEOUT', what);
        assert.match(res.body, /not received in time/);
        await conn.waitClosed(5_000);
      }
      assert.ok(stream.send({ after: 'timeouts' }, { id: 1 }), 'the stream is still open');
      await sse.waitFor((events) => events.some((e) => e.id === 1), 5_000, 'the event sent after the timeouts');
      assert.equal(sse.status, 200);
    } finally {
      slowBody.close();
      slowHeaders.close();
      sse.close();
    }
  });

  test('defaults: 60 s for a request, 10 s for its headers', async () => {
    await using d = await startTestDaemon(LOCAL_ONLY);
    const server = d.daemon.app.server;
    assert.deepEqual([server.requestTimeout, server.headersTimeout], [60_000, 10_000]);
  });
});

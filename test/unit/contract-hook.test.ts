// The contract hook bites: a stand-in "caic" answering what the document does not say is reported, through fetch and node:http alike.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MCP_PATH } from '../../src/api/index.js';
import { OTHER_CONTRACTS, type Mismatch } from '../helpers/contract.js';
import { tempDir } from '../helpers/tmp.js';

const HOOK = fileURLToPath(new URL('../tools/contract-hook.js', import.meta.url));

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));

// Each path answers one way; the ones marked good are what caic documents and must stay unreported.
const answers: Record<string, (res: ServerResponse) => void> = {
  '/api/v1/server/config': (res) => json(res, 418, { error: { code: 'BAD_REQUEST', message: 'teapot' } }),
  '/api/v1/tasks': (res) => json(res, 200, [{ nope: 1 }]),
  '/api/v1/not-a-route': (res) => json(res, 200, {}),
  '/healthz': (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'),
  '/api/v1/tasks/t1/sudo-password': (res) => json(res, 200, { password: 'x' }),
  '/api/v1/tasks/t1/events': (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform' });
    res.write(': heartbeat\n\nid: 1\ndata: {"id":1,"ts":"2026-01-01T00:00:00Z","kind":"text"}\n\n');
    res.end('event: ready\ndata: {"late":true}\n\nevent: surprise\ndata: {}\n\n');
  },
  // An HTML error page where the document has none.
  '/api/v1/tasks/t3': (res) => res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><p>no</p>'),
  // Good answers.
  '/api/v1/auth/github/callback': (res) => res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><p>Sign-in failed</p>'),
  '/api/v1/auth/me': (res) => json(res, 404, { error: { code: 'NOT_FOUND', message: 'no session' } }),
  '/api/v1/tasks/t2/events': (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform' });
    res.end('id: 1\ndata: {"id":1,"ts":"2026-01-01T00:00:00Z","kind":"text","text":"hi"}\n\nevent: ready\ndata: {}\n\n');
  },
  '/api/v1/gone': (res) => json(res, 404, { error: { code: 'NOT_FOUND', message: 'not found' } }),
  // A stand-in's path (GitHub's API): not caic's, never checked.
  '/repos/o/r/pulls': (res) => json(res, 201, { whatever: true }),
};

test('the contract hook reports undocumented statuses, paths, bodies, headers and events, and nothing else', async () => {
  const server = createServer((req, res) => (answers[req.url ?? ''] ?? ((r) => json(r, 500, {})))(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await using dir = await tempDir('caic-contract-test-');
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A child process with the hook, as the runner starts test processes: half the paths by
    // fetch, half by node:http, so both chokepoints are exercised.
    const paths = Object.keys(answers);
    const script = `
      import { get } from 'node:http';
      const base = ${JSON.stringify(base)};
      const paths = ${JSON.stringify(paths)};
      const viaHttp = (p) => new Promise((resolve, reject) => get(base + p, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));
      for (const [i, p] of paths.entries()) {
        if (i % 2 === 0) await (await fetch(base + p)).text();
        else await viaHttp(p);
      }
      for (const p of paths) await viaHttp(p);
      for (const p of paths) await (await fetch(base + p)).text();
    `;
    const env: NodeJS.ProcessEnv = { ...process.env, CAIC_CONTRACT_DIR: dir.path };
    delete env.NODE_OPTIONS;
    await promisify(execFile)(process.execPath, ['--import', HOOK, '--input-type=module', '-e', script], { env });
    const seen = readdirSync(dir.path).flatMap((f) =>
      readFileSync(`${dir.path}/${f}`, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Mismatch),
    );
    const byPath = new Map<string, Mismatch[]>();
    for (const m of seen) byPath.set(m.path, [...(byPath.get(m.path) ?? []), m]);
    const problems = (p: string) => (byPath.get(p) ?? []).flatMap((m) => m.problems).join('\n');
    // Each bad answer was seen three times (fetch and node:http) and reported each time.
    for (const p of ['/api/v1/server/config', '/api/v1/tasks', '/api/v1/not-a-route', '/healthz', '/api/v1/tasks/t1/sudo-password', '/api/v1/tasks/t1/events', '/api/v1/tasks/t3']) {
      assert.equal(byPath.get(p)?.length, 3, `${p}: ${JSON.stringify(byPath.get(p))}`);
    }
    assert.match(problems('/api/v1/server/config'), /status 418 is not documented for serverConfig/);
    assert.match(problems('/api/v1/tasks'), /body: .*must have required property 'id'/);
    assert.match(problems('/api/v1/not-a-route'), /undocumented path: GET \/api\/v1\/not-a-route answered 200/);
    assert.match(problems('/healthz'), /content-type "text\/plain" is not one of application\/json/);
    assert.match(problems('/api/v1/tasks/t1/sudo-password'), /header Cache-Control is missing/);
    assert.match(problems('/api/v1/tasks/t3'), /content-type "text\/html; charset=utf-8" is not one of application\/json/);
    const events = problems('/api/v1/tasks/t1/events');
    assert.match(events, /event 1 \(message\) \(EventText\): .*must have required property 'text'/);
    assert.match(events, /event 2 \(ready\) \(SseReady\): .*must NOT have additional properties/);
    assert.match(events, /event 3: undocumented event name "surprise"/);
    for (const good of ['/api/v1/auth/github/callback', '/api/v1/auth/me', '/api/v1/tasks/t2/events', '/api/v1/gone', '/repos/o/r/pulls']) {
      assert.equal(byPath.get(good), undefined, `${good} is as documented (or not caic's): ${JSON.stringify(byPath.get(good))}`);
    }
  } finally {
    server.close();
  }
});

test('the MCP endpoint is left to its own specification, at the path src/api names', () => {
  assert.ok(OTHER_CONTRACTS.includes(MCP_PATH));
});

// The web UI's SSE client against a real local server: parsing, Last-Event-ID on reconnect after
// a dropped connection, fatal statuses, idle detection, and the API client's URLs and errors.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ApiError, createClient, routeUrl } from '../../web/src/lib/api.js';
import { backoffMs, openStream, SseParser, type SseMessage } from '../../web/src/lib/sse.js';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('the parser handles split chunks, CRLF, comments, multi-line data and named events', () => {
  const p = new SseParser();
  const got: SseMessage[] = [];
  for (const chunk of [': ok\n\nid: 1\nda', 'ta: {"a":1}\n\n', 'event: ready\r\ndata: {}\r\n\r\n', 'data: x\ndata: y\n\n']) got.push(...p.push(chunk));
  assert.deepEqual(got, [
    { id: '1', event: 'message', data: '{"a":1}' },
    { event: 'ready', data: '{}' },
    { event: 'message', data: 'x\ny' },
  ]);
});

test('backoff grows exponentially within its bounds', () => {
  assert.equal(backoffMs(0, 100, 1000, () => 0), 100);
  assert.equal(backoffMs(3, 100, 1000, () => 1), 800);
  assert.equal(backoffMs(10, 100, 1000, () => 1), 1000);
});

test('a dropped stream reconnects with Last-Event-ID and gets every event once', async () => {
  const seen: (string | undefined)[] = [];
  let connections = 0;
  const srv = await serve((req, res) => {
    connections++;
    const after = Number(req.headers['last-event-id'] ?? 0);
    seen.push(req.headers['last-event-id'] as string | undefined);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // The first connection sends 1..5 then dies mid-frame; the next resumes after the last id.
    if (connections === 1) {
      res.write('id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: 3\ndata: 3\n\nid: 4\ndata: 4\n\nid: 5\ndata: 5\n\nid: 6\nda');
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    for (let i = after + 1; i <= 10; i++) res.write(`id: ${i}\ndata: ${i}\n\n`);
    res.write('event: ready\ndata: {}\n\n');
  });
  try {
    const ids: number[] = [];
    const states: string[] = [];
    await new Promise<void>((resolve) => {
      const s = openStream({
        url: `${srv.url}/events`,
        minBackoffMs: 10,
        maxBackoffMs: 20,
        onState: (st) => states.push(st),
        onMessage: (m) => {
          if (m.event === 'ready') {
            s.close();
            resolve();
          } else ids.push(Number(m.data));
        },
      });
    });
    assert.deepEqual(ids, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(seen, [undefined, '5']);
    assert.ok(states.includes('open') && states.at(-1) === 'closed');
  } finally {
    await srv.close();
  }
});

test('401/403/404 and other final 4xx stop the stream with the server’s message; a silent server is reconnected', async () => {
  let n = 0;
  const srv = await serve((req, res) => {
    n++;
    if (req.url === '/bad-id') {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'BAD_REQUEST', message: 'params/id: not a task id' } }));
      return;
    }
    if (req.url === '/gone') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no task abc' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': ok\n\n'); // then silence
  });
  try {
    const fatal = await new Promise<string>((resolve) => openStream({ url: `${srv.url}/gone`, onMessage: () => undefined, onFatal: (_s, m) => resolve(m) }));
    assert.equal(fatal, 'no task abc');
    const bad = await new Promise<[number, string]>((resolve) => openStream({ url: `${srv.url}/bad-id`, onMessage: () => undefined, onFatal: (s, m) => resolve([s, m]) }));
    assert.deepEqual(bad, [400, 'params/id: not a task id']);
    const before = n;
    await new Promise<void>((resolve) => {
      const s = openStream({
        url: `${srv.url}/quiet`,
        idleMs: 100,
        minBackoffMs: 10,
        maxBackoffMs: 10,
        onMessage: () => undefined,
        onState: () => {
          if (n - before >= 3) {
            s.close();
            resolve();
          }
        },
      });
    });
  } finally {
    await srv.close();
  }
});

test('the API client fills paths from the route table and turns error envelopes into ApiError', async () => {
  assert.equal(routeUrl('/api/v1/tasks/:id/tool/:toolUseId', { id: 'a b', toolUseId: 't/1' }), '/api/v1/tasks/a%20b/tool/t%2F1');
  assert.equal(routeUrl('/api/v1/server/repos/branches', {}, { repo: 'x/y', skip: undefined }), '/api/v1/server/repos/branches?repo=x%2Fy');
  const requests: string[] = [];
  const srv = await serve((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url} ${body}`);
      if (req.url === '/api/v1/tasks/abcdefghij/input') res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'CONFLICT', message: 'no live session' }, details: { state: 'stopped' } }));
      else res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
  });
  try {
    let unauthorized = 0;
    const api = createClient({ base: srv.url, onUnauthorized: () => unauthorized++ });
    assert.deepEqual(await api('listTasks'), []);
    await assert.rejects(api('taskInput', { params: { id: 'abcdefghij' }, body: { prompt: { text: 'hi' } } }), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 409);
      assert.equal(err.code, 'CONFLICT');
      assert.equal(err.message, 'no live session');
      assert.deepEqual(err.details, { state: 'stopped' });
      return true;
    });
    assert.deepEqual(requests, ['GET /api/v1/tasks ', 'POST /api/v1/tasks/abcdefghij/input {"prompt":{"text":"hi"}}']);
    assert.equal(unauthorized, 0);
  } finally {
    await srv.close();
  }
});

test('a GET that fails without an answer is tried again; a POST or an aborted GET is not', async () => {
  const calls: string[] = [];
  let failures = 0;
  // A fetch that rejects like a browser whose network changed under the request.
  const flaky: typeof globalThis.fetch = (input, init) => {
    calls.push(`${init?.method} ${input as string}`);
    if (failures-- > 0) return Promise.reject(new TypeError('Failed to fetch'));
    return Promise.resolve(new Response('[]', { status: 200, headers: { 'content-type': 'application/json' } }));
  };
  const api = createClient({ fetch: flaky, retryDelaysMs: [1, 1] });

  failures = 2;
  assert.deepEqual(await api('listTasks'), []);
  assert.deepEqual(calls.splice(0), ['GET /api/v1/tasks', 'GET /api/v1/tasks', 'GET /api/v1/tasks']);

  failures = 3; // more than the retries: the error reaches the caller
  await assert.rejects(api('listTasks'), TypeError);
  assert.equal(calls.splice(0).length, 3);

  // An error that is not a network failure (a wrapping fetch's own verdict) is not repeated.
  const refusing = createClient({ fetch: () => { calls.push('GET refused'); return Promise.reject(new Error('the pairing has ended')); }, retryDelaysMs: [1, 1] });
  await assert.rejects(refusing('listTasks'), /the pairing has ended/);
  assert.deepEqual(calls.splice(0), ['GET refused']);

  failures = 1; // a POST may have reached the server: never repeated
  await assert.rejects(api('taskInput', { params: { id: 'abcdefghij' }, body: { prompt: { text: 'hi' } } }), TypeError);
  assert.deepEqual(calls.splice(0), ['POST /api/v1/tasks/abcdefghij/input']);

  failures = 1;
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(api('listTasks', undefined, { signal: ctl.signal }));
  assert.equal(calls.splice(0).length, 1, 'an aborted GET is not asked again');
});

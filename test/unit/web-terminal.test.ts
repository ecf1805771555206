// The web terminal's connection logic (web/src/lib/terminal.ts) against a real local WebSocket server
// with Node's own WebSocket as the browser's: reconnect after a cut with backoff, no reconnect after
// a final close, refusals asked of the probe; and the extra keys' bytes.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { TERMINAL_CLOSE } from '../../src/api/index.js';
import { finalClose, keyBytes, refusalOf, TerminalConnection, terminalUrl, withCtrl, type SocketLike, type TerminalState } from '../../web/src/lib/terminal.js';
import { waitUntil } from '../helpers/wait.js';

async function serve(onSocket: (ws: ServerSocket, n: number) => void): Promise<{ url: string; server: Server; accept: { on: boolean }; close(): Promise<void> }> {
  const server = createServer((_req, res) => res.writeHead(400).end());
  const wss = new WebSocketServer({ noServer: true });
  const accept = { on: true };
  let n = 0;
  server.on('upgrade', (req, socket, head) => {
    if (!accept.on) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, ++n));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/t`,
    server,
    accept,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function connect(url: string, probe: () => Promise<{ message: string } | null> = () => Promise.resolve(null)) {
  const states: TerminalState[] = [];
  const data: string[] = [];
  const conn = new TerminalConnection({
    url: () => url,
    open: (u) => new WebSocket(u) as unknown as SocketLike,
    probe,
    onData: (b) => data.push(new TextDecoder().decode(b)),
    onState: (s) => states.push(s),
    minBackoffMs: 10,
    maxBackoffMs: 50,
    random: () => 0.5,
  });
  return { conn, states, data };
}

test('bytes both ways, resize as JSON; a cut reconnects with a visible state; a final close does not', async () => {
  const received: { n: number; data: string; binary: boolean }[] = [];
  const sockets: ServerSocket[] = [];
  const s = await serve((ws, n) => {
    sockets.push(ws);
    ws.on('message', (d: Buffer, binary) => received.push({ n, data: d.toString(), binary }));
    ws.send(Buffer.from(`hello ${n}`), { binary: true });
  });
  try {
    const c = connect(s.url);
    await waitUntil(() => c.data.join(''), (d) => d === 'hello 1', { what: 'the first output' });
    assert.equal(c.conn.state.kind, 'open');
    assert.ok(c.conn.send('ls\r'));
    c.conn.resize(100, 30);
    await waitUntil(() => received.length, (n) => n === 2, { what: 'input and resize' });
    assert.deepEqual(received, [
      { n: 1, data: 'ls\r', binary: true },
      { n: 1, data: '{"type":"resize","cols":100,"rows":30}', binary: false },
    ]);
    // A network cut (no close frame): reconnecting, then a second socket.
    sockets[0]!.terminate();
    await waitUntil(() => c.data.join(''), (d) => d.endsWith('hello 2'), { what: 'the second connection' });
    assert.ok(c.states.some((st) => st.kind === 'reconnecting'), 'the reconnecting state was shown');
    // The task ended: final, no third socket.
    sockets[1]!.send(JSON.stringify({ type: 'closing', reason: 'task_ended', message: 'the task stopped' }));
    sockets[1]!.close(TERMINAL_CLOSE.taskEnded, 'task_ended');
    await waitUntil(() => c.conn.state, (st) => st.kind === 'closed', { what: 'the final close' });
    assert.deepEqual(c.conn.state, { kind: 'closed', end: 'task_ended', message: 'The task stopped: its container is gone.' });
    assert.equal(c.conn.send('x'), false, 'nothing is sent once closed');
    assert.equal(sockets.length, 2);
    // A person may still ask for a new shell.
    c.conn.reconnectNow();
    await waitUntil(() => c.data.join(''), (d) => d.endsWith('hello 3'), { what: 'a new shell on request' });
    c.conn.close();
  } finally {
    await s.close();
  }
});

test('an upgrade refused before it opens asks the probe: a refusal is final, a null answer retries', async () => {
  const s = await serve((ws) => ws.send(Buffer.from('up'), { binary: true }));
  try {
    s.accept.on = false;
    let probes = 0;
    const refused = connect(s.url, () => (probes++, Promise.resolve({ message: 'No such task.' })));
    await waitUntil(() => refused.conn.state, (st) => st.kind === 'closed', { what: 'the refusal' });
    assert.deepEqual(refused.conn.state, { kind: 'closed', end: 'refused', message: 'No such task.' });
    assert.equal(probes, 1);
    // Unreachable for a while (the probe says: try again), then reachable.
    const retried = connect(s.url, () => Promise.resolve(null));
    await waitUntil(() => retried.states.filter((st) => st.kind === 'reconnecting').length, (n) => n >= 2, { what: 'two retries' });
    s.accept.on = true;
    await waitUntil(() => retried.conn.state.kind, (k) => k === 'open', { what: 'the connection once the server accepts' });
    retried.conn.close();
  } finally {
    await s.close();
  }
});

test('URLs, final closes, refusals and the extra keys', () => {
  assert.equal(terminalUrl({ protocol: 'https:', host: 'caic.test' }, 'abc', 80, 24), 'wss://caic.test/api/v1/tasks/abc/terminal?cols=80&rows=24');
  assert.equal(terminalUrl({ protocol: 'http:', host: '127.0.0.1:2242' }, 'abc', 1, 2), 'ws://127.0.0.1:2242/api/v1/tasks/abc/terminal?cols=1&rows=2');
  assert.equal(finalClose(1006), null);
  assert.equal(finalClose(1001), null);
  assert.equal(finalClose(TERMINAL_CLOSE.exit)?.end, 'exit');
  assert.equal(finalClose(TERMINAL_CLOSE.idle, 'closed after 1800 s without input')?.end, 'idle');
  assert.equal(refusalOf(400, ''), null, 'the route answered: the upgrade itself failed, try again');
  assert.equal(refusalOf(502, ''), null);
  assert.match(refusalOf(401, '')!.message, /sign in/i);
  assert.equal(refusalOf(409, 'task x is stopped')!.message, 'task x is stopped');
  assert.equal(withCtrl('c'), '\x03');
  assert.equal(withCtrl('C'), '\x03');
  assert.equal(withCtrl('['), '\x1b');
  assert.equal(withCtrl(' '), '\x00');
  assert.equal(withCtrl('1'), '1');
  assert.equal(withCtrl('ab'), 'ab', 'a paste is not a key');
  assert.equal(keyBytes('ArrowUp'), '\x1b[A');
  assert.equal(keyBytes('ArrowUp', true), '\x1bOA');
  assert.equal(keyBytes('Escape'), '\x1b');
  assert.equal(keyBytes('Tab'), '\t');
});

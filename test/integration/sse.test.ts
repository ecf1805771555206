// The SSE writer over real sockets: a client that stops reading is cut off once its unsent bytes
// pass the bound, while a client that keeps reading gets every frame, in order.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import Fastify from 'fastify';
import { installSse, openSse, sseFrame, type SseStream } from '../../src/http/sse.js';
import { SseClient } from '../helpers/sse.js';
import { waitUntil } from '../helpers/wait.js';

test('a slow SSE client is disconnected; the others keep streaming', async () => {
  const app = Fastify();
  installSse(app);
  const streams: SseStream[] = [];
  app.get('/events', (req, reply) => {
    streams.push(openSse(req, reply, { maxPendingBytes: 1024 * 1024 }));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  try {
    // The slow one: a raw socket that sends its request and never reads the answer.
    const slow = connect(port, '127.0.0.1');
    await once(slow, 'connect');
    slow.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
    slow.pause();
    const fast = new SseClient(`http://127.0.0.1:${port}/events`);
    await waitUntil(() => streams.length, (n) => n === 2, { timeoutMs: 10_000, what: 'both streams open' });

    // 64 KiB frames until the kernel buffers of the slow socket are full and its backlog passes
    // the bound. Sending is synchronous: the publisher never waits for a client; the test lets the
    // reading client catch up every 4 frames, so only the one that does not read falls behind.
    const payload = 'x'.repeat(64 * 1024);
    let sent = 0;
    const deadline = Date.now() + 30_000;
    while (!streams.some((s) => s.closed) && Date.now() < deadline) {
      sent++;
      const frame = sseFrame({ n: sent, payload }, { id: sent });
      for (const s of streams) s.sendFrame(frame);
      if (sent % 4 === 0) await fast.waitFor((ev) => ev.length >= sent, 30_000, `frame ${sent} at the reading client`);
    }
    const [slowStream, fastStream] = streams as [SseStream, SseStream];
    assert.ok(slowStream.closed, `the slow client was cut off (after ${sent} frames)`);
    assert.ok(!fastStream.closed, 'the reading client was not');
    for (let i = 0; i < 5; i++) fastStream.sendFrame(sseFrame({ n: ++sent, payload: '' }, { id: sent }));
    await fast.waitFor((ev) => ev.length === sent, 30_000, 'every frame reaches the reading client');
    assert.deepEqual(
      fast.events.map((e) => e.id),
      Array.from({ length: sent }, (_, i) => i + 1),
    );
    fast.close();
    slow.destroy();
  } finally {
    await app.close();
  }
});

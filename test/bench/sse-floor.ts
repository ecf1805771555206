// The floor of bench:sse: the least a server can do to fan events out to SSE clients — node:http,
// one `res.write` of each frame to every client the moment it exists, no batching, no history.
// Started by bench:sse as its own process: `node sse-floor.js <port> <frame template>`; the
// template is one of caic's own delta frames with `@ID@` and `@TEXT@` where the id and text go.
import { createServer, type ServerResponse } from 'node:http';

const port = Number(process.argv[2]);
const template = Buffer.from(process.argv[3] ?? '', 'base64').toString('utf8');
const clients = new Set<ServerResponse>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The same pacing as the fake agent's FAKE_LONG: event i is due at t0 + (i + 1) / rate. */
async function stream(count: number, rate: number): Promise<void> {
  const interval = 1000 / rate;
  const t0 = Date.now();
  for (let i = 0; i < count; i++) {
    const frame = template.replace('@ID@', String(i + 1)).replace('@TEXT@', `${i}@${Date.now()} `);
    for (const res of clients) res.write(frame);
    const due = t0 + (i + 1) * interval;
    if (due > Date.now()) await sleep(due - Date.now());
  }
}

createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('event: ready\ndata: {}\n\n');
    clients.add(res);
    res.on('close', () => clients.delete(res));
    return;
  }
  if (url.pathname === '/start') {
    void stream(Number(url.searchParams.get('n')), Number(url.searchParams.get('rate')));
    res.end('{}');
    return;
  }
  res.writeHead(404).end();
}).listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));

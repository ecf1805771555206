import { fork } from 'node:child_process';
import Fastify from 'fastify';
import autocannon from 'autocannon';
const variant = process.argv[3];
if (process.argv[2] === 'serve') {
  const app = Fastify({ logger: false });
  if (variant.includes('req')) app.addHook('onRequest', (req, reply, done) => done());
  if (variant.includes('res')) app.addHook('onResponse', (req, reply, done) => done());
  if (variant.includes('hdr')) app.addHook('onRequest', (req, reply, done) => { reply.headers({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' }); done(); });
  app.get('/x', () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send(app.server.address().port);
  process.on('message', (m) => m === 'cpu' && process.send(process.cpuUsage()));
} else {
  for (const round of [1, 2]) for (const v of ['bare', 'req', 'req+res', 'hdr', 'req+res+hdr']) {
    const p = fork(new URL(import.meta.url).pathname, ['serve', v], { execPath: 'taskset', execArgv: ['-c', '1', process.execPath] });
    const port = await new Promise((r) => p.once('message', r));
    const cpu = () => new Promise((r) => { p.once('message', (u) => r((u.user + u.system) / 1e6)); p.send('cpu'); });
    await autocannon({ url: `http://127.0.0.1:${port}/x`, connections: 10, duration: 2 });
    const c0 = await cpu(); const res = await autocannon({ url: `http://127.0.0.1:${port}/x`, connections: 10, duration: 5 }); const c1 = await cpu();
    console.log(round, v.padEnd(12), Math.round(res.requests.average), 'req/s', Math.round(res.requests.total / (c1 - c0)), 'per CPU-s');
    p.kill();
  }
}

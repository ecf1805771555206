import { fork } from 'node:child_process';
import Fastify from 'fastify';
import autocannon from 'autocannon';
const variants = ['bare', 'req', 'hdr', 'rawhdr', 'onehdr'];
if (process.argv[2] === 'serve') {
  const v = process.argv[3];
  const app = Fastify({ logger: false });
  if (v.includes('req')) app.addHook('onRequest', (req, reply, done) => done());
  if (v === 'req2') app.addHook('onRequest', (req, reply, done) => done());
  if (v.includes('res')) app.addHook('onResponse', (req, reply, done) => done());
  if (v === 'hdr') app.addHook('onRequest', (req, reply, done) => { reply.headers({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' }); done(); });
  if (v === 'rawhdr') app.addHook('onRequest', (req, reply, done) => { const r = reply.raw; r.setHeader('x-content-type-options', 'nosniff'); r.setHeader('referrer-policy', 'no-referrer'); r.setHeader('x-frame-options', 'DENY'); done(); });
  if (v === 'onehdr') app.addHook('onRequest', (req, reply, done) => { reply.header('x-content-type-options', 'nosniff'); done(); });
  app.get('/x', () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send(app.server.address().port);
} else {
  const servers = {};
  for (const v of variants) {
    const p = fork(new URL(import.meta.url).pathname, ['serve', v], { execPath: 'taskset', execArgv: ['-c', '1', process.execPath] });
    servers[v] = { p, port: await new Promise((r) => p.once('message', r)) };
  }
  const run = async (v, d) => (await autocannon({ url: `http://127.0.0.1:${servers[v].port}/x`, connections: 10, duration: d })).requests.average;
  for (const v of variants) await run(v, 2);
  const ratios = Object.fromEntries(variants.map((v) => [v, []]));
  for (let round = 0; round < 8; round++) {
    const base = await run('bare', 2);
    for (const v of variants.slice(1)) ratios[v].push((await run(v, 2)) / base);
  }
  const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  for (const v of variants.slice(1)) console.log(v.padEnd(12), med(ratios[v]).toFixed(3));
  for (const v of variants) servers[v].p.kill();
}

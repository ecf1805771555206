// npm run bench:preview — throughput of a 50 MiB download from a dev server in a task container
// (FAKE_SERVE's /bytes), through the preview proxy (browser → caic's listener → preview host →
// the task's SSH connection) and through forwardOut alone (the same SSH connection, no proxy), in
// alternating pairs; MB/s side by side and their ratio.
import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { PreviewOpenResp, Task } from '../../src/api/index.js';
import { taskEnv } from '../helpers/task-env.js';
import { waitUntil } from '../helpers/wait.js';
import { machine, median, ratios, spread, summary } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MB = Number(process.env.BENCH_MB ?? 50);

/** Bytes/s of one GET read to the end; fails unless 200 with every byte. */
function download(opts: { url?: string; host?: string; cookie?: string; connection?: Duplex }, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const onRes = (res: IncomingMessage) => {
      let n = 0;
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => {
        if (res.statusCode !== 200 || n !== MB << 20) return reject(new Error(`status ${res.statusCode}, ${n} bytes`));
        resolve(n / ((performance.now() - started) / 1000));
      });
      res.on('error', reject);
    };
    const headers: Record<string, string> = { ...(opts.host ? { host: opts.host } : {}), ...(opts.cookie ? { cookie: opts.cookie } : {}) };
    const req = opts.connection
      ? request({ path, headers: { host: 'localhost' }, createConnection: () => opts.connection! }, onRes)
      : request(`${opts.url}${path}`, { headers }, onRes);
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  await using env = await taskEnv();
  const task = (await env.api('POST', '/api/v1/tasks', { repos: [], harness: 'fake', prompt: { text: 'FAKE_SERVE 3000' } })).json<Task>();
  await env.waitState(task.id, 'waiting');
  await waitUntil(
    async () => (await env.api('GET', `/api/v1/tasks/${task.id}/previews`)).json<{ ports: { port: number }[] }>(),
    (p) => p.ports.some((x) => x.port === 3000),
    { timeoutMs: 30_000, what: 'port 3000' },
  );
  const base = new URL(env.d.url);
  const opened = (await env.api('POST', `/api/v1/tasks/${task.id}/previews/3000/open`, undefined, { host: `localhost:${base.port}` })).json<PreviewOpenResp>();
  const link = new URL(opened.url);
  const cookie = await new Promise<string>((resolve, reject) => {
    request(`${env.d.url}${link.pathname}${link.search}`, { headers: { host: link.host } }, (res) => {
      res.resume();
      const c = res.headers['set-cookie']?.[0]?.split(';')[0];
      if (res.statusCode === 302 && c) resolve(c);
      else reject(new Error(`open link: ${res.statusCode}`));
    })
      .on('error', reject)
      .end();
  });
  const ws = env.d.daemon.tasks.workspace(task.id, null);
  const path = `/bytes?mb=${MB}`;
  const proxied = () => download({ url: env.d.url, host: link.host, cookie }, path);
  const direct = async () => download({ connection: await ws.forward(3000) }, path);
  // Warm-up: the SSH connection's windows and both code paths.
  await proxied();
  await direct();
  const viaProxy: number[] = [];
  const viaForward: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternately first, so machine noise hits both alike.
    if (i % 2) viaForward.push(await direct());
    viaProxy.push(await proxied());
    if (!(i % 2)) viaForward.push(await direct());
  }
  const mbs = (xs: number[]) => xs.map((x) => x / (1 << 20));
  console.log(machine());
  console.log(`${MB} MiB download, ${RUNS} runs each (median [min–max]):`);
  console.log(`  preview proxy   ${spread(mbs(viaProxy), 1)} MB/s`);
  console.log(`  forwardOut only ${spread(mbs(viaForward), 1)} MB/s`);
  console.log(`  proxy/forward   ${spread(ratios(viaProxy, viaForward), 2)}`);
  summary('preview', { proxy_mbs: spread(mbs(viaProxy), 1), forward_mbs: spread(mbs(viaForward), 1), ratio: median(ratios(viaProxy, viaForward)) });
}

await main();

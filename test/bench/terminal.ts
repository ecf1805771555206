// npm run bench:terminal — keystroke echo round trip of the task terminal (a `ws` client → the
// daemon's WebSocket route → the task's pooled SSH connection → bash's readline in the container
// and back) against a direct ssh2 shell to the same container (its published 127.0.0.1 port, the
// daemon's client key), p50/p99 of each in one run. Batches of 50 alternate A B B A so drift hits
// both; BENCH_SAMPLES (default 1,000) keystrokes in all, half on each path.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import WebSocket from 'ws';
import { taskEnv } from '../helpers/task-env.js';
import { machine, percentile, summary } from './lib.js';

const { Client } = ssh2;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1000);
const BATCH = 50;

/** One terminal path: write a key, be told when bytes come back. */
interface Path {
  name: string;
  write(data: string): void;
  onData(fn: (s: string) => void): void;
  close(): void;
}

/** A bash prompt at the end of the output (`$ `, maybe followed by terminal escape sequences). */
// eslint-disable-next-line no-control-regex -- escape sequences are what a terminal prints
const PROMPT_END = /\$ (\x1b\[[0-9;?]*[A-Za-z])*$/;

/** Output held until someone listens (nothing arriving between two listeners is lost). */
function sink(): { push: (s: string) => void; onData: (fn: (s: string) => void) => void } {
  let held = '';
  let listener: ((s: string) => void) | null = null;
  return {
    push: (s) => {
      if (listener) listener(s);
      else held += s;
    },
    onData: (fn) => {
      listener = fn;
      if (held) {
        const s = held;
        held = '';
        fn(s);
      }
    },
  };
}

/** Round trips of single keystrokes at a bash prompt: each `x` is echoed by readline; a batch ends as a comment line. */
async function measure(path: Path, n: number, into: number[]): Promise<void> {
  let waiter: ((s: string) => void) | null = null;
  // Output that arrives with no one waiting (the end of a prompt) is dropped.
  path.onData((s) => waiter?.(s));
  const until = (test: (seen: string) => boolean) =>
    new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`${path.name}: no echo within 10 s (saw ${JSON.stringify(seen.slice(-100))})`)), 10_000);
      waiter = (s) => {
        seen += s;
        if (test(seen)) {
          clearTimeout(timer);
          waiter = null;
          resolve();
        }
      };
    });
  path.write('#');
  await until((s) => s.includes('#'));
  for (let i = 0; i < n; i++) {
    const echoed = until((s) => s.includes('x'));
    const t0 = process.hrtime.bigint();
    path.write('x');
    await echoed;
    into.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const prompt = until((s) => PROMPT_END.test(s));
  path.write('\r');
  await prompt;
}

async function main(): Promise<void> {
  console.log(machine());
  await using env = await taskEnv({ files: 1 });
  const task = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_DEMO bench' } });
  await env.waitState(task.id, 'waiting');
  const info = await env.container(task.id);
  const port = info?.Ports.find((p) => p.PrivatePort === 22)?.PublicPort;
  if (!port) throw new Error('the task container has no published SSH port');
  const privateKey = await readFile(join(env.d.configDir, 'ssh', 'id_ed25519'));

  // A: the task terminal.
  const ws = new WebSocket(`${env.d.url.replace(/^http/, 'ws')}/api/v1/tasks/${task.id}/terminal?cols=200&rows=50`);
  // Listening before `open`: frames that came with the 101 answer are emitted right after it.
  const wsOut = sink();
  ws.on('message', (d: Buffer, binary: boolean) => binary && wsOut.push(d.toString('utf8')));
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  const viaWs: Path = {
    name: 'websocket',
    write: (d) => ws.send(Buffer.from(d), { binary: true }),
    onData: wsOut.onData,
    close: () => ws.close(),
  };
  // B: a direct ssh2 shell to the same container.
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    // As the daemon's pooled connection does: keystrokes are not held back by Nagle's algorithm.
    client.once('ready', () => (client.setNoDelay(true), resolve())).once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: 'user', privateKey, hostVerifier: () => true });
  });
  const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
    client.shell({ cols: 200, rows: 50, term: 'xterm-256color' }, (err, ch) => (err ? reject(err) : resolve(ch))),
  );
  const sshOut = sink();
  channel.on('data', (d: Buffer) => sshOut.push(d.toString('utf8')));
  const direct: Path = {
    name: 'ssh2',
    write: (d) => channel.write(d),
    onData: sshOut.onData,
    close: () => {
      channel.close();
      client.end();
    },
  };
  // Both at a prompt before measuring.
  for (const p of [viaWs, direct]) {
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${p.name}: no prompt within 15 s (saw ${JSON.stringify(seen.slice(-200))})`)), 15_000);
      p.onData((s) => {
        seen += s;
        if (PROMPT_END.test(seen)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  const a: number[] = [];
  const b: number[] = [];
  const warm: number[] = [];
  await measure(viaWs, 20, warm);
  await measure(direct, 20, warm);
  for (let done = 0; done < SAMPLES; done += 2 * BATCH) {
    const order = (done / (2 * BATCH)) % 2 === 0 ? [viaWs, direct] : [direct, viaWs];
    for (const p of order) await measure(p, BATCH, p === viaWs ? a : b);
  }
  viaWs.close();
  direct.close();

  const row = (name: string, xs: number[]) => `${name.padEnd(28)} p50 ${percentile(xs, 50).toFixed(2)} ms   p99 ${percentile(xs, 99).toFixed(2)} ms   (${xs.length} keystrokes)`;
  console.log(row('WebSocket + SSH (terminal)', a));
  console.log(row('direct ssh2 shell', b));
  const r50 = percentile(a, 50) / percentile(b, 50);
  const r99 = percentile(a, 99) / percentile(b, 99);
  console.log(`ratio p50 ${r50.toFixed(2)}×, p99 ${r99.toFixed(2)}× (target ≤ 1.5×)`);
  summary('terminal', {
    ws_p50_ms: percentile(a, 50),
    ws_p99_ms: percentile(a, 99),
    ssh_p50_ms: percentile(b, 50),
    ssh_p99_ms: percentile(b, 99),
    ratio_p50: r50,
    ratio_p99: r99,
  });
}

await main();

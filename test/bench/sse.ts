// npm run bench:sse — 1,000 SSE subscribers on one task while the fake agent streams 200 events/s:
// delivery latency from the agent writing an event (inside the container) to each client
// receiving it, and the daemon's CPU; against a floor in the same run: a minimal node:http SSE
// server (sse-floor.ts) sending the same frames at the same pace to the same 1,000 clients.
// Both servers run as their own process on CPU 1, the clients in this process on CPU 0; rounds
// alternate A B B A so drift hits both alike.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Dockerode from 'dockerode';
import type { Task } from '../../src/api/index.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { machine, median, percentile, processCpu, ratios, rssMb, sleep, spread, summary } from './lib.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** The daemon to measure; BENCH_CLI points at another build (an A/B of two versions). */
const CLI = process.env.BENCH_CLI ?? fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('./sse-floor.js', import.meta.url));
const PINNED = cpus().length >= 2 && spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;

/** `node args…` on CPU 1 when pinning works. */
function spawnPinned(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(PINNED ? 'taskset' : process.execPath, [...(PINNED ? ['-c', '1', process.execPath] : []), ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
}

function waitForLine(p: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => d.toString().includes(text) && resolve());
    p.once('exit', (code) => reject(new Error(`process exited (${code}) before "${text}"`)));
  });
}

interface RunResult {
  latencies: Float64Array;
  seconds: number;
  serverCpu: number;
  clientCpu: number;
  /** One delta frame as it arrived (the floor's template). */
  frame: string;
}

/** Connects the clients, starts the stream once all are ready, times every stamped delta. */
async function runClients(url: string, serverPid: number, start: () => Promise<void>): Promise<RunResult> {
  const latencies = new Float64Array(CLIENTS * EVENTS);
  let samples = 0;
  let ready = 0;
  let frame = '';
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const done: Promise<void>[] = [];
  for (let c = 0; c < CLIENTS; c++) {
    done.push(
      new Promise<void>((resolve) => {
        const req = request(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
          res.setEncoding('utf8');
          // Cheap on purpose: the clients share a core and must not become the bottleneck.
          const stamp = /"textDelta","text":"\d+@(\d+) "/g;
          let rest = '';
          let got = 0;
          let isReady = false;
          res.on('data', (chunk: string) => {
            const now = Date.now();
            const text = rest + chunk;
            if (!isReady && text.includes('event: ready')) {
              isReady = true;
              ready++;
            }
            stamp.lastIndex = 0;
            let end = 0;
            for (let m = stamp.exec(text); m; m = stamp.exec(text)) {
              if (!frame && c === 0) {
                const from = text.lastIndexOf('\n\n', m.index) + 2;
                frame = text.slice(from, text.indexOf('\n\n', m.index) + 2);
              }
              latencies[samples++] = now - Number(m[1]);
              end = stamp.lastIndex;
              got++;
            }
            // Keep a tail that may hold a stamp cut in two (never one already counted).
            rest = text.slice(Math.max(end, text.length - 64));
            if (got >= EVENTS) {
              req.destroy();
              resolve();
            }
          });
        });
        req.on('error', () => resolve());
        req.end();
      }),
    );
  }
  const deadline = Date.now() + 60_000;
  while (ready < CLIENTS) {
    if (Date.now() > deadline) throw new Error(`only ${ready} of ${CLIENTS} clients got ready`);
    await sleep(50);
  }
  const cpu0 = processCpu(serverPid).self;
  const self0 = process.cpuUsage();
  const t0 = Date.now();
  await start();
  await Promise.all(done);
  const seconds = (Date.now() - t0) / 1000;
  const self = process.cpuUsage(self0);
  agent.destroy();
  return { latencies: latencies.subarray(0, samples), seconds, serverCpu: processCpu(serverPid).self - cpu0, clientCpu: (self.user + self.system) / 1e6, frame };
}

async function main(): Promise<void> {
  await using dir = await tempDir('caic-bench-sse-');
  const port = await freePort();
  const configDir = join(dir.path, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'config.toml'), `[core]\nroot = "${dir.path}"\n[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
  const daemon = spawnPinned([...prof, CLI, '--config-dir', configDir, '--log-level', 'warn'], { ...process.env, XDG_CACHE_HOME: join(dir.path, 'cache') });
  await waitForLine(daemon, 'listening on');
  const url = `http://127.0.0.1:${port}`;
  let taskId = '';
  let floor: ChildProcess | undefined;
  let floorUrl = '';
  try {
    const created = await http(`${url}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ repos: [], harness: 'fake', prompt: { text: 'hello' } }),
    });
    taskId = created.json<Task>().id;
    const waiting = async () => {
      const deadline = Date.now() + 120_000;
      while ((await http(`${url}/api/v1/tasks/${taskId}`)).json<Task>().state !== 'waiting') {
        if (Date.now() > deadline) throw new Error('the task never became idle');
        await sleep(100);
      }
    };
    await waiting();
    let template = '';
    const ours = async (): Promise<RunResult> => {
      await waiting();
      const r = await runClients(`${url}/api/v1/tasks/${taskId}/events`, daemon.pid!, async () => {
        await http(`${url}/api/v1/tasks/${taskId}/input`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: { text: `FAKE_LONG ${EVENTS} ${RATE} stamp` } }),
        });
      });
      template ||= r.frame.replace(/^id: \d+/m, 'id: @ID@').replace(/"text":"\d+@\d+ "/, '"text":"@TEXT@"');
      return r;
    };
    const theFloor = async (): Promise<RunResult> => {
      if (!floor) {
        const floorPort = await freePort();
        floor = spawnPinned([FLOOR, String(floorPort), Buffer.from(template).toString('base64')]);
        await waitForLine(floor, 'listening');
        floorUrl = `http://127.0.0.1:${floorPort}`;
      }
      return runClients(`${floorUrl}/events`, floor.pid!, async () => {
        await http(`${floorUrl}/start?n=${EVENTS}&rate=${RATE}`);
      });
    };
    const runs: { ours: RunResult; floor: RunResult }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // A B, then B A: neither side always runs on a warmer machine.
      if (i % 2 === 0) {
        const o = await ours();
        runs.push({ ours: o, floor: await theFloor() });
      } else {
        const f = await theFloor();
        runs.push({ floor: f, ours: await ours() });
      }
      const last = runs[runs.length - 1]!;
      for (const [name, r] of [['caic ', last.ours], ['floor', last.floor]] as const) {
        console.log(
          `round ${i + 1} ${name}: p50 ${percentile(r.latencies, 50).toFixed(0)} ms  p99 ${percentile(r.latencies, 99).toFixed(0)} ms  max ${percentile(r.latencies, 100).toFixed(0)} ms  ` +
            `server CPU ${((r.serverCpu / r.seconds) * 100).toFixed(0)}%  clients CPU ${((r.clientCpu / r.seconds) * 100).toFixed(0)}%  (${r.latencies.length} deliveries in ${r.seconds.toFixed(1)} s)`,
        );
      }
    }
    const p99 = (side: 'ours' | 'floor') => runs.map((r) => percentile(r[side].latencies, 99));
    const p50 = (side: 'ours' | 'floor') => runs.map((r) => percentile(r[side].latencies, 50));
    const cpu = (side: 'ours' | 'floor') => runs.map((r) => (r[side].serverCpu / r[side].seconds) * 100);
    const r99 = ratios(p99('ours'), p99('floor'));
    console.log(`\n${CLIENTS} subscribers × ${EVENTS} events at ${RATE}/s, ${ROUNDS} rounds of each (A B B A …)`);
    console.log(`caic   p50 ${spread(p50('ours'))} ms  p99 ${spread(p99('ours'))} ms  server CPU ${spread(cpu('ours'))}% of a core; daemon RSS ${rssMb(daemon.pid!).toFixed(0)} MB`);
    console.log(`floor  p50 ${spread(p50('floor'))} ms  p99 ${spread(p99('floor'))} ms  server CPU ${spread(cpu('floor'))}%`);
    console.log(`p99 caic / floor = ${spread(r99, 2)}  (target <= 1.25; absolute p99 target <= 50 ms; median ${median(p99('ours')).toFixed(0)} ms)`);
    console.log(`(${machine()}; ${PINNED ? 'servers on CPU 1, clients on CPU 0' : 'not pinned'})`);
    summary('bench:sse', {
      clients: CLIENTS,
      'p99/floor': spread(r99, 2),
      p99_ms: spread(p99('ours')),
      floor_p99_ms: spread(p99('floor')),
      p50_ms: spread(p50('ours')),
      cpu_pct: spread(cpu('ours')),
      floor_cpu_pct: spread(cpu('floor')),
    });
  } finally {
    floor?.kill('SIGTERM');
    if (taskId) await http(`${url}/api/v1/tasks/${taskId}/purge`, { method: 'POST' }).catch(() => undefined);
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
    const docker = new Dockerode();
    for (const c of await docker.listContainers({ all: true, filters: { label: [`caic=${taskId}`] } })) await docker.getContainer(c.Id).remove({ force: true });
  }
}

await main();

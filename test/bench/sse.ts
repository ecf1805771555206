// npm run bench:sse — 1,000 SSE subscribers on one task while the fake agent streams 200 events/s:
// delivery latency from the agent writing an event (inside the container) to each client
// receiving it, and the daemon's CPU. The daemon runs as its own process on its own core.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Dockerode from 'dockerode';
import type { Task } from '../../src/api/index.js';
import { http } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const PINNED = cpus().length >= 2 && spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;

/** utime + stime of a process, in seconds (from /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  await using dir = await tempDir('caic-bench-sse-');
  const port = await freePort();
  const configDir = join(dir.path, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'config.toml'), `[core]\nroot = "${dir.path}"\n[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  const daemon: ChildProcess = spawn(PINNED ? 'taskset' : process.execPath, [...(PINNED ? ['-c', '1', process.execPath] : []), ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []), CLI, '--config-dir', configDir, '--log-level', 'warn'], {
    env: { ...process.env, XDG_CACHE_HOME: join(dir.path, 'cache') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => daemon.stdout!.on('data', (d: Buffer) => d.toString().includes('listening on') && resolve()));
  const url = `http://127.0.0.1:${port}`;
  let taskId = '';
  try {
    const created = await http(`${url}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ repos: [], harness: 'fake', prompt: { text: 'hello' } }),
    });
    taskId = created.json<Task>().id;
    while ((await http(`${url}/api/v1/tasks/${taskId}`)).json<Task>().state !== 'waiting') await new Promise((r) => setTimeout(r, 100));

    // Subscribers: one connection each, parsing just enough to time the stamped deltas.
    const latencies = new Float64Array(CLIENTS * EVENTS);
    let samples = 0;
    let ready = 0;
    const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
    const done: Promise<void>[] = [];
    for (let c = 0; c < CLIENTS; c++) {
      done.push(
        new Promise<void>((resolve) => {
          const req = request(`${url}/api/v1/tasks/${taskId}/events`, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
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
    while (ready < CLIENTS) await new Promise((r) => setTimeout(r, 50));
    const cpu0 = cpuSeconds(daemon.pid!);
    const self0 = process.cpuUsage();
    const t0 = Date.now();
    await http(`${url}/api/v1/tasks/${taskId}/input`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: { text: `FAKE_LONG ${EVENTS} ${RATE} stamp` } }),
    });
    await Promise.all(done);
    const seconds = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(daemon.pid!) - cpu0;
    const self = process.cpuUsage(self0);
    const clientCpu = (self.user + self.system) / 1e6;
    const sorted = latencies.subarray(0, samples).sort();
    console.log(`${CLIENTS} subscribers × ${EVENTS} events at ${RATE}/s (${samples} deliveries in ${seconds.toFixed(1)} s)`);
    console.log(`delivery latency  p50 ${percentile(sorted, 50).toFixed(0)} ms   p99 ${percentile(sorted, 99).toFixed(0)} ms   max ${sorted[sorted.length - 1]!.toFixed(0)} ms   (target p99 <= 50 ms)`);
    console.log(`daemon CPU ${((cpu / seconds) * 100).toFixed(0)}% of one core over the run; RSS ${rssMb(daemon.pid!).toFixed(0)} MB`);
    console.log(`clients (this process) CPU ${((clientCpu / seconds) * 100).toFixed(0)}% of one core`);
    console.log(`(node ${process.version}, ${PINNED ? 'daemon on CPU 1, clients on CPU 0' : 'not pinned'})`);
    agent.destroy();
  } finally {
    if (taskId) await http(`${url}/api/v1/tasks/${taskId}/purge`, { method: 'POST' }).catch(() => undefined);
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
    const docker = new Dockerode();
    for (const c of await docker.listContainers({ all: true, filters: { label: [`caic=${taskId}`] } })) await docker.getContainer(c.Id).remove({ force: true });
  }
}

await main();

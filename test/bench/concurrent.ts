// npm run bench:concurrent — 20 task starts at once (POST /tasks → the agent's `init` on each task's
// stream) against 20 bare floors at once (bench:start's floor: create + start + SSH + first exec),
// on the same machine in the same run, rounds alternating which goes first. Reports the median
// and the slowest start of each side and their ratio, and the CPU seconds per start: the daemon's
// own process plus the git processes it ran (/proc utime+stime+cutime+cstime) against the floor's
// process. Tasks run without a repository and, in a second set of rounds, with one
// (BENCH_FILES files, default 1,000). The Docker engine's CPU is shown too, but it is shared with
// whatever else runs on the machine.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Dockerode from 'dockerode';
import type { EventMessage, Task } from '../../src/api/index.js';
import { removeRepoImages, RUN_LABEL } from '../helpers/containers.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SseClient } from '../helpers/sse.js';
import { makeOriginAndClone } from '../helpers/task-env.js';
import { tempDir } from '../helpers/tmp.js';
import { machine, median, processCpu, sleep, spread, summary } from './lib.js';
import { buildFloorImage, floorRun } from './start.js';

const N = Number(process.env.BENCH_TASKS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FILES = Number(process.env.BENCH_FILES ?? 1000);
/** The daemon to measure; BENCH_CLI points at another build (an A/B of two versions). */
const CLI = process.env.BENCH_CLI ?? fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const created = new Set<string>();

interface Side {
  /** Each start's time from the common start, ms. */
  times: number[];
  /** CPU seconds of the side's own process(es). */
  cpu: number;
  /** CPU seconds of dockerd + containerd over the same span (shared with the machine). */
  engine: number;
  /** CPU seconds inside the containers (sshd, the relay and agent, tar, git), read when the round ends. */
  inside: number;
}

/** CPU seconds a container has used, from its cgroup (v1 or v2); NaN when unreadable. */
function containerCpu(id: string): number {
  const tries: [string, (t: string) => number][] = [
    [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, (t) => Number(t) / 1e9],
    [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, (t) => Number(/usage_usec (\d+)/.exec(t)?.[1]) / 1e6],
    [`/sys/fs/cgroup/docker/${id}/cpu.stat`, (t) => Number(/usage_usec (\d+)/.exec(t)?.[1]) / 1e6],
  ];
  for (const [path, parse] of tries) {
    try {
      return parse(readFileSync(path, 'utf8'));
    } catch {
      /* next layout */
    }
  }
  return NaN;
}

async function insideCpu(docker: Dockerode, label: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  return list.reduce((sum, c) => sum + containerCpu(c.Id), 0);
}

/** dockerd + containerd CPU seconds (readable for any user from /proc). */
function engineCpu(): number {
  let total = 0;
  for (const name of ['dockerd', 'containerd']) {
    try {
      for (const pid of execFileSync('pgrep', ['-x', name]).toString().split('\n').filter(Boolean)) {
        const c = processCpu(Number(pid));
        total += c.self + c.children;
      }
    } catch {
      /* not running under that name */
    }
  }
  return total;
}

/** Child mode: N floors at once; prints the times and this process's CPU as JSON. */
async function floorChild(): Promise<void> {
  const keys = JSON.parse(Buffer.from(process.env.BENCH_FLOOR_KEYS!, 'base64').toString()) as { fingerprint: string; privateKey: string };
  const docker = new Dockerode();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const times = await Promise.all(
    Array.from({ length: N }, async () => {
      await floorRun(docker, keys, process.env.BENCH_RUN_ID!, { keep: true });
      return performance.now() - t0;
    }),
  );
  const c = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ times, cpu: (c.user + c.system) / 1e6 })}\n`);
}

async function floors(keys: string, runId: string): Promise<Side> {
  const e0 = engineCpu();
  const child = spawn(process.execPath, [SELF, '--floor'], { env: { ...process.env, BENCH_FLOOR_KEYS: keys, BENCH_RUN_ID: runId }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  const engine = engineCpu() - e0;
  if (code !== 0) throw new Error(`the floor process failed (${code})`);
  const r = JSON.parse(out) as { times: number[]; cpu: number };
  // The floors' containers go after the measurement (the tasks' purge is not timed either).
  const docker = new Dockerode();
  const inside = await insideCpu(docker, `${RUN_LABEL}=${runId}`);
  const mine = await docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } });
  await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  return { times: r.times, cpu: r.cpu, engine, inside };
}

async function tasks(url: string, daemonPid: number, withRepo: boolean): Promise<Side> {
  const before = processCpu(daemonPid);
  const e0 = engineCpu();
  const t0 = performance.now();
  const times = await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const answer = await http(`${url}/api/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ repos: withRepo ? [{ name: 'proj' }] : [], harness: 'fake', prompt: { text: `task ${i}` } }),
      });
      if (answer.status !== 200) throw new Error(`POST /tasks: ${answer.status} ${answer.body}`);
      const task = answer.json<Task>();
      created.add(task.id);
      const sse = new SseClient(`${url}/api/v1/tasks/${task.id}/events`);
      try {
        await sse.waitFor((ev) => ev.some((e) => (e.data as EventMessage | undefined)?.kind === 'init'), 180_000, `init of task ${i}`);
      } finally {
        sse.close();
      }
      return { ms: performance.now() - t0, id: task.id };
    }),
  );
  const after = processCpu(daemonPid);
  const engine = engineCpu() - e0;
  const docker = new Dockerode();
  const inside = (await Promise.all(times.map((t) => insideCpu(docker, `caic=${t.id}`)))).reduce((a, b) => a + b, 0);
  await Promise.all(times.map((t) => http(`${url}/api/v1/tasks/${t.id}/purge`, { method: 'POST' })));
  return { times: times.map((t) => t.ms), cpu: after.self + after.children - before.self - before.children, engine, inside };
}

async function main(): Promise<void> {
  await using dir = await tempDir('caic-bench-concurrent-');
  const docker = new Dockerode();
  const keys = Buffer.from(JSON.stringify(await buildFloorImage(docker))).toString('base64');
  const runId = `concurrent-${process.pid}`;
  const root = join(dir.path, 'root');
  await makeOriginAndClone(dir.path, root, 'proj', FILES);
  const port = await freePort();
  const configDir = join(dir.path, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'config.toml'), `[core]\nroot = "${root}"\n[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  const daemon: ChildProcess = spawn(process.execPath, [CLI, '--config-dir', configDir, '--log-level', 'warn'], {
    env: { ...process.env, XDG_CACHE_HOME: join(dir.path, 'cache') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => daemon.stdout!.on('data', (d: Buffer) => d.toString().includes('listening on') && resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    // Warm-up: one small round of each (image layers, page cache, JIT, the relay's first deploy).
    await tasks(url, daemon.pid!, true);
    await floors(keys, runId);
    const lines: Record<string, string | number> = { tasks: N };
    for (const withRepo of [false, true]) {
      const ours: Side[] = [];
      const floor: Side[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        if (i % 2 === 0) {
          ours.push(await tasks(url, daemon.pid!, withRepo));
          floor.push(await floors(keys, runId));
        } else {
          floor.push(await floors(keys, runId));
          ours.push(await tasks(url, daemon.pid!, withRepo));
        }
        await sleep(500); // let purges and removals settle before the next round
      }
      const med = (s: Side[]) => s.map((x) => median(x.times));
      const slow = (s: Side[]) => s.map((x) => Math.max(...x.times));
      const rMed = med(ours).map((x, i) => x / med(floor)[i]!);
      const rSlow = slow(ours).map((x, i) => x / slow(floor)[i]!);
      const cpuOurs = ours.map((s) => s.cpu / N);
      const cpuFloor = floor.map((s) => s.cpu / N);
      const label = withRepo ? `with a ${FILES}-file repository` : 'without a repository';
      console.log(`\n${N} starts at once, ${label} (${ROUNDS} rounds, alternating which side goes first)`);
      const per = (s: Side[], k: 'engine' | 'inside') => spread(s.map((x) => x[k] / N), 3);
      console.log(`  caic  median ${spread(med(ours))} ms  slowest ${spread(slow(ours))} ms  CPU/start: daemon ${spread(cpuOurs, 3)} s, engine ${per(ours, 'engine')} s, in the container ${per(ours, 'inside')} s`);
      console.log(`  floor median ${spread(med(floor))} ms  slowest ${spread(slow(floor))} ms  CPU/start: client ${spread(cpuFloor, 3)} s, engine ${per(floor, 'engine')} s, in the container ${per(floor, 'inside')} s`);
      console.log(`  ratio median ${spread(rMed, 2)}  slowest ${spread(rSlow, 2)}  (target <= 1.25)   CPU caic/floor ${spread(cpuOurs.map((x, i) => x / cpuFloor[i]!), 2)}`);
      const k = withRepo ? 'repo' : 'bare';
      Object.assign(lines, {
        [`${k}_median/floor`]: spread(rMed, 2),
        [`${k}_slowest/floor`]: spread(rSlow, 2),
        [`${k}_cpu_s`]: spread(cpuOurs, 3),
        [`floor_cpu_s`]: spread(cpuFloor, 3),
        [`${k}_container_cpu_s`]: spread(ours.map((x) => x.inside / N), 3),
        [`floor_container_cpu_s`]: spread(floor.map((x) => x.inside / N), 3),
      });
    }
    console.log(`(${machine()}; daemon CPU includes the git processes it waited for)`);
    summary('bench:concurrent', lines);
  } finally {
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
    // Containers of tasks a failed round left behind (a finished round purged its own).
    for (const id of created) {
      for (const c of await docker.listContainers({ all: true, filters: { label: [`caic=${id}`] } })) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    }
    await docker.getImage('caic-bench-floor:latest').remove({ force: true }).catch(() => undefined);
    await removeRepoImages(docker, dir.path);
  }
}

if (process.argv.includes('--floor')) await floorChild();
else await main();

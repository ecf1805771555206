// npm run bench:start — container start latency: (a) the floor (minimal dockerode create+start of an
// image with baked keys, banner, ssh2 handshake, first exec), (b) our launch+connect+first exec
// with the full hardened profile, (c) (b) plus pushing a 1,000-file repository. Medians of five
// runs after a warm-up, per phase, and the ratio (b)/(a).
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import {
  buildTar,
  connectSsh,
  DEFAULT_IMAGE,
  fingerprint,
  generateEd25519,
  probeBanner,
  type DockerRuntime,
} from '../../src/containers/index.js';
import { makeHostRepo, RUN_LABEL, testRuntime } from '../helpers/containers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FLOOR_IMAGE = 'caic-bench-floor:latest';
type Phases = Record<string, number>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The floor's image: the agent image with a host key and authorized key baked in (what md does). */
export async function buildFloorImage(docker: Dockerode): Promise<{ fingerprint: string; privateKey: string }> {
  const host = generateEd25519('bench-floor-host');
  const client = generateEd25519('bench-floor-client');
  const dockerfile = [
    `FROM ${DEFAULT_IMAGE}`,
    'COPY ssh_host_ed25519_key ssh_host_ed25519_key.pub /etc/ssh/',
    'COPY --chown=1000:1000 authorized_keys /home/user/.ssh/authorized_keys',
    'RUN chmod 600 /etc/ssh/ssh_host_ed25519_key /home/user/.ssh/authorized_keys',
  ].join('\n');
  const tar = await buildTar([
    { path: 'Dockerfile', content: dockerfile, mode: 0o644 },
    { path: 'ssh_host_ed25519_key', content: host.privateKey, mode: 0o600 },
    { path: 'ssh_host_ed25519_key.pub', content: host.publicKey, mode: 0o644 },
    { path: 'authorized_keys', content: `${client.publicKey}\n`, mode: 0o644 },
  ]);
  const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, { t: FLOOR_IMAGE, rm: true, forcerm: true });
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  return { fingerprint: fingerprint(host.publicKey), privateKey: client.privateKey };
}

export async function floorRun(docker: Dockerode, keys: { fingerprint: string; privateKey: string }, runId: string): Promise<Phases> {
  const p: Phases = {};
  let t = performance.now();
  const mark = (name: string) => {
    const now = performance.now();
    p[name] = now - t;
    t = now;
  };
  const start = t;
  const container = await docker.createContainer({
    name: `caic-bench-floor-${randomBytes(4).toString('hex')}`,
    Image: FLOOR_IMAGE,
    Labels: { [RUN_LABEL]: runId },
    ExposedPorts: { '22/tcp': {} },
    HostConfig: { PortBindings: { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  mark('create');
  await container.start();
  mark('start');
  const info = await container.inspect();
  const port = Number(info.NetworkSettings.Ports['22/tcp']![0]!.HostPort);
  mark('inspect');
  let delay = 10;
  while ((await probeBanner(port)) !== 'banner') {
    await sleep(delay);
    delay = Math.min(100, delay * 2);
  }
  mark('sshBanner');
  const conn = await connectSsh({ label: 'floor', port, privateKey: keys.privateKey, hostKeyFingerprint: keys.fingerprint });
  mark('sshHandshake');
  const r = await conn.exec('echo ready');
  if (r.stdout !== 'ready\n') throw new Error('floor: first exec failed');
  mark('firstExec');
  p.total = performance.now() - start;
  conn.close();
  await container.remove({ force: true });
  return p;
}

export async function oursRun(rt: DockerRuntime, runId: string, repo?: string): Promise<Phases> {
  const p: Phases = {};
  const start = performance.now();
  const repos = repo ? [{ name: 'proj', branch: 'caic-1', baseBranch: 'main' }] : [];
  const h = await rt.launch({ taskId: `bench-${randomBytes(4).toString('hex')}`, harness: 'fake', repos, labels: { [RUN_LABEL]: runId }, onPhase: (name, ms) => (p[name] = ms) });
  await rt.connect(h, { onPhase: (name, ms) => (p[name] = ms) });
  let t = performance.now();
  const r = await rt.exec(h, 'echo ready');
  if (r.stdout !== 'ready\n') throw new Error('ours: first exec failed');
  p.firstExec = performance.now() - t;
  if (repo) {
    t = performance.now();
    await rt.pushRepo(h, { hostRepo: repo, name: 'proj', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' });
    p.push1000 = performance.now() - t;
  }
  p.total = performance.now() - start;
  await rt.purge(h);
  return p;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function table(title: string, runs: Phases[]): Phases {
  const names = Object.keys(runs[0]!);
  const med: Phases = Object.fromEntries(names.map((n) => [n, median(runs.map((r) => r[n] ?? 0))]));
  console.log(`\n${title}`);
  for (const n of names) console.log(`  ${n.padEnd(14)} ${med[n]!.toFixed(0).padStart(6)} ms   (runs: ${runs.map((r) => (r[n] ?? 0).toFixed(0)).join(', ')})`);
  return med;
}

async function main(): Promise<void> {
  await using t = await testRuntime();
  const docker = t.docker;
  const floorKeys = await buildFloorImage(docker);
  const repo = await makeHostRepo(t.dir.path, 1000);
  // Warm-up: page cache, image layers, JIT.
  await floorRun(docker, floorKeys, t.runId);
  await oursRun(t.rt, t.runId);
  await oursRun(t.rt, t.runId, repo);
  const floor: Phases[] = [];
  const ours: Phases[] = [];
  const withPush: Phases[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved so machine noise hits all three alike.
    floor.push(await floorRun(docker, floorKeys, t.runId));
    ours.push(await oursRun(t.rt, t.runId));
    withPush.push(await oursRun(t.rt, t.runId, repo));
  }
  const a = table('(a) floor: minimal create + start + banner + handshake + first exec', floor);
  const b = table('(b) caic launch + connect + first exec (hardened, fresh host key)', ours);
  table('(c) (b) + push of a 1,000-file repository', withPush);
  console.log(`\nratio (b)/(a) = ${(b.total! / a.total!).toFixed(3)}  (target <= 1.25; ${RUNS} runs after a warm-up, medians)`);
  await docker.getImage(FLOOR_IMAGE).remove({ force: true }).catch(() => undefined);
}

// Also imported by bench:task-start for the floor.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

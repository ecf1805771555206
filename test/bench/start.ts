// npm run bench:start — container start latency: (a) the floor (minimal dockerode create+start of an
// image with baked keys, banner, ssh2 handshake, first exec), (b) our launch+connect+first exec
// with the full hardened profile, (c) (b) plus delivering a 1,000-file repository the way a task
// start does (packed during the launch, put in while sshd comes up). In (c)'s container, the same
// repository is then delivered again by caic and pushed by plain git over OpenSSH (the push floor),
// alternately first. (d) the egress modes: (b) with an `allowlist` and a `none` policy against
// `open`, interleaved, on a network of the bench's own, and the proxy's cost on a 10 MB download
// from a server container there (through the proxy against direct in an open container). Medians of
// five runs after a warm-up, with the spread.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import {
  buildTar,
  connectSsh,
  DEFAULT_IMAGE,
  fingerprint,
  generateEd25519,
  probeBanner,
  type ContainerHandle,
  type DockerRuntime,
  type LaunchSpec,
} from '../../src/containers/index.js';
import { makeHostRepo, RUN_LABEL, testRuntime } from '../helpers/containers.js';
import { machine, median, ratios, sleep, spread, summary } from './lib.js';

export { median } from './lib.js';
const execFileP = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FLOOR_IMAGE = 'caic-bench-floor:latest';
type Phases = Record<string, number>;

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

/** The floor; `keep` leaves the container for the caller to remove (many floors at once). */
export async function floorRun(docker: Dockerode, keys: { fingerprint: string; privateKey: string }, runId: string, opts: { keep?: boolean } = {}): Promise<Phases> {
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
  if (!opts.keep) await container.remove({ force: true });
  return p;
}

/**
 * caic's launch + connect + first exec; with a repository, delivered as a task start does it:
 * packed on the host during the launch, put into the container while sshd comes up.
 */
export async function oursRun(rt: DockerRuntime, runId: string, repo?: string, keep?: (h: ContainerHandle) => Promise<void>, spec: Partial<LaunchSpec> = {}): Promise<Phases> {
  const p: Phases = {};
  const start = performance.now();
  const repos = repo ? [{ name: 'proj', branch: 'caic-1', baseBranch: 'main' }] : [];
  const packed = repo
    ? rt.packRepo({ hostRepo: repo, name: 'proj', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' }).then((pkg) => {
        p.pack = performance.now() - start;
        return pkg;
      })
    : null;
  const h = await rt.launch({ ...spec, taskId: `bench-${randomBytes(4).toString('hex')}`, harness: 'fake', repos, labels: { [RUN_LABEL]: runId }, onPhase: (name, ms) => (p[name] = ms) });
  const launched = performance.now();
  const delivered = packed?.then(async (pkg) => {
    try {
      await rt.deliverRepo(h, pkg);
    } finally {
      await pkg.dispose();
    }
    p.deliver1000 = performance.now() - launched;
  });
  await rt.connect(h, { onPhase: (name, ms) => (p[name] = ms) });
  const t = performance.now();
  const r = await rt.exec(h, 'echo ready');
  if (r.stdout !== 'ready\n') throw new Error('ours: first exec failed');
  p.firstExec = performance.now() - t;
  await delivered;
  p.total = performance.now() - start;
  if (keep) await keep(h);
  await rt.purge(h);
  return p;
}

/** Plain git over OpenSSH into a running container: `git init`, `git push`, `git checkout`, each over its own ssh. */
export async function pushFloor(rt: DockerRuntime, h: ContainerHandle, keyFile: string, repo: string, dir: string, scratch: string): Promise<number> {
  const hostKey = (await rt.exec(h, 'cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout.trim().split(' ').slice(0, 2).join(' ');
  const knownHosts = join(scratch, `known_hosts-${h.sshPort}`);
  await writeFile(knownHosts, `[127.0.0.1]:${h.sshPort} ${hostKey}\n`);
  const ssh = ['-F', '/dev/null', '-i', keyFile, '-p', String(h.sshPort), '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'];
  const start = performance.now();
  await execFileP('ssh', [...ssh, 'user@127.0.0.1', `git init -q ${dir}`]);
  await execFileP('git', ['push', '-q', '--no-verify', `ssh://user@127.0.0.1:${h.sshPort}${dir}`, 'refs/heads/caic-1:refs/heads/caic-1', 'main:refs/remotes/origin/main'], {
    cwd: repo,
    env: { ...process.env, GIT_SSH_COMMAND: `ssh ${ssh.join(' ')}` },
  });
  // The same end state as caic's: branch checked out, upstream origin/main, caic.base.
  const setup = [
    `cd ${dir}`,
    'git checkout -q -f caic-1',
    "git config remote.origin.fetch '+refs/heads/*:refs/remotes/origin/*'",
    'git config branch.caic-1.remote origin',
    'git config branch.caic-1.merge refs/heads/main',
    'git config caic.base "$(git rev-parse origin/main)"',
  ].join(' && ');
  await execFileP('ssh', [...ssh, 'user@127.0.0.1', setup]);
  return performance.now() - start;
}

/** A 10 MB download from `url`, timed inside the container (ms); through the proxy when `proxy` is set. */
const DOWNLOAD = `
const http = require('http');
const [url, proxy] = process.argv.slice(1);
const u = new URL(url);
const opts = proxy ? { host: new URL(proxy).hostname, port: new URL(proxy).port, path: url, headers: { host: u.host } } : { host: u.hostname, port: u.port, path: u.pathname };
const t = process.hrtime.bigint();
http.get(opts, (res) => { let n = 0; res.on('data', (d) => (n += d.length)); res.on('end', () => { if (n !== 10485760) { console.error('got ' + n); process.exit(1); } console.log(Number(process.hrtime.bigint() - t) / 1e6); }); }).on('error', (e) => { console.error(e.message); process.exit(1); });
`;

/** (d): start time per egress mode, and the proxy's cost on a 10 MB download. */
async function egressModes(t: Awaited<ReturnType<typeof testRuntime>>): Promise<Record<string, string>> {
  const net = `caic-bench-egress-${t.runId}`;
  const network = await t.docker.createNetwork({ Name: net, Labels: { [RUN_LABEL]: t.runId } });
  try {
    const server = await t.docker.createContainer({
      name: `caic-bench-files-${t.runId}`,
      Image: DEFAULT_IMAGE,
      Entrypoint: ['node', '-e', "const b = Buffer.alloc(10485760, 97); require('http').createServer((q, s) => s.end(b)).listen(8080); console.log('up')"],
      Labels: { [RUN_LABEL]: t.runId },
      HostConfig: { NetworkMode: net },
    });
    await server.start();
    const url = `http://caic-bench-files-${t.runId}:8080/10m`;
    const modes = {
      open: { network: net },
      allowlist: { network: net, egress: { mode: 'allowlist' as const, allow: [`caic-bench-files-${t.runId}:8080`] } },
      none: { network: net, egress: { mode: 'none' as const, allow: [] } },
    };
    const runs: Record<keyof typeof modes, Phases[]> = { open: [], allowlist: [], none: [] };
    await oursRun(t.rt, t.runId, undefined, undefined, modes.allowlist);
    for (let i = 0; i < RUNS; i++) for (const m of Object.keys(modes) as (keyof typeof modes)[]) runs[m].push(await oursRun(t.rt, t.runId, undefined, undefined, modes[m]));
    for (const m of Object.keys(modes) as (keyof typeof modes)[]) table(`(d) (b) with egress ${m}`, runs[m]);
    const allow = ratios(runs.allowlist.map((r) => r.total!), runs.open.map((r) => r.total!));
    const none = ratios(runs.none.map((r) => r.total!), runs.open.map((r) => r.total!));
    // The download: one open and one allowlist container, alternately first.
    const open = await t.rt.launch({ ...modes.open, taskId: `bench-${randomBytes(4).toString('hex')}`, harness: 'fake', repos: [], labels: { [RUN_LABEL]: t.runId } });
    const filtered = await t.rt.launch({ ...modes.allowlist, taskId: `bench-${randomBytes(4).toString('hex')}`, harness: 'fake', repos: [], labels: { [RUN_LABEL]: t.runId } });
    const ip = (await server.inspect()).NetworkSettings.Networks[net]!.IPAddress;
    const fetchIn = async (h: ContainerHandle, proxied: boolean) => {
      const r = await t.rt.exec(h, proxied ? 'node -e "$1" "$2" "$HTTP_PROXY"' : 'node -e "$1" "$2"', { args: [DOWNLOAD, proxied ? url : `http://${ip}:8080/10m`] });
      if (r.code !== 0) throw new Error(`download failed: ${r.stderr}`);
      return Number(r.stdout.trim());
    };
    await fetchIn(open, false);
    await fetchIn(filtered, true);
    const direct: number[] = [];
    const proxied: number[] = [];
    for (let i = 0; i < RUNS * 2; i++) {
      if (i % 2) {
        proxied.push(await fetchIn(filtered, true));
        direct.push(await fetchIn(open, false));
      } else {
        direct.push(await fetchIn(open, false));
        proxied.push(await fetchIn(filtered, true));
      }
    }
    await t.rt.purge(open);
    await t.rt.purge(filtered);
    const added = proxied.map((p, i) => p - direct[i]!);
    console.log(`\nratio (d) allowlist/open = ${spread(allow, 3)}, none/open = ${spread(none, 3)}  (target <= 1.15; pairwise)`);
    console.log(`10 MB download: direct (open) ${spread(direct)} ms, through the proxy (allowlist) ${spread(proxied)} ms, added ${spread(added)} ms`);
    await server.remove({ force: true });
    return { 'allowlist/open': spread(allow, 2), 'none/open': spread(none, 2), 'dl10m_direct_ms': spread(direct), 'dl10m_proxy_ms': spread(proxied), 'dl10m_added_ms': spread(added) };
  } finally {
    for (const c of await t.docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${t.runId}`], network: [net] } })) await t.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await network.remove().catch(() => undefined);
  }
}

function table(title: string, runs: Phases[]): Phases {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r)))];
  const med: Phases = Object.fromEntries(names.map((n) => [n, median(runs.map((r) => r[n] ?? 0))]));
  console.log(`\n${title}`);
  for (const n of names) console.log(`  ${n.padEnd(14)} ${med[n]!.toFixed(0).padStart(6)} ms   (runs: ${runs.map((r) => (r[n] ?? 0).toFixed(0)).join(', ')})`);
  return med;
}

async function main(): Promise<void> {
  await using t = await testRuntime();
  const docker = t.docker;
  // BENCH_ONLY=egress: (d) alone (a few minutes less when only the egress modes changed).
  if (process.env.BENCH_ONLY === 'egress') {
    const egress = await egressModes(t);
    console.log(`(${machine()})`);
    summary('bench:start', egress);
    return;
  }
  const floorKeys = await buildFloorImage(docker);
  const repo = await makeHostRepo(t.dir.path, 1000);
  const keyFile = join(t.dir.path, 'config', 'ssh', 'id_ed25519');
  let round = 0;
  const pushes: { ours: number; floor: number }[] = [];
  // In (c)'s container: caic's delivery alone and the OpenSSH push floor, alternately first.
  const compare = async (h: ContainerHandle) => {
    const n = round++;
    const ours = async () => {
      const s = performance.now();
      await t.rt.pushRepo(h, { hostRepo: repo, name: `again${n}`, branch: 'caic-1', baseBranch: 'main', baseRef: 'main' });
      return performance.now() - s;
    };
    const floor = () => pushFloor(t.rt, h, keyFile, repo, `/home/user/src/floor${n}`, t.dir.path);
    if (n % 2) {
      const f = await floor();
      pushes.push({ floor: f, ours: await ours() });
    } else {
      const o = await ours();
      pushes.push({ ours: o, floor: await floor() });
    }
  };
  // Warm-up: page cache, image layers, JIT.
  await floorRun(docker, floorKeys, t.runId);
  await oursRun(t.rt, t.runId);
  await oursRun(t.rt, t.runId, repo, compare);
  pushes.length = 0;
  const floor: Phases[] = [];
  const ours: Phases[] = [];
  const withRepo: Phases[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved so machine noise hits all three alike.
    floor.push(await floorRun(docker, floorKeys, t.runId));
    ours.push(await oursRun(t.rt, t.runId));
    withRepo.push(await oursRun(t.rt, t.runId, repo, compare));
  }
  table('(a) floor: minimal create + start + banner + handshake + first exec', floor);
  table('(b) caic launch + connect + first exec (hardened, fresh host key)', ours);
  table('(c) (b) + delivery of a 1,000-file repository (packed during launch, put in during the SSH wait)', withRepo);
  const ba = ratios(ours.map((r) => r.total!), floor.map((r) => r.total!));
  const ca = ratios(withRepo.map((r) => r.total!), floor.map((r) => r.total!));
  const push = ratios(pushes.map((p) => p.ours), pushes.map((p) => p.floor));
  console.log('\nrepository of 1,000 files into a running container, same container, alternately first:');
  console.log(`  caic delivery (pack + archive + index)        ${spread(pushes.map((p) => p.ours))} ms`);
  console.log(`  plain git over OpenSSH (init, push, checkout) ${spread(pushes.map((p) => p.floor))} ms`);
  console.log(`\nratio (b)/(a) = ${spread(ba, 3)}  (target <= 1.25; pairwise, median [min–max] of ${RUNS} runs after a warm-up)`);
  console.log(`ratio (c)/(a) = ${spread(ca, 3)}  (with the repository)`);
  console.log(`ratio delivery / OpenSSH push = ${spread(push, 3)}`);
  const egress = await egressModes(t);
  console.log(`(${machine()})`);
  summary('bench:start', {
    ...egress,
    'b/a': spread(ba, 2),
    'c/a': spread(ca, 2),
    'push/openssh': spread(push, 2),
    'a_ms': spread(floor.map((r) => r.total!)),
    'b_ms': spread(ours.map((r) => r.total!)),
    'c_ms': spread(withRepo.map((r) => r.total!)),
  });
  await docker.getImage(FLOOR_IMAGE).remove({ force: true }).catch(() => undefined);
}

// Also imported by bench:task-start for the floor.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

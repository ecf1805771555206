// npm run bench:webhooks — signed check_run deliveries per second through caic's /webhooks/github
// (100 watched SHAs) vs a bare Fastify route that only verifies the signature, side by side; then
// the time from a check_suite delivery to the agent receiving the CI summary (p50/p99).
import { execFile, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Webhooks } from '@octokit/webhooks';
import { sign } from '@octokit/webhooks-methods';
import autocannon from 'autocannon';
import Dockerode from 'dockerode';
import Fastify from 'fastify';
import type { EventMessage, SyncResp } from '../../src/api/index.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import type { ForgeRepo } from '../../src/forge/index.js';
import { removeRepoImages } from '../helpers/containers.js';
import { actionsLog, startForgeStandin, type ForgeStandin } from '../helpers/forge-standin.js';
import { tempDir } from '../helpers/tmp.js';
import { githubExample } from '../helpers/webhooks.js';
import { cpuOf, machine, percentile, ratios, spread, summary } from './lib.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 3);
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const CONNECTIONS = 10;
const WATCHED = 100;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 20);
const SECRET = 'bench-webhook-secret-0123456789';
const PAT = 'ghp_benchwebhooks0123456789abcdef';
const PATH = '/webhooks/github';
const SHAS = Array.from({ length: WATCHED }, () => randomBytes(20).toString('hex'));

type Variant = 'bare' | 'caic';
interface Ready {
  port: number;
  watched: number;
}

/** The payload of an example event re-pointed at acme/proj. */
function payloadFor(event: string, action: string, sha: string): string {
  const p = githubExample(event, action);
  const repo = p.repository as { name: string; full_name: string; owner: { login: string } };
  Object.assign(repo, { name: 'proj', full_name: 'acme/proj' });
  repo.owner.login = 'acme';
  const key = event === 'check_run' ? 'check_run' : 'check_suite';
  (p[key] as { head_sha: string }).head_sha = sha;
  return JSON.stringify(p);
}

/** A repository on the stand-in, cloned under `root` (origin: the stand-in's URL). */
async function forgeRepo(forge: ForgeStandin, dir: string, root: string): Promise<void> {
  const seed = join(dir, 'seed');
  await mkdir(seed, { recursive: true });
  // Asynchronous: the stand-in answers the clone from this same process.
  const git = (cwd: string, ...args: string[]) => promisify(execFile)('git', args, { cwd });
  await git(seed, 'init', '-q', '-b', 'main');
  // The fake agent's FAKE_DEMO appends to README.md: each round is a new commit to push.
  await writeFile(join(seed, 'README.md'), '# proj\n');
  for (let i = 0; i < 20; i++) await writeFile(join(seed, `file${i}.txt`), `content ${i}\n`);
  await git(seed, 'add', '-A');
  await git(seed, '-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'initial');
  const cloneUrl = await forge.createRepo('acme', 'proj', { from: seed });
  forge.setPermission('acme/proj', 'bench', 'write');
  await mkdir(root, { recursive: true });
  // The host's pushes (sync) authenticate with the PAT in the remote URL, as a credential helper would.
  const authed = new URL(cloneUrl);
  authed.username = 'x-access-token';
  authed.password = PAT;
  await git(root, 'clone', '-q', authed.toString(), 'proj');
}

const configOf = (forge: Pick<ForgeStandin, 'url' | 'githubApi'>, root: string) => `[core]
root = "${root}"
[server]
allow_origins = ["local"]
[github]
url = "${forge.url}"
api_url = "${forge.githubApi}"
[github.pat]
token = "${PAT}"
[github.app]
webhook_secret = "${SECRET}"
`;

/** The forge side of the daemon (the CI watcher, sync as a pull request), when the daemon has one. */
type WithForge = Daemon & {
  forge?: {
    watcher?: { watch(repo: ForgeRepo, sha: string, fn: () => void): () => void };
    sync?(id: string, req: { target: 'pr' }, caller: null): Promise<SyncResp>;
  };
};

async function serveBare(): Promise<Ready> {
  const app = Fastify({ logger: false });
  const webhooks = new Webhooks({ secret: SECRET });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 25 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  app.post(PATH, async (req, reply) => {
    const ok = await webhooks.verify((req.body as Buffer).toString('utf8'), String(req.headers['x-hub-signature-256'] ?? '')).catch(() => false);
    return reply.code(ok ? 204 : 401).send();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (app.server.address() as { port: number }).port, watched: 0 };
}

/** Where the caic variant finds its forge: the stand-in runs in the load generator's process, so its work is not counted as caic's. */
interface CaicSetup {
  url: string;
  githubApi: string;
  dir: string;
}

async function serveCaic(setup: CaicSetup): Promise<Ready> {
  const root = join(setup.dir, 'root');
  const configDir = join(setup.dir, 'config');
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  await writeFile(join(configDir, 'config.toml'), configOf(setup, root));
  const daemon = (await startDaemon({ configDir, cacheDir: join(setup.dir, 'cache'), env: {}, logLevel: 'warn', port: 0, startDir: setup.dir })) as WithForge;
  const repo: ForgeRepo = { kind: 'github', baseUrl: setup.url, owner: 'acme', repo: 'proj' };
  const watcher = daemon.forge?.watcher;
  for (const sha of watcher ? SHAS : []) watcher.watch(repo, sha, () => {});
  return { port: Number(new URL(daemon.url).port), watched: watcher ? SHAS.length : 0 };
}

async function child(variant: Variant): Promise<void> {
  const ready = variant === 'bare' ? await serveBare() : await serveCaic(JSON.parse(process.env.BENCH_CAIC_SETUP!) as CaicSetup);
  process.send!(ready);
  process.on('message', (m) => {
    if (m === 'cpu') process.send!(process.cpuUsage());
  });
}

const PINNED = cpus().length >= 2 && spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;

function start(variant: Variant, setup?: CaicSetup): Promise<{ proc: ChildProcess; ready: Ready }> {
  const proc = fork(fileURLToPath(import.meta.url), ['serve', variant], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, ...(setup ? { BENCH_CAIC_SETUP: JSON.stringify(setup) } : {}) },
    ...(PINNED ? { execPath: 'taskset', execArgv: ['-c', '1', process.execPath] } : {}),
  });
  return new Promise((resolve, reject) => {
    proc.once('message', (ready) => resolve({ proc, ready: ready as Ready }));
    proc.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
}

/** Signed check_run deliveries, one per watched SHA, each sent with a fresh delivery id. */
async function deliveries(): Promise<autocannon.Request[]> {
  let n = 0;
  const prefix = randomUUID();
  return Promise.all(
    SHAS.map(async (sha) => {
      const body = payloadFor('check_run', 'completed', sha);
      return {
        method: 'POST' as const,
        path: PATH,
        body,
        headers: { 'content-type': 'application/json', 'x-github-event': 'check_run', 'x-hub-signature-256': await sign(SECRET, body) },
        setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, 'x-github-delivery': `${prefix}-${n++}` } }),
      };
    }),
  );
}

async function load(port: number, requests: autocannon.Request[], seconds: number): Promise<{ rps: number; non2xx: number }> {
  const r = await autocannon({ url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, duration: seconds, requests });
  return { rps: r.requests.average, non2xx: r.non2xx };
}


async function throughput(): Promise<Record<string, string | number>> {
  await using dir = await tempDir('caic-bench-hooks-');
  const forge = await startForgeStandin();
  forge.addToken(PAT, 'bench');
  await forgeRepo(forge, dir.path, join(dir.path, 'root'));
  // Every watched SHA has finished CI on the forge: each delivery's refresh reads it.
  for (const sha of SHAS) forge.setCheckRuns('acme/proj', sha, [{ name: 'test', status: 'completed', conclusion: 'success' }]);
  const servers = { bare: await start('bare'), caic: await start('caic', { url: forge.url, githubApi: forge.githubApi, dir: dir.path }) };
  const requests = await deliveries();
  const rps: Record<Variant, number[]> = { bare: [], caic: [] };
  const perCpu: Record<Variant, number[]> = { bare: [], caic: [] };
  try {
    for (const v of ['bare', 'caic'] as const) await load(servers[v].ready.port, requests, WARMUP_S);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of round % 2 ? (['bare', 'caic'] as const) : (['caic', 'bare'] as const)) {
        const before = await cpuOf(servers[v].proc);
        const r = await load(servers[v].ready.port, requests, DURATION_S);
        const cpu = (await cpuOf(servers[v].proc)) - before;
        if (r.non2xx > 0) throw new Error(`${v}: ${r.non2xx} non-2xx answers; the bench setup is wrong`);
        rps[v].push(r.rps);
        perCpu[v].push((r.rps * DURATION_S) / cpu);
      }
      console.log(
        `round ${round}  bare ${rps.bare.at(-1)!.toFixed(0)} deliveries/s  caic ${rps.caic.at(-1)!.toFixed(0)} deliveries/s  ratio ${(rps.caic.at(-1)! / rps.bare.at(-1)!).toFixed(3)}` +
          `  per server CPU-second ${(perCpu.caic.at(-1)! / perCpu.bare.at(-1)!).toFixed(3)}`,
      );
    }
  } finally {
    servers.bare.proc.kill('SIGKILL');
    servers.caic.proc.kill('SIGKILL');
    await forge.close();
  }
  const r = ratios(rps.caic, rps.bare);
  const c = ratios(perCpu.caic, perCpu.bare);
  console.log(`\nbare route (verify only)  ${spread(rps.bare)} deliveries/s`);
  console.log(`caic /webhooks/github     ${spread(rps.caic)} deliveries/s (${servers.caic.ready.watched} watched SHAs)`);
  console.log(`ratio caic/bare           ${spread(r, 3)} (target >= 0.7)`);
  console.log(`ratio per server CPU-s    ${spread(c, 3)} (load-generator contention factored out)`);
  console.log(`(${ROUNDS} rounds × ${DURATION_S} s per variant, ${CONNECTIONS} connections, ${PINNED ? 'load generator and stand-in on CPU 0, servers on CPU 1' : 'not pinned'})`);
  return { 'caic/bare': spread(r, 3), per_cpu: spread(c, 3), bare_rps: spread(rps.bare), caic_rps: spread(rps.caic), watched: servers.caic.ready.watched };
}

/**
 * check_suite delivery → the CI summary as the agent's input, on a fake-agent task with a pull
 * request on the stand-in: each sample is a new commit (the agent edits, sync pushes), whose
 * failing check run is set on the forge before the delivery says so.
 */
async function latency(): Promise<Record<string, string | number>> {
  await using dir = await tempDir('caic-bench-hooks-');
  const forge = await startForgeStandin();
  forge.addToken(PAT, 'bench');
  const root = join(dir.path, 'root');
  await forgeRepo(forge, dir.path, root);
  const configDir = join(dir.path, 'config');
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  await writeFile(join(configDir, 'config.toml'), configOf(forge, root));
  // Polling would find the failure by itself; here only the webhook may bring it.
  const daemon = (await startDaemon({
    configDir,
    cacheDir: join(dir.path, 'cache'),
    env: {},
    logLevel: 'warn',
    port: 0,
    startDir: dir.path,
    ...({ forge: { watch: { pendingMs: 3_600_000, idleMaxMs: 3_600_000 } } } as object),
  })) as WithForge;
  let taskId = '';
  try {
    const forgeSide = daemon.forge;
    if (!forgeSide?.watcher || !forgeSide.sync) {
      console.log('\ncheck_suite → agent: skipped (this daemon has no CI watcher)');
      return { ci_to_agent: 'n/a' };
    }
    const tasks = daemon.tasks;
    const task = await tasks.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_DEMO' } }, null);
    taskId = task.id;
    const waitFor = (pred: (e: EventMessage) => boolean, what: string, ms = 60_000) =>
      new Promise<void>((resolve, reject) => {
        let stop = () => {};
        const timer = setTimeout(() => (stop(), reject(new Error(`no ${what} within ${ms} ms`))), ms);
        void tasks.subscribe(task.id, null, Number.MAX_SAFE_INTEGER, (events) => {
          if (events.some(pred)) {
            clearTimeout(timer);
            stop();
            resolve();
          }
        }).then((s) => (stop = s.unsubscribe));
      });
    const settled = async () => {
      for (let i = 0; i < 600 && tasks.get(task.id, null).state !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 50));
    };
    await settled();
    const times: number[] = [];
    const url = daemon.url;
    for (let i = 0; i < SAMPLES; i++) {
      if (i > 0) {
        await tasks.input(task.id, { text: `FAKE_DEMO round ${i}` }, null);
        await settled();
      }
      const synced = await forgeSide.sync(task.id, { target: 'pr' }, null);
      const branch = synced.branch;
      const sha = await forge.head('acme/proj', branch);
      forge.setCheckRuns('acme/proj', sha, [
        { name: 'test', status: 'completed', conclusion: 'failure', actions: { steps: [{ name: 'npm test', conclusion: 'failure' }], log: actionsLog([{ name: 'npm test', lines: [`round ${i}`], error: 'Process completed with exit code 1.' }]) } },
      ]);
      const body = payloadFor('check_suite', 'completed', sha);
      const got = waitFor((e) => e.kind === 'userInput' && JSON.stringify(e).includes(`CI failed on ${sha.slice(0, 10)}`), 'CI summary at the agent');
      const t0 = performance.now();
      await fetch(`${url}${PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'check_suite', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign(SECRET, body) },
        body,
      });
      await got;
      times.push(performance.now() - t0);
      await settled();
    }
    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    console.log(`\ncheck_suite → CI summary at the agent: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${times.length} samples)`);
    return { ci_to_agent_p50_ms: p50, ci_to_agent_p99_ms: p99, samples: times.length };
  } finally {
    // The daemon leaves containers running when it closes (a restart adopts them): this one is the bench's.
    if (taskId) await daemon.tasks.purge(taskId, null).catch((err: unknown) => console.error(`purging the bench task failed: ${(err as Error).message}`));
    await daemon.close();
    await forge.close();
    await removeRepoImages(new Dockerode(), dir.path);
  }
}

async function main(): Promise<void> {
  console.log(machine());
  // BENCH_PART=throughput or latency runs one half.
  const part = process.env.BENCH_PART ?? 'all';
  const a = part === 'latency' ? {} : await throughput();
  const b = part === 'throughput' ? {} : await latency();
  summary('bench:webhooks', { ...a, ...b });
}

if (process.argv[2] === 'serve') void child(process.argv[3] as Variant);
else await main();

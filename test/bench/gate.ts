// npm run bench:gate — req/s of a bare Fastify route vs the same route behind the caic edge
// (gate with GeoIP + 1,000 CIDRs via a trusted proxy, host lock, session JWT), side by side.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { loadOrCreateSettings, UserStore } from '../../src/config/index.js';
import { startDaemon } from '../../src/daemon.js';
import { SessionManager } from '../../src/http/index.js';
import { writeCountryMmdb } from '../helpers/mmdb-writer.js';
import { tempDir } from '../helpers/tmp.js';
import { cpuOf, spread, summary } from './lib.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 3);
const WARMUP_S = 3;
const CONNECTIONS = 10;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const PATH = '/api/v1/bench';

type Variant = 'bare' | 'gated';
interface Ready {
  port: number;
  /** Per-request headers to cycle through: forwarded client address + bearer token (gated only). */
  headers: Record<string, string>[];
}

/** 1,000 allowlisted /24s in public space, plus the client addresses the load uses. */
function fixtures() {
  const cidrs: string[] = [];
  for (let i = 0; cidrs.length < 1000; i++) cidrs.push(`${20 + (i % 60)}.${(i * 7) % 256}.${Math.floor(i / 60)}.0/24`);
  const viaCidr = cidrs.slice(0, 50).map((c) => c.replace('.0/24', '.10'));
  const viaCountry = Array.from({ length: 50 }, (_, i) => `185.${i}.3.4`);
  return { cidrs, clients: [...viaCidr, ...viaCountry] };
}

async function serveBare(): Promise<Ready> {
  const app = Fastify({ logger: false });
  app.get(PATH, () => ({ ok: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (app.server.address() as { port: number }).port, headers: [{}] };
}

async function serveGated(): Promise<Ready> {
  const dir = await tempDir('caic-bench-');
  const configDir = join(dir.path, 'config');
  await mkdir(configDir, { recursive: true });
  const { cidrs, clients } = fixtures();
  // A geo database with as many networks as the allowlist; the "CA" block holds the country clients.
  await writeCountryMmdb(join(configDir, 'GeoLite2-Country.mmdb'), [
    { cidr: '185.0.0.0/10', country: 'CA' },
    ...Array.from({ length: 1000 }, (_, i) => ({ cidr: `${100 + (i % 80)}.${i % 256}.${Math.floor(i / 256)}.0/24`, country: 'DE' })),
  ]);
  await writeFile(
    join(configDir, 'config.toml'),
    `[server]
allow_origins = ["local", "tailscale", "anthropic", "CA", "US", ${cidrs.map((c) => `"${c}"`).join(', ')}]
trusted_proxies = ["127.0.0.1"]
external_url = "https://caic.bench.example"
[github.oauth]
client_id = "bench"
client_secret = "bench-secret-bench-secret"
allowed_users = ["bench"]
`,
  );
  const settings = await loadOrCreateSettings(configDir);
  const users = await UserStore.open(configDir);
  const user = await users.upsert({ provider: 'github', providerId: '1', username: 'bench', avatarURL: '', accessToken: 'gho_bench' });
  const { token } = await new SessionManager(settings.sessionSecret, users, { ttlSeconds: 3600, isAllowed: () => true }).issue(user);
  const daemon = await startDaemon({
    configDir,
    cacheDir: join(dir.path, 'cache'),
    env: {},
    logLevel: 'info',
    port: 0,
    extend: (app) => {
      app.get(PATH, () => ({ ok: true })); // under /api/: requires the session
    },
  });
  const port = Number(new URL(daemon.url).port);
  return { port, headers: clients.map((ip) => ({ 'x-forwarded-for': ip, authorization: `Bearer ${token}` })) };
}

async function child(variant: Variant): Promise<void> {
  const ready = variant === 'bare' ? await serveBare() : await serveGated();
  process.send!(ready);
  process.on('message', (m) => {
    // CPU time the server spent, so load-generator contention can be factored out.
    if (m === 'cpu') process.send!(process.cpuUsage());
    // A clean exit on request lets `--cpu-prof` write its profile.
    if (m === 'exit') process.exit(0);
  });
}


/**
 * On a 2-core machine the load generator and the server fight for CPU, and the scheduler's
 * choices swamp the difference being measured. When `taskset` exists, each gets its own core.
 */
const PINNED = cpus().length >= 2 && spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;

function start(variant: Variant): Promise<{ proc: ChildProcess; ready: Ready }> {
  const proc = fork(fileURLToPath(import.meta.url), ['serve', variant], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    ...(PINNED ? { execPath: 'taskset', execArgv: ['-c', '1', process.execPath] } : {}),
  });
  return new Promise((resolve, reject) => {
    proc.once('message', (ready) => resolve({ proc, ready: ready as Ready }));
    proc.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
}

async function load(port: number, headers: Record<string, string>[], seconds: number): Promise<{ rps: number; p99: number; non2xx: number; total: number }> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: headers.map((h) => ({ method: 'GET', path: PATH, headers: h })),
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, total: result.requests.total };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  // Both servers stay up (on the same core) and take turns under load; each round pairs one run
  // of each, in alternating order, and the median of the per-round ratios resists the noise of a
  // shared machine better than a ratio of sums.
  const servers = { bare: await start('bare'), gated: await start('gated') };
  const rps: Record<Variant, number[]> = { bare: [], gated: [] };
  const perCpu: Record<Variant, number[]> = { bare: [], gated: [] };
  const ratios: number[] = [];
  // Both variants get byte-identical requests (forwarded address + bearer token); the bare server
  // ignores the headers. Otherwise the load generator's own cost would differ between the two.
  const requestHeaders = servers.gated.ready.headers;
  const cpuRatios: number[] = [];
  try {
    for (const variant of ['bare', 'gated'] as const) await load(servers[variant].ready.port, requestHeaders, WARMUP_S); // JIT, caches
    for (let round = 1; round <= ROUNDS; round++) {
      const order: Variant[] = round % 2 ? ['bare', 'gated'] : ['gated', 'bare'];
      for (const variant of order) {
        const { proc, ready } = servers[variant];
        const cpuBefore = await cpuOf(proc);
        const r = await load(ready.port, requestHeaders, DURATION_S);
        const cpu = (await cpuOf(proc)) - cpuBefore;
        if (r.non2xx > 0) throw new Error(`${variant}: ${r.non2xx} non-2xx answers; the bench setup is wrong`);
        rps[variant].push(r.rps);
        perCpu[variant].push(r.total / cpu);
      }
      ratios.push(rps.gated.at(-1)! / rps.bare.at(-1)!);
      cpuRatios.push(perCpu.gated.at(-1)! / perCpu.bare.at(-1)!);
      console.log(
        `round ${String(round).padStart(2)}  bare ${rps.bare.at(-1)!.toFixed(0).padStart(6)} req/s  ` +
          `gated ${rps.gated.at(-1)!.toFixed(0).padStart(6)} req/s  ratio ${ratios.at(-1)!.toFixed(3)}  ` +
          `per CPU-second ${cpuRatios.at(-1)!.toFixed(3)}`,
      );
    }
  } finally {
    servers.bare.proc.kill('SIGKILL');
    servers.gated.proc.kill('SIGKILL');
  }
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;
  console.log(`\nbare Fastify route        ${median(rps.bare).toFixed(0)} req/s (median)`);
  console.log(`behind gate + session     ${median(rps.gated).toFixed(0)} req/s (median)`);
  console.log(`ratio gated/bare          ${median(ratios).toFixed(3)} median of ${ROUNDS} paired rounds (range ${range(ratios)}); target >= 0.8`);
  console.log(`ratio per server CPU-s    ${median(cpuRatios).toFixed(3)} median (range ${range(cpuRatios)}): load-generator contention factored out`);
  console.log(
    `(${ROUNDS} rounds × ${DURATION_S} s per variant, ${CONNECTIONS} connections, node ${process.version}, ` +
      `${PINNED ? 'load generator on CPU 0, servers on CPU 1' : 'not pinned'})`,
  );
  summary('bench:gate', { 'gated/bare': spread(ratios, 3), 'per_cpu': spread(cpuRatios, 3), bare_rps: spread(rps.bare), gated_rps: spread(rps.gated) });
}

if (process.argv[2] === 'serve') void child(process.argv[3] as Variant);
else await main();

// npm run bench:gate — req/s of a bare Fastify route vs the same route behind the caic edge
// (gate with GeoIP + 1,000 CIDRs via a trusted proxy, host lock, session JWT), side by side.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { loadOrCreateSettings, UserStore } from '../src/config/index.js';
import { startDaemon } from '../src/daemon.js';
import { SessionManager } from '../src/http/index.js';
import { writeCountryMmdb } from '../test/helpers/mmdb-writer.js';
import { tempDir } from '../test/helpers/tmp.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = 10;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PATH = '/api/v1/bench';

type Variant = 'bare' | 'gated';
interface Ready {
  port: number;
  /** Per-request headers to cycle through (gated: forwarded client address + bearer token). */
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
  const { token } = await new SessionManager(settings.sessionSecret, users, { ttlSeconds: 3600 }).issue(user);
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

function cpuOf(proc: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    proc.once('message', (u) => {
      const { user, system } = u as NodeJS.CpuUsage;
      resolve((user + system) / 1e6);
    });
    proc.send('cpu');
  });
}

function start(variant: Variant): Promise<{ proc: ChildProcess; ready: Ready }> {
  const proc = fork(fileURLToPath(import.meta.url), ['serve', variant], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    proc.once('message', (ready) => resolve({ proc, ready: ready as Ready }));
    proc.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
}

async function load(ready: Ready): Promise<{ rps: number; p99: number; non2xx: number; total: number }> {
  const result = await autocannon({
    url: `http://127.0.0.1:${ready.port}`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: ready.headers.map((headers) => ({ method: 'GET', path: PATH, headers })),
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, total: result.requests.total };
}

async function main(): Promise<void> {
  const totals: Record<Variant, number[]> = { bare: [], gated: [] };
  const perCpuSecond: Record<Variant, number[]> = { bare: [], gated: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate the order so drift on a shared machine hits both variants alike.
    const order: Variant[] = round % 2 ? ['bare', 'gated'] : ['gated', 'bare'];
    for (const variant of order) {
      const { proc, ready } = await start(variant);
      try {
        await load({ ...ready }); // warm-up: JIT, caches, connection pools
        const cpuBefore = await cpuOf(proc);
        const r = await load(ready);
        const cpu = (await cpuOf(proc)) - cpuBefore;
        if (r.non2xx > 0) throw new Error(`${variant}: ${r.non2xx} non-2xx answers; the bench setup is wrong`);
        totals[variant].push(r.rps);
        perCpuSecond[variant].push(r.total / cpu);
        console.log(
          `round ${round} ${variant.padEnd(5)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99} ms  ` +
            `server CPU ${((cpu / DURATION_S) * 100).toFixed(0)}%  ${(r.total / cpu).toFixed(0)} req per CPU-second`,
        );
      } finally {
        proc.kill('SIGKILL');
      }
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const bare = mean(totals.bare);
  const gated = mean(totals.gated);
  console.log(`\nbare Fastify route        ${bare.toFixed(0)} req/s`);
  console.log(`behind gate + session     ${gated.toFixed(0)} req/s`);
  console.log(`ratio gated/bare          ${(gated / bare).toFixed(3)}  (target >= 0.8)`);
  const cpuRatio = mean(perCpuSecond.gated) / mean(perCpuSecond.bare);
  console.log(`ratio per server CPU-second ${cpuRatio.toFixed(3)}  (load generator contention factored out)`);
  console.log(`(${ROUNDS} rounds × ${DURATION_S} s, ${CONNECTIONS} connections, node ${process.version})`);
}

if (process.argv[2] === 'serve') void child(process.argv[3] as Variant);
else await main();

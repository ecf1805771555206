// `npm run bench:mcp`: tools/call tasks_list over MCP against GET /api/v1/tasks over REST, same daemon, same 100 tasks.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { ulid } from 'ulid';
import { startDaemon } from '../../src/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { benchRefreshes } from './oauth-refresh.js';
import { machine, median, spread, summary } from './lib.js';

const TASKS = 100;
const CONNECTIONS = 10;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const STATES = ['waiting', 'running', 'asking', 'stopped', 'purged'];

/** 100 finished or resting tasks as logs (head and tail are all the list needs). */
async function writeLogs(cacheDir: string): Promise<void> {
  const dir = join(cacheDir, 'tasks');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  for (let i = 0; i < TASKS; i++) {
    const id = ulid(t0 + i * 1000).toLowerCase();
    const repos = [{ name: 'proj', baseBranch: 'main', branch: `caic-${i + 1}` }];
    const meta = { type: 'caic_meta', version: 1, id, title: `Bench task ${i}: refactor module ${i % 17}`, prompt: 'Refactor the modules', repos, harness: 'claude', model: 'sonnet', sudo: false, owner: '', ownerName: '', createdAt: new Date(t0 + i * 1000).toISOString() };
    const state = STATES[i % STATES.length];
    const diffStat = Array.from({ length: i % 7 }, (_, k) => ({ path: `src/module${k}.ts`, added: 10 + k, deleted: k, binary: false }));
    const s = { title: meta.title, costUSD: 0.5 + i / 100, durationMs: 60_000, numTurns: 3, tokens: { inputTokens: 1000, outputTokens: 200, cacheCreationInputTokens: 0, cacheReadInputTokens: 5000 }, activeInputTokens: 0, diffStat, result: `Done with module ${i % 17}.`, error: '', sessionId: 's', agentVersion: '2.1.330', model: 'sonnet', planContent: '', container: '' };
    const text = `${JSON.stringify(meta)}\n${JSON.stringify({ type: 'caic_state', state, summary: s })}\n`;
    const fh = await open(join(dir, `${id}.jsonl`), 'w', 0o600);
    await fh.writeFile(text);
    await fh.close();
  }
}

/** The daemon under test, in its own process (and on its own core when taskset exists). */
async function serve(configDir: string, cacheDir: string): Promise<void> {
  const d = await startDaemon({
    configDir,
    cacheDir,
    env: {},
    port: 0,
    logLevel: 'warn',
    startDir: cacheDir,
    // The benchmark measures the endpoint, not the per-caller limit.
    mcp: { rateLimit: { max: 1e9, windowMs: 60_000 } },
  });
  process.send!({ url: d.url });
}

const PINNED = cpus().length >= 2 && spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;

function start(configDir: string, cacheDir: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = fork(fileURLToPath(import.meta.url), ['serve', configDir, cacheDir], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    ...(PINNED ? { execPath: 'taskset', execArgv: ['-c', '1', process.execPath] } : {}),
  });
  return new Promise((resolve, reject) => {
    proc.once('message', (m) => resolve({ proc, url: (m as { url: string }).url }));
    proc.once('exit', (code) => reject(new Error(`daemon exited with ${code}`)));
  });
}

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function mcpSession(url: string): Promise<Record<string, string>> {
  const init = await fetch(`${url}/api/v1/mcp`, {
    method: 'POST',
    headers: MCP_HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
  });
  if (!init.ok) throw new Error(`initialize: ${init.status} ${await init.text()}`);
  const headers = { ...MCP_HEADERS, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
  await fetch(`${url}/api/v1/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  return headers;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  bytes: number;
}

async function load(url: string, path: string, opts: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string }): Promise<Run> {
  const r = await autocannon({ url: `${url}${path}`, connections: CONNECTIONS, duration: DURATION_S, method: opts.method, ...(opts.headers ? { headers: opts.headers } : {}), ...(opts.body ? { body: opts.body } : {}) });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx + r.errors, bytes: r.throughput.average / Math.max(1, r.requests.average) };
}

async function main(): Promise<void> {
  await using dir = await tempDir('caic-bench-mcp-');
  const configDir = join(dir.path, 'config');
  const cacheDir = join(dir.path, 'cache');
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  await writeLogs(cacheDir);
  const { proc, url } = await start(configDir, cacheDir);
  try {
    const headers = await mcpSession(url);
    const call = (limit: number) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'tasks_list', arguments: { limit } } });
    // What each answers: REST the 100 tasks whole, MCP a page of 50 summaries (its maximum) plus a text rendering.
    const rest = await (await fetch(`${url}/api/v1/tasks`)).json() as unknown[];
    const mcp = await (await fetch(`${url}/api/v1/mcp`, { method: 'POST', headers, body: call(50) })).json() as { result: { structuredContent: { tasks: unknown[] } } };
    if (rest.length !== TASKS || mcp.result.structuredContent.tasks.length !== 50) throw new Error('unexpected answers');
    const variants = {
      rest: () => load(url, '/api/v1/tasks', { method: 'GET' }),
      mcp: () => load(url, '/api/v1/mcp', { method: 'POST', headers, body: call(50) }),
    };
    for (const v of Object.values(variants)) await v(); // warm-up: JIT, caches
    const runs: Record<keyof typeof variants, Run[]> = { rest: [], mcp: [] };
    const ratios: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 ? (['rest', 'mcp'] as const) : (['mcp', 'rest'] as const);
      for (const v of order) runs[v].push(await variants[v]());
      const rr = runs.rest.at(-1)!;
      const mr = runs.mcp.at(-1)!;
      ratios.push(mr.rps / rr.rps);
      console.log(`round ${round}: REST ${rr.rps.toFixed(0)} req/s p50 ${rr.p50} ms p99 ${rr.p99} ms | MCP ${mr.rps.toFixed(0)} req/s p50 ${mr.p50} ms p99 ${mr.p99} ms | MCP/REST ${(mr.rps / rr.rps).toFixed(2)}`);
      if (rr.non2xx || mr.non2xx) throw new Error(`errors: REST ${rr.non2xx}, MCP ${mr.non2xx}`);
    }
    const col = (v: keyof typeof runs, k: keyof Run) => runs[v].map((r) => r[k]);
    console.log(`\n${machine()}; ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION_S} s each, alternating`);
    console.log(`REST GET /api/v1/tasks (100 tasks, ${Math.round(median(col('rest', 'bytes')) / 1024)} KiB): ${spread(col('rest', 'rps'))} req/s, p50 ${spread(col('rest', 'p50'))} ms, p99 ${spread(col('rest', 'p99'))} ms`);
    console.log(`MCP tools/call tasks_list (50 of them, ${Math.round(median(col('mcp', 'bytes')) / 1024)} KiB): ${spread(col('mcp', 'rps'))} req/s, p50 ${spread(col('mcp', 'p50'))} ms, p99 ${spread(col('mcp', 'p99'))} ms`);
    // Per task listed: REST answers 100 per request, MCP 50 (a client wanting all 100 pages twice).
    const perTask = ratios.map((r) => (r * 50) / TASKS);
    console.log(`MCP/REST req/s: ${spread(ratios, 2)} (target ≥ 0.7); tasks listed per second: ${spread(perTask, 2)}`);
    summary('mcp', {
      rest_rps: spread(col('rest', 'rps')),
      rest_p50_ms: spread(col('rest', 'p50')),
      rest_p99_ms: spread(col('rest', 'p99')),
      mcp_rps: spread(col('mcp', 'rps')),
      mcp_p50_ms: spread(col('mcp', 'p50')),
      mcp_p99_ms: spread(col('mcp', 'p99')),
      mcp_over_rest: spread(ratios, 2),
      mcp_over_rest_per_task: spread(perTask, 2),
    });
  } finally {
    proc.kill();
  }
  // In the same run, the other number the endpoint's clients live by: token refreshes per second.
  console.log('\ntoken endpoint (refresh_token grant, rotation on every use):');
  summary('oauth', await benchRefreshes());
}

if (process.argv[2] === 'serve') void serve(process.argv[3]!, process.argv[4]!);
else await main();

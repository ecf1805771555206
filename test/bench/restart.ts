// npm run bench:restart — 1 GiB of task logs on disk: time until the daemon answers /readyz, its
// RSS with those 100 idle tasks listed, and how fast a task's full history replays.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { open, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ulid } from 'ulid';
import { HARNESSES } from '../../src/agents/index.js';
import { replayLog } from '../../src/tasks/index.js';
import { http } from '../helpers/http.js';
import { SseClient } from '../helpers/sse.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { median, spread, summary } from './lib.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 100);
const MB_PER_TASK = Number(process.env.BENCH_MB_PER_TASK ?? 10.24);
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const SID = '5d1e6b4a-0c1f-4f39-9a51-2a3b1c7f0e11';

/** One turn of a Claude Code session as it lands in a log: deltas, messages, tools, a result. */
function turn(n: number, t: number): string[] {
  const ts = (ms: number) => JSON.stringify({ type: 'caic_clock', ts: new Date(t + ms).toISOString() });
  const lines = [ts(0), JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: `Turn ${n}: please continue with the refactoring of module ${n % 17}.` }] } })];
  for (let i = 0; i < 40; i++) {
    lines.push(JSON.stringify({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `word${i} of turn ${n} ` } }, session_id: SID, parent_tool_use_id: null, uuid: ulid() }));
    if (i % 10 === 9) lines.push(ts(i * 30));
  }
  const toolId = `toolu_${ulid()}`;
  lines.push(
    JSON.stringify({
      type: 'assistant',
      message: {
        id: `msg_${ulid()}`,
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-6',
        content: [
          { type: 'text', text: `I will now edit src/module${n % 17}.ts to extract the helper functions. `.repeat(4) },
          { type: 'tool_use', id: toolId, name: 'Edit', input: { file_path: `/home/user/src/proj/src/module${n % 17}.ts`, old_string: 'x'.repeat(300), new_string: 'y'.repeat(300) } },
        ],
        stop_reason: null,
        usage: { input_tokens: 1200, cache_creation_input_tokens: 300, cache_read_input_tokens: 50_000, output_tokens: 400 },
      },
      parent_tool_use_id: null,
      session_id: SID,
      uuid: ulid(),
    }),
    ts(1500),
    JSON.stringify({ type: 'user', message: { role: 'user', content: [{ tool_use_id: toolId, type: 'tool_result', content: `The file has been updated.\n${'   42→ const value = compute(input);\n'.repeat(60)}` }] }, parent_tool_use_id: null, session_id: SID, uuid: ulid() }),
    JSON.stringify({ type: 'result', subtype: 'success', is_error: false, duration_ms: 15234, duration_api_ms: 14000, num_turns: n, result: `Turn ${n} done.`, session_id: SID, total_cost_usd: n * 0.01, usage: { input_tokens: 1220, cache_creation_input_tokens: 300, cache_read_input_tokens: 5000, output_tokens: 120 } }),
  );
  return lines;
}

async function writeLogs(cacheDir: string): Promise<{ bytes: number; ids: string[] }> {
  const dir = join(cacheDir, 'caic', 'tasks');
  await mkdir(dir, { recursive: true });
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  const body: string[] = [JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' })];
  let size = 0;
  for (let n = 1; size < MB_PER_TASK * 1024 * 1024; n++) {
    const lines = turn(n, t0 + n * 60_000);
    size += lines.reduce((a, l) => a + l.length + 1, 0);
    body.push(...lines);
  }
  const bodyText = `${body.join('\n')}\n`;
  const ids: string[] = [];
  let bytes = 0;
  for (let i = 0; i < TASKS; i++) {
    const id = ulid(t0 + i * 1000).toLowerCase();
    ids.push(id);
    const meta = { type: 'caic_meta', version: 1, id, title: `Bench task ${i}`, prompt: 'Refactor the modules', repos: [], harness: 'claude', model: 'sonnet', sudo: false, owner: '', ownerName: '', createdAt: new Date(t0 + i * 1000).toISOString() };
    const trailer = { type: 'caic_result', state: 'purged', summary: { title: `Bench task ${i}`, costUSD: 1.23, durationMs: 1000, numTurns: 10, tokens: { inputTokens: 1, outputTokens: 1, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 }, activeInputTokens: 0, diffStat: [], result: 'done', error: '', sessionId: SID, agentVersion: '2.1.330', model: 'sonnet', planContent: '', container: '' }, lastEventId: 0 };
    const text = `${JSON.stringify(meta)}\n${bodyText}${JSON.stringify({ type: 'caic_state', state: 'purged' })}\n${JSON.stringify(trailer)}\n`;
    const fh = await open(join(dir, `${id}.jsonl`), 'w', 0o600);
    await fh.writeFile(text);
    await fh.close();
    bytes += Buffer.byteLength(text);
  }
  return { bytes, ids };
}

async function main(): Promise<void> {
  await using dir = await tempDir('caic-bench-restart-');
  const cacheHome = join(dir.path, 'cache');
  const { bytes, ids } = await writeLogs(cacheHome);
  console.log(`${TASKS} task logs, ${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB on disk`);

  // In-process replay: reading the log and the transcript interpreter, no HTTP. Each round also
  // times a floor on the same file (read it whole, split, JSON.parse every line, keep nothing) so
  // the ratio between the two survives this machine's noise. Round 0 warms up.
  const path = join(cacheHome, 'caic', 'tasks', `${ids[0]}.jsonl`);
  const size = (await stat(path)).size;
  const rates: number[] = [];
  const floors: number[] = [];
  const ratios: number[] = [];
  let events = 0;
  for (let round = 0; round < 6; round++) {
    let started = performance.now();
    const t = await replayLog(path, HARNESSES);
    const ours = (performance.now() - started) / 1000;
    events = t.events.length;
    started = performance.now();
    let parsed = 0;
    for (const line of (await readFile(path, 'utf8')).split('\n')) if (line) parsed += JSON.parse(line) ? 1 : 0;
    const floor = (performance.now() - started) / 1000;
    if (parsed === 0) throw new Error('floor parsed nothing');
    if (round === 0) continue;
    rates.push(size / 1024 / 1024 / ours);
    floors.push(size / 1024 / 1024 / floor);
    ratios.push(floor / ours);
  }
  const list = (xs: number[]) => xs.map((r) => r.toFixed(0)).join(', ');
  console.log(`replay (log → events): median ${median(rates).toFixed(0)} MB/s over ${(size / 1024 / 1024).toFixed(1)} MB, ${events} events, 5 runs [${list(rates)}]   (target >= 150 MB/s)`);
  console.log(`floor (readFile + split + JSON.parse, same file): median ${median(floors).toFixed(0)} MB/s [${list(floors)}]; replay/floor median ${median(ratios).toFixed(2)} [${ratios.map((r) => r.toFixed(2)).join(', ')}]`);

  const port = await freePort();
  const configDir = join(dir.path, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'config.toml'), `[core]\nroot = "${dir.path}"\n[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  const started = performance.now();
  const daemon = spawn(process.execPath, [CLI, '--config-dir', configDir, '--log-level', 'warn'], { env: { ...process.env, XDG_CACHE_HOME: cacheHome }, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (;;) {
      const r = await http(`${url}/readyz`).catch(() => null);
      if (r?.status === 200) break;
      await new Promise((res) => setTimeout(res, 5));
    }
    const readyMs = performance.now() - started;
    const listed = (await http(`${url}/api/v1/tasks`)).json<unknown[]>().length;
    const rss = () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : 0;
    };
    console.log(`daemon start → /readyz 200: ${readyMs.toFixed(0)} ms with ${listed} tasks listed   (target <= 1000 ms; includes Node start-up)`);
    await new Promise((r) => setTimeout(r, 500));
    const idleRss = rss();
    console.log(`RSS with ${listed} idle tasks: ${idleRss.toFixed(0)} MB   (target <= 150 MB)`);

    const t0 = performance.now();
    const sse = new SseClient(`${url}/api/v1/tasks/${ids[1]}/events`);
    await sse.waitFor((ev) => ev.some((e) => e.event === 'ready'), 120_000, 'full replay');
    const s = (performance.now() - t0) / 1000;
    const events = sse.events.length;
    sse.close();
    console.log(`replay over SSE (load + stream every event): ${((bytes / TASKS) / 1024 / 1024 / s).toFixed(0)} MB/s, ${events} events in ${s.toFixed(2)} s`);
    const after = rss();
    console.log(`RSS after replaying one task: ${after.toFixed(0)} MB`);
    summary('bench:restart', {
      replay_mbs: spread(rates),
      'replay/floor': spread(ratios, 2),
      ready_ms: Math.round(readyMs),
      idle_rss_mb: Math.round(idleRss),
      sse_replay_mbs: Math.round(bytes / TASKS / 1024 / 1024 / s),
      rss_after_mb: Math.round(after),
    });
  } finally {
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
  }
}

await main();

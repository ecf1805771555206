// npm run bench:web — the web UI's budgets, measured in real Chromium against the real daemon:
// initial JS (gzip), time to the first task list, opening a 10,000-event transcript, and long
// tasks while scrolling it. Task logs are written to the cache directory; no container is needed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { ulid } from 'ulid';
import { CHROMIUM_PATH } from '../helpers/browser.js';
import { http } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { median, spread, summary } from './lib.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TASKS = 30;
const SID = '5d1e6b4a-0c1f-4f39-9a51-2a3b1c7f0e11';

// In-page scripts are strings: this file is compiled for Node (no DOM types).
/** Records every long task (> 50 ms on the main thread) from the first script on. */
const LONG_TASKS = `window.__long = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask', buffered: true });`;
/** Scrolls the transcript from the bottom to the top in 40 steps, one per frame. */
const SCROLL = `(async () => {
  window.__long = [];
  const el = document.querySelector('[data-testid="transcript"]');
  const frames = [];
  let last = performance.now();
  const step = el.scrollHeight / 40;
  for (let i = 0; i < 40; i++) {
    el.scrollTop = el.scrollHeight - (i + 1) * step;
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    frames.push(now - last);
    last = now;
  }
  await new Promise((r) => setTimeout(r, 200));
  return { long: Math.max(0, ...window.__long), maxFrame: Math.max(...frames) };
})()`;

/** Gzip size of the JS the first page load needs: index.html's module script and its preloads. */
function initialJs(): { files: string[]; gzip: number; raw: number } {
  const html = readFileSync(join(WEB_DIST, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
  let gzip = 0;
  let raw = 0;
  for (const f of files) {
    raw += statSync(join(WEB_DIST, f)).size;
    gzip += statSync(join(WEB_DIST, `${f}.gz`)).size;
  }
  return { files, gzip, raw };
}

/** A Claude Code session of `turns` turns: text, a tool call and its result, a result every 10. */
function sessionLines(turns: number): string[] {
  const lines = [JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' })];
  for (let n = 1; n <= turns; n++) {
    const toolId = `toolu_${ulid()}`;
    lines.push(
      JSON.stringify({ type: 'assistant', message: { id: `msg_${n}`, role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: `Step ${n}: I will **edit** \`src/module${n % 17}.ts\` to extract the helper.\n\n- keep the API\n- add a test` }] }, session_id: SID }),
      JSON.stringify({ type: 'assistant', message: { id: `msg_${n}b`, role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: toolId, name: n % 3 ? 'Edit' : 'Bash', input: n % 3 ? { file_path: `/home/user/src/proj/src/module${n % 17}.ts`, old_string: 'a'.repeat(80), new_string: 'b'.repeat(80) } : { command: `npm test -- module${n}` } }] }, session_id: SID }),
      JSON.stringify({ type: 'user', message: { role: 'user', content: [{ tool_use_id: toolId, type: 'tool_result', content: `ok\n${'  42→ const value = compute(input);\n'.repeat(8)}` }] }, session_id: SID }),
    );
    if (n % 10 === 0) lines.push(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, duration_ms: 15234, num_turns: n, result: `Turn ${n} done.`, session_id: SID, total_cost_usd: n * 0.001, usage: { input_tokens: 10, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } }));
  }
  return lines;
}

async function writeTask(dir: string, i: number, title: string, body: string[]): Promise<string> {
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  const id = ulid(t0 + i * 1000).toLowerCase();
  const meta = { type: 'caic_meta', version: 1, id, title, prompt: title, repos: [{ name: `repo${i % 4}`, baseBranch: 'main', branch: `caic-${i}` }], harness: 'claude', model: 'sonnet', sudo: false, owner: '', ownerName: '', createdAt: new Date(t0 + i * 1000).toISOString() };
  const fh = await open(join(dir, `${id}.jsonl`), 'w', 0o600);
  await fh.writeFile(`${[JSON.stringify(meta), ...body, JSON.stringify({ type: 'caic_state', state: 'stopped' })].join('\n')}\n`);
  await fh.close();
  return id;
}

async function measure(page: Page, url: string, ready: string): Promise<number> {
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForSelector(ready, { timeout: 60_000 });
  // performance.now() counts from the navigation's start.
  return page.evaluate<number>('performance.now()');
}

async function main(): Promise<void> {
  const js = initialJs();
  console.log(`initial JS: ${(js.gzip / 1024).toFixed(1)} KB gzip (${(js.raw / 1024).toFixed(0)} KB raw) in ${js.files.length} file(s)   (budget <= 250 KB gzip)`);

  await using dir = await tempDir('caic-bench-web-');
  const cache = join(dir.path, 'cache');
  const tasksDir = join(cache, 'caic', 'tasks');
  await mkdir(tasksDir, { recursive: true });
  for (let i = 0; i < TASKS; i++) await writeTask(tasksDir, i, `Task ${i}: refactor module ${i}`, sessionLines(5));
  const big = await writeTask(tasksDir, TASKS, 'A long session', sessionLines(3_300));
  const port = await freePort();
  const configDir = join(dir.path, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'config.toml'), `[core]\nroot = "${dir.path}"\n[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  const daemon = spawn(process.execPath, [CLI, '--config-dir', configDir, '--log-level', 'warn'], { env: { ...process.env, XDG_CACHE_HOME: cache }, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    for (;;) {
      if ((await http(`${url}/readyz`).catch(() => null))?.status === 200) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // Each run in a fresh context: nothing cached, as on a first visit.
    const listMs: number[] = [];
    const openMs: number[] = [];
    const openLong: number[] = [];
    const scrollLong: number[] = [];
    const scrollMaxFrame: number[] = [];
    let shown = 0;
    for (let run = 0; run <= RUNS; run++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await ctx.addInitScript({ content: LONG_TASKS });
      const page = await ctx.newPage();
      const list = await measure(page, url, `[data-testid="task-list"][data-loaded="true"] [data-testid="task-item"]`);
      const page2 = await ctx.newPage();
      const opened = await measure(page2, `${url}/task/@${big}+a-long-session`, '[data-testid="transcript"][data-ready="true"]');
      const long = await page2.evaluate<number>('Math.max(0, ...window.__long)');
      shown = Number(await page2.locator('[data-testid="transcript"]').getAttribute('data-events'));
      // Scroll from the bottom to the top in 40 steps, one per frame, recording long tasks and frames.
      const scroll = await page2.evaluate<{ long: number; maxFrame: number }>(SCROLL);
      await ctx.close();
      if (run === 0) continue; // warm-up: the daemon loads the long log on first access
      listMs.push(list);
      openMs.push(opened);
      openLong.push(long);
      scrollLong.push(scroll.long);
      scrollMaxFrame.push(scroll.maxFrame);
    }
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(`first task list (${TASKS + 1} tasks): median ${median(listMs).toFixed(0)} ms [${fmt(listMs)}]   (budget <= 1000 ms)`);
    console.log(`open a task of ${shown} events until rendered: median ${median(openMs).toFixed(0)} ms [${fmt(openMs)}]   (budget <= 1500 ms)`);
    console.log(`  longest main-thread task while opening: median ${median(openLong).toFixed(0)} ms [${fmt(openLong)}]`);
    console.log(`scrolling it top to bottom in 40 frames: longest task median ${median(scrollLong).toFixed(0)} ms [${fmt(scrollLong)}] (budget: none > 100 ms); slowest frame median ${median(scrollMaxFrame).toFixed(0)} ms [${fmt(scrollMaxFrame)}]`);
    summary('bench:web', {
      js_kb_gzip: Math.round((js.gzip / 1024) * 10) / 10,
      list_ms: spread(listMs),
      open_ms: spread(openMs),
      open_longest_task_ms: spread(openLong),
      scroll_longest_task_ms: spread(scrollLong),
      scroll_slowest_frame_ms: spread(scrollMaxFrame),
    });
  } finally {
    await browser.close();
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
  }
}

await main();

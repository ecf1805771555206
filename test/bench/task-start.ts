// npm run bench:task-start — POST /tasks → first `init` event (fake agent, warm image, 1,000-file
// repository), five runs after a warm-up, each paired with the bare container floor of bench:start
// measured right before it: the ratio start/floor covers the repository delivery and everything a
// task start does beyond a container answering over SSH.
import { randomBytes } from 'node:crypto';
import type { EventMessage, Task } from '../../src/api/index.js';
import { testRuntime } from '../helpers/containers.js';
import { SseClient } from '../helpers/sse.js';
import { taskEnv } from '../helpers/task-env.js';
import { machine, median, ratios, spread, summary } from './lib.js';
import { buildFloorImage, floorRun } from './start.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FILES = Number(process.env.BENCH_FILES ?? 1000);

async function main(): Promise<void> {
  await using t = await testRuntime();
  const keys = await buildFloorImage(t.docker);
  await using env = await taskEnv({ files: FILES });

  const taskStart = async (withRepo = true) => {
    const started = performance.now();
    const created = await env.api('POST', '/api/v1/tasks', { repos: withRepo ? [{ name: 'proj' }] : [], harness: 'fake', prompt: { text: `hello ${randomBytes(2).toString('hex')}` } });
    const task = created.json<Task>();
    const sse = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`);
    await sse.waitFor((ev) => ev.some((e) => (e.data as EventMessage | undefined)?.kind === 'init'), 60_000, 'init');
    const total = performance.now() - started;
    const phases: Record<string, number> = { total };
    for (const e of sse.messages<EventMessage>()) if (e.kind === 'log' && e.phase && e.durationMs !== undefined) phases[e.phase] = e.durationMs;
    sse.close();
    await env.api('POST', `/api/v1/tasks/${task.id}/purge`);
    return phases;
  };

  await floorRun(t.docker, keys, t.runId);
  await taskStart();
  await taskStart(false);
  const floors: number[] = [];
  const starts: Record<string, number>[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, alternately first, so machine noise hits all three alike.
    if (i % 2) bare.push((await taskStart(false)).total!);
    floors.push((await floorRun(t.docker, keys, t.runId)).total!);
    starts.push(await taskStart());
    if (!(i % 2)) bare.push((await taskStart(false)).total!);
  }
  const totals = starts.map((s) => s.total!);
  const r = ratios(totals, floors);
  const rb = ratios(bare, floors);
  console.log(`container floor (bench:start a)  ${spread(floors)} ms`);
  console.log(`POST /tasks → first init event   ${spread(totals)} ms   (${FILES} files)`);
  console.log(`  the same without a repository  ${spread(bare)} ms`);
  console.log('\nphases of the task start (medians, from its log events; several overlap):');
  for (const phase of Object.keys(starts[0]!).filter((p) => p !== 'total')) {
    console.log(`  ${phase.padEnd(20)} ${median(starts.map((s) => s[phase] ?? 0)).toFixed(0).padStart(6)} ms`);
  }
  console.log(`\nratio start / floor = ${spread(r, 3)}  (target <= 1.5; pairwise, median [min–max] of ${RUNS} runs after a warm-up)`);
  console.log(`ratio start without a repository / floor = ${spread(rb, 3)}`);
  console.log(`(${machine()})`);
  summary('bench:task-start', { files: FILES, 'start/floor': spread(r, 2), 'norepo/floor': spread(rb, 2), floor_ms: spread(floors), start_ms: spread(totals), norepo_ms: spread(bare) });
}

await main();

// npm run bench:task-start — POST /tasks → first `init` event (fake agent, warm image, 1,000-file
// repository whose commit has its repository image after the warm-up), five runs after a warm-up,
// each paired with the bare container floor of bench:start measured right before it: the ratio
// start/floor covers the repository and everything a task start does beyond a container answering
// over SSH. The warm-up (the first start from the commit) is reported on its own.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EventMessage, Task } from '../../src/api/index.js';
import { testRuntime } from '../helpers/containers.js';
import { SseClient } from '../helpers/sse.js';
import { taskEnv } from '../helpers/task-env.js';
import { waitUntil } from '../helpers/wait.js';
import { machine, median, ratios, spread, summary } from './lib.js';
import { buildFloorImage, floorRun } from './start.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FILES = Number(process.env.BENCH_FILES ?? 1000);

async function main(): Promise<void> {
  await using t = await testRuntime();
  const keys = await buildFloorImage(t.docker);
  // BENCH_IMAGE: another task image (an A/B of two builds whose images differ).
  await using env = await taskEnv({ files: FILES, ...(process.env.BENCH_IMAGE ? { image: process.env.BENCH_IMAGE } : {}) });

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
  // The first start from this commit takes the repository over SSH and makes its image after it.
  const first = await taskStart();
  const made = () => t.docker.listImages({ filters: { label: [`caic.repo.path=${join(env.root, 'proj')}`] } });
  await waitUntil(made, (l) => l.length > 0, { what: "the commit's repository image", timeoutMs: 120_000 });
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
  console.log(`  the first start from the commit ${first.total!.toFixed(0)} ms   (the warm-up: over SSH, the image made after it)`);
  console.log('\nphases of the task start (medians, from its log events; several overlap):');
  for (const phase of Object.keys(starts[0]!).filter((p) => p !== 'total')) {
    console.log(`  ${phase.padEnd(20)} ${median(starts.map((s) => s[phase] ?? 0)).toFixed(0).padStart(6)} ms`);
  }
  console.log(`\nratio start / floor = ${spread(r, 3)}  (target <= 1.5; pairwise, median [min–max] of ${RUNS} runs after a warm-up)`);
  console.log(`ratio start without a repository / floor = ${spread(rb, 3)}`);
  console.log(`(${machine()})`);
  summary('bench:task-start', { files: FILES, 'start/floor': spread(r, 2), 'norepo/floor': spread(rb, 2), floor_ms: spread(floors), start_ms: spread(totals), norepo_ms: spread(bare), first_ms: first.total!.toFixed(0) });
}

await main();

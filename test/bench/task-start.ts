// npm run bench:task-start — POST /tasks → first `init` event (fake agent, warm image, 1,000-file
// repository), five runs after a warm-up, against the container floor of bench:start plus the push.
import { randomBytes } from 'node:crypto';
import type { EventMessage, Task } from '../../src/api/index.js';
import { makeHostRepo, testRuntime } from '../helpers/containers.js';
import { SseClient } from '../helpers/sse.js';
import { taskEnv } from '../helpers/task-env.js';
import { buildFloorImage, floorRun, median, oursRun } from './start.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

async function main(): Promise<void> {
  // The floor and the push, measured here in the same run as the task starts.
  await using t = await testRuntime();
  const keys = await buildFloorImage(t.docker);
  const repo = await makeHostRepo(t.dir.path, 1000);
  await using env = await taskEnv({ files: 1000 });

  const taskStart = async () => {
    const started = performance.now();
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: `hello ${randomBytes(2).toString('hex')}` } });
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
  await oursRun(t.rt, t.runId, repo);
  await taskStart();
  const floors: number[] = [];
  const pushes: number[] = [];
  const starts: Record<string, number>[] = [];
  for (let i = 0; i < RUNS; i++) {
    floors.push((await floorRun(t.docker, keys, t.runId)).total!);
    pushes.push((await oursRun(t.rt, t.runId, repo)).push1000!);
    starts.push(await taskStart());
  }
  const floor = median(floors);
  const push = median(pushes);
  const start = median(starts.map((s) => s.total!));
  console.log(`container floor (bench:start a)     ${floor.toFixed(0).padStart(6)} ms   (runs: ${floors.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`push of 1,000 files (bench:start c) ${push.toFixed(0).padStart(6)} ms   (runs: ${pushes.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`POST /tasks → first init event      ${start.toFixed(0).padStart(6)} ms   (runs: ${starts.map((s) => s.total!.toFixed(0)).join(', ')})`);
  console.log('\nphases of the task start (medians, from its log events):');
  for (const phase of Object.keys(starts[0]!).filter((p) => p !== 'total')) {
    console.log(`  ${phase.padEnd(20)} ${median(starts.map((s) => s[phase] ?? 0)).toFixed(0).padStart(6)} ms`);
  }
  console.log(`\nratio start / (floor + push) = ${(start / (floor + push)).toFixed(3)}  (target <= 1.25; ${RUNS} runs after a warm-up, medians)`);
}

await main();

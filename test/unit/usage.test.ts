// Usage per day and week: the UTC windows, what each result adds (the agent's running cost total
// restarting with a session or after a compaction), and where a task's days come from (the live
// transcript, the log's trailer, else one replay).
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { HARNESSES } from '../../src/agents/index.js';
import { aggregateUsage, Transcript, type UsageDay } from '../../src/tasks/index.js';
import { offlineService } from '../helpers/offline-service.js';
import { tempDir } from '../helpers/tmp.js';

const tokens = (n = 0) => ({ inputTokens: n, outputTokens: n * 2, cacheCreationInputTokens: 0, cacheReadInputTokens: n * 3 });
const day = (d: string, costUSD: number, turns = 1, agentMs = 1000): UsageDay => ({ day: d, costUSD, tokens: tokens(turns), agentMs, turns });

test('the last 14 UTC days and the last 8 weeks from Monday, oldest first, empty ones included', () => {
  const wednesday = new Date('2026-11-04T23:59:59.999Z');
  const a = [day('2026-11-04', 0.5, 2), day('2026-11-02', 0.25), day('2026-11-01', 1)];
  const b = [day('2026-10-21', 2), day('2026-09-13', 4), day('2026-11-05', 8), day('2026-11-04', 0.125)];
  const r = aggregateUsage([a, b, []], wednesday);
  assert.equal(r.days.length, 14);
  assert.deepEqual([r.days[0]!.start, r.days[13]!.start], ['2026-10-22', '2026-11-04']);
  assert.deepEqual(r.weeks.map((w) => w.start), ['2026-09-14', '2026-09-21', '2026-09-28', '2026-10-05', '2026-10-12', '2026-10-19', '2026-10-26', '2026-11-02']);
  const today = r.days[13]!;
  assert.deepEqual(today, { start: '2026-11-04', costUSD: 0.625, tokens: tokens(3), agentMs: 2000, turns: 3, tasks: 2 });
  assert.equal(r.days[11]!.costUSD, 0.25, 'Monday');
  assert.equal(r.days[10]!.costUSD, 1, 'Sunday');
  assert.equal(r.days.reduce((n, d) => n + d.turns, 0), 5, 'nothing else is within the 14 days');
  assert.deepEqual(
    r.weeks.map((w) => [w.costUSD, w.tasks]),
    [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [2, 1], [1, 1], [0.875, 2]],
    'a Sunday closes its week; before the first week and after today count nowhere',
  );
  // The week turns on Monday 00:00 UTC.
  assert.equal(aggregateUsage([], new Date('2026-11-08T23:59:59Z')).weeks[7]!.start, '2026-11-02');
  assert.equal(aggregateUsage([], new Date('2026-11-09T00:00:00Z')).weeks[7]!.start, '2026-11-09');
});

const clock = (ts: string) => JSON.stringify({ type: 'caic_clock', ts });
const session = (n: number, reason = 'start') => JSON.stringify({ type: 'caic_session', n, reason });
const claudeResult = (total: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'result',
    subtype: 'success',
    is_error: false,
    duration_ms: 2000,
    num_turns: 1,
    result: 'ok',
    session_id: 's',
    total_cost_usd: total,
    usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 1, cache_read_input_tokens: 100 },
    ...extra,
  });
const metaOf = (harness: string, id = 't1', owner = '', createdAt = '2026-11-03T23:00:00.000Z') =>
  JSON.stringify({ type: 'caic_meta', version: 1, id, title: 'T', prompt: 'p', repos: [], harness, model: 'm', sudo: false, owner, ownerName: owner, createdAt });

/** The lines of a Claude task over two UTC days: two sessions, a compaction, an error result. */
function claudeLog(id = 't1', owner = ''): string[] {
  return [
    metaOf('claude', id, owner),
    session(1),
    clock('2026-11-03T23:10:00.000Z'),
    claudeResult(0.01),
    clock('2026-11-03T23:50:00.000Z'),
    claudeResult(0.03),
    clock('2026-11-04T00:10:00.000Z'),
    claudeResult(0.04), // 0.01 more, on the next day
    session(2, 'restart'), // a new process: its total starts again
    claudeResult(0.02),
    JSON.stringify({ type: 'system', subtype: 'compact_boundary', session_id: 's' }),
    claudeResult(0.005), // the total restarted after the compaction
    claudeResult(0, { is_error: true, subtype: 'error_during_execution' }), // not a reset: adds nothing
    claudeResult(0.007),
  ];
}

test("each result adds to its UTC day; the agent's running total restarts with a session or a compaction", () => {
  const t = new Transcript(HARNESSES);
  for (const l of claudeLog()) t.ingest(l);
  const days = [...t.usage.values()];
  assert.deepEqual(
    days.map((d) => [d.day, d.costUSD, d.turns, d.agentMs]),
    [
      ['2026-11-03', 0.03, 2, 4000],
      ['2026-11-04', 0.037, 5, 10000],
    ],
  );
  assert.deepEqual(days[1]!.tokens, { inputTokens: 50, outputTokens: 25, cacheCreationInputTokens: 5, cacheReadInputTokens: 500 });
  assert.equal(t.summary.costUSD, 0.067, 'the task total is the sum of the days');
  assert.equal(t.summary.numTurns, 7);
});

test('agents that report no turn duration (Codex) get the time from the prompt to the result', () => {
  const t = new Transcript(HARNESSES);
  const lines = [
    metaOf('codex'),
    session(1),
    clock('2026-11-04T10:00:00.000Z'),
    JSON.stringify({ type: 'caic_user_input', text: 'go', images: 0 }),
    clock('2026-11-04T10:00:04.250Z'),
    JSON.stringify({ method: 'turn/completed', params: { threadId: 'th', turn: { id: 'tu', status: 'completed' } } }),
  ];
  for (const l of lines) t.ingest(l);
  assert.deepEqual([...t.usage.values()].map((d) => [d.day, d.agentMs, d.turns]), [['2026-11-04', 4250, 1]]);
  assert.equal(t.summary.durationMs, 4250);
});

test("usage reads a finished task's days from its trailer, replays older logs once, and counts only the caller's tasks", async () => {
  await using dir = await tempDir('caic-usage-');
  const logs = join(dir.path, 'tasks');
  await mkdir(logs, { recursive: true });
  const summary = { title: 'T', costUSD: 0, durationMs: 0, numTurns: 0, tokens: tokens(), diffStat: [], model: 'm' };
  const state = (s: string) => JSON.stringify({ type: 'caic_state', state: s, summary, lastEventId: 0 });
  // Alice's task: its trailer says 7 turns on 2026-11-04, its one result line says 1. The answer
  // saying 7 shows the trailer was read and the log not replayed.
  const alice = '01jaaaaaaaaaaaaaaaaaaaaaaa';
  const trailerDays = [day('2026-11-04', 5, 7, 60_000)];
  await writeFile(
    join(logs, `${alice}.jsonl`),
    [metaOf('claude', alice, 'u-alice'), session(1), clock('2026-11-04T09:00:00.000Z'), claudeResult(0.5), state('purged'), JSON.stringify({ type: 'caic_result', state: 'purged', summary, usage: trailerDays, lastEventId: 3 }), ''].join('\n'),
  );
  // Bob's task finished before trailers carried usage: replayed once.
  const bob = '01jbbbbbbbbbbbbbbbbbbbbbbb';
  const bobLog = join(logs, `${bob}.jsonl`);
  await writeFile(bobLog, [...claudeLog(bob, 'u-bob'), state('purged'), JSON.stringify({ type: 'caic_result', state: 'purged', summary, lastEventId: 9 }), ''].join('\n'));
  // A trailer with malformed usage is not believed: replayed too.
  const carol = '01jccccccccccccccccccccccc';
  await writeFile(
    join(logs, `${carol}.jsonl`),
    [metaOf('claude', carol, 'u-carol'), session(1), clock('2026-11-04T09:00:00.000Z'), claudeResult(0.25), state('failed'), JSON.stringify({ type: 'caic_result', state: 'failed', summary, usage: [{ day: 'yesterday', costUSD: 99 }], lastEventId: 3 }), ''].join('\n'),
  );
  const now = new Date('2026-11-04T12:00:00Z');
  const todayOf = (r: Awaited<ReturnType<typeof service.usage>>) => r.days[13]!;

  let service = await offlineService(dir.path, true);
  const a = await service.usage({ id: 'u-alice', username: 'alice' }, now);
  assert.deepEqual([todayOf(a).costUSD, todayOf(a).turns, todayOf(a).agentMs, todayOf(a).tasks], [5, 7, 60_000, 1]);
  assert.equal(a.days.reduce((n, d) => n + d.turns, 0), 7, "only Alice's task");
  const b = await service.usage({ id: 'u-bob', username: 'bob' }, now);
  assert.deepEqual([b.days[12]!.costUSD, b.days[12]!.turns, todayOf(b).costUSD, todayOf(b).turns], [0.03, 2, 0.037, 5]);
  assert.equal(b.weeks[7]!.costUSD, 0.067, 'Monday 2 to Wednesday 4 are one week');
  assert.equal(todayOf(await service.usage({ id: 'u-carol', username: 'carol' }, now)).costUSD, 0.25);
  assert.equal((await service.usage({ id: 'u-nobody', username: 'x' }, now)).weeks.reduce((n, w) => n + w.turns, 0), 0);
  // Replayed once: with Bob's log gone the answer stays (a cache, not a second replay).
  await rm(bobLog);
  assert.deepEqual(await service.usage({ id: 'u-bob', username: 'bob' }, now), b);
  await service.close();

  // No login: everyone's tasks.
  service = await offlineService(dir.path, false);
  const all = await service.usage(null, now);
  assert.equal(todayOf(all).costUSD, 5.25);
  assert.equal(todayOf(all).tasks, 2);
  await service.close();
});

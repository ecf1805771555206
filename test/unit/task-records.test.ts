// What a task log and an agent's output may say that the daemon must not believe: logs damaged or
// edited on disk (a record of the wrong shape, a meta naming another task or a path), and absurd
// numbers in an agent's results. The task list and usage answers must stay valid for everyone.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { Task, UsageResp } from '../../src/api/index.js';
import { TaskLog, TaskLogError } from '../../src/tasks/log.js';
import { offlineService } from '../helpers/offline-service.js';
import { tempDir } from '../helpers/tmp.js';

const TaskList = z.array(Task);
const CREATED = '2026-11-04T09:00:00.000Z';

const metaOf = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'caic_meta',
    version: 1,
    id,
    title: `task ${id.slice(-4)}`,
    prompt: 'p',
    repos: [{ name: 'repo', baseBranch: 'main', branch: '' }],
    harness: 'claude',
    model: 'sonnet',
    sudo: false,
    owner: '',
    ownerName: '',
    createdAt: CREATED,
    ...extra,
  });
const summary = {
  title: 'good',
  titleBy: 'prompt',
  costUSD: 0.5,
  durationMs: 10,
  numTurns: 1,
  tokens: { inputTokens: 1, outputTokens: 2, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 },
  activeInputTokens: 1,
  diffStat: [],
  result: '',
  error: '',
  sessionId: '',
  agentVersion: '',
  model: 'sonnet',
  planContent: '',
  container: '',
};
const state = (s: unknown, sum: unknown = summary, lastEventId: unknown = 3) => JSON.stringify({ type: 'caic_state', state: s, summary: sum, lastEventId });
const clock = JSON.stringify({ type: 'caic_clock', ts: CREATED });

test('damaged or edited task logs: each is listed with a valid answer or skipped; none takes another task’s place', async () => {
  await using dir = await tempDir('caic-records-');
  const logs = join(dir.path, 'tasks');
  await mkdir(logs, { recursive: true });
  const write = (file: string, lines: string[]) => writeFile(join(logs, `${file}.jsonl`), [...lines, ''].join('\n'));
  const good = '01jgood0000000000000000001';
  await write(good, [metaOf(good), clock, state('stopped')]);
  // Listed, with what could be read of them.
  const bogusState = '01jbogusstate0000000000001';
  await write(bogusState, [metaOf(bogusState), clock, state('stopped'), state('exploded')]);
  const badSummary = '01jbadsummary0000000000001';
  await write(badSummary, [metaOf(badSummary), clock, state('stopped', { title: 5, costUSD: 'abc', numTurns: 1.5, tokens: null, diffStat: 'x', error: null })]);
  const badNumbers = '01jbadnumbers0000000000001';
  await write(badNumbers, [metaOf(badNumbers, { title: null, model: 7 }), clock, state('stopped', { ...summary, costUSD: null, durationMs: -1 }, 'abc')]);
  // Not listed: not a task (or not this one).
  const impostor = '01jimpostor000000000000001';
  await write(impostor, [metaOf(good, { title: 'IMPOSTOR' }), clock, state('waiting')]);
  const traversal = '01jtraversal00000000000001';
  await write(traversal, [metaOf('../../../tmp/evil'), clock, state('waiting')]);
  const noRepos = '01jnorepos0000000000000001';
  await write(noRepos, [metaOf(noRepos, { repos: 'x' }), clock, state('waiting')]);
  const noDate = '01jnodate00000000000000001';
  await write(noDate, [metaOf(noDate, { createdAt: 12345 }), clock, state('waiting')]);
  await write('not-a-task-id', [metaOf('not-a-task-id'), clock, state('waiting')]);

  const service = await offlineService(dir.path);
  try {
    const list = service.list(null);
    const parsed = TaskList.safeParse(list);
    assert.ok(parsed.success, `the list answer fits the API schema: ${parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 3))}`);
    assert.deepEqual(list.map((t) => t.id).sort(), [badNumbers, badSummary, bogusState, good].sort());
    const byId = new Map(list.map((t) => [t.id, t]));
    assert.equal(byId.get(good)!.title, 'good', 'the impostor did not replace the task it names');
    assert.equal(byId.get(good)!.state, 'stopped');
    assert.equal(byId.get(bogusState)!.state, 'stopped', 'an unknown state is not taken');
    assert.deepEqual([byId.get(badSummary)!.costUSD, byId.get(badSummary)!.numTurns, byId.get(badSummary)!.title], [0, 1, 'task 0001']);
    assert.deepEqual([byId.get(badNumbers)!.costUSD, byId.get(badNumbers)!.durationMs, byId.get(badNumbers)!.lastEventId], [0, 0, 0]);
    // A replay (what an event stream or any action does first) reads the same logs as safely.
    for (const t of list) {
      await service.subscribe(t.id, null, 0, () => {}).then((s) => s.unsubscribe());
      assert.ok(Task.safeParse(service.get(t.id, null)).success, `${t.id} after its replay`);
    }
    assert.equal(service.get(bogusState, null).state, 'stopped');
  } finally {
    await service.close();
  }
});

test('absurd numbers in an agent’s results: totals stay finite whole numbers, task and usage answers stay valid', async () => {
  await using dir = await tempDir('caic-records-');
  const logs = join(dir.path, 'tasks');
  await mkdir(logs, { recursive: true });
  const id = '01jabsurd00000000000000001';
  const sid = '5d1e6b4a-0c1f-4f39-9a51-2a3b1c7f0e11';
  const result = (cost: unknown, turns: unknown, duration: unknown, usage: unknown) =>
    JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'r', session_id: sid, total_cost_usd: cost, num_turns: turns, duration_ms: duration, usage });
  await writeFile(
    join(logs, `${id}.jsonl`),
    [
      metaOf(id),
      clock,
      JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' }),
      JSON.stringify({ type: 'system', subtype: 'init', session_id: sid, model: 'sonnet', cwd: '/w', tools: [], claude_code_version: '9' }),
      JSON.stringify({ type: 'assistant', message: { role: 'assistant', content: [], usage: { input_tokens: 1.5, output_tokens: -3, cache_read_input_tokens: 1e300 } }, session_id: sid }),
      result(1e308, -5, 1e308, { input_tokens: -1e20, output_tokens: 2.5, cache_creation_input_tokens: 1e300, cache_read_input_tokens: 0 }),
      result(0.01, 1.5, -7, { input_tokens: 9e15, output_tokens: 9e15, cache_creation_input_tokens: 1, cache_read_input_tokens: 1 }),
      '',
    ].join('\n'),
  );
  const service = await offlineService(dir.path);
  try {
    const s = await service.subscribe(id, null, 0, () => {});
    s.unsubscribe();
    const t = service.get(id, null);
    const parsed = Task.safeParse(t);
    assert.ok(parsed.success, `the task answer fits the API schema: ${parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 3))}`);
    assert.ok(Number.isFinite(t.costUSD) && t.costUSD > 0, `cost ${t.costUSD}`);
    assert.equal(t.numTurns, 2);
    assert.ok(Object.values(t.tokens).every((n) => Number.isSafeInteger(n) && n >= 0), JSON.stringify(t.tokens));
    assert.ok(TaskList.safeParse(service.list(null)).success);
    const usage = await service.usage(null, new Date('2026-11-04T12:00:00Z'));
    const u = UsageResp.safeParse(usage);
    assert.ok(u.success, `the usage answer fits the API schema: ${u.success ? '' : JSON.stringify(u.error.issues.slice(0, 3))}`);
    for (const e of s.history) {
      if (e.kind === 'result') assert.ok(Number.isFinite(e.costUSD) && e.numTurns >= 0 && Number.isSafeInteger(e.usage.inputTokens), JSON.stringify(e));
    }
  } finally {
    await service.close();
  }
});

test('a task log the disk cannot take fails the append with a 503 that names the cause, and keeps its size', async () => {
  // /dev/full: every write fails with ENOSPC, as on a full disk.
  const log = await TaskLog.open('/dev/full');
  try {
    assert.throws(
      () => log.append('{"type":"caic_clock","ts":"x"}'),
      (err: unknown) => err instanceof TaskLogError && err.code === 'SERVICE_UNAVAILABLE' && /no space left on device/.test(err.message) && !err.message.includes('/dev'),
    );
    assert.equal(log.size, 0);
  } finally {
    log.close();
  }
});

// GET /api/v1/usage from real task logs: a fake-agent task over two agent sessions (its cost total
// starts again in the second), then purged (usage goes into the trailer) and listed after a restart.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Task, UsagePeriod, UsageResp } from '../../src/api/index.js';
import { logPath } from '../../src/tasks/index.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

const sum = (periods: UsagePeriod[]) =>
  periods.reduce(
    (a, p) => ({
      costUSD: Math.round((a.costUSD + p.costUSD) * 1e6) / 1e6,
      turns: a.turns + p.turns,
      agentMs: a.agentMs + p.agentMs,
      inputTokens: a.inputTokens + p.tokens.inputTokens,
      outputTokens: a.outputTokens + p.tokens.outputTokens,
    }),
    { costUSD: 0, turns: 0, agentMs: 0, inputTokens: 0, outputTokens: 0 },
  );

describe('usage', () => {
  let env: TaskEnv;
  let task: Task;
  const get = async () => (task = (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>());
  const waitTurns = async (n: number) => {
    for (const deadline = Date.now() + 90_000; ; await new Promise((r) => setTimeout(r, 50))) {
      await get();
      if (task.numTurns >= n && task.state === 'waiting') return;
      assert.notEqual(task.state, 'failed', task.error);
      assert.ok(Date.now() < deadline, `turn ${n} ended (state ${task.state}, ${task.numTurns} turns)`);
    }
  };
  const usage = async () => {
    const r = await env.api('GET', '/api/v1/usage');
    assert.equal(r.status, 200, r.body);
    return r.json<UsageResp>();
  };

  before(async () => {
    env = await taskEnv();
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
  });

  test('is empty without tasks: 14 days and 8 weeks of zeros', async () => {
    const u = await usage();
    assert.equal(u.days.length, 14);
    assert.equal(u.weeks.length, 8);
    assert.deepEqual(sum(u.days), { costUSD: 0, turns: 0, agentMs: 0, inputTokens: 0, outputTokens: 0 });
    assert.equal(new Date(`${u.weeks[7]!.start}T00:00:00Z`).getUTCDay(), 1, 'weeks start on Monday');
    assert.equal(u.days[13]!.start, new Date().toISOString().slice(0, 10));
  });

  test("sums each turn across agent sessions, equal to the task's own totals", async () => {
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    assert.equal(created.status, 200, created.body);
    task = created.json<Task>();
    await waitTurns(1);
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text: 'and again' } })).status, 200);
    await waitTurns(2);
    // A new agent process: the fake agent's running cost total starts from zero again.
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/restart`, { prompt: { text: 'once more' } })).status, 200);
    await waitTurns(3);
    assert.equal(task.costUSD, 0.0036, 'three turns at 0.0012, over two sessions');
    const u = await usage();
    const want = { costUSD: task.costUSD, turns: 3, agentMs: task.durationMs, inputTokens: task.tokens.inputTokens, outputTokens: task.tokens.outputTokens };
    assert.deepEqual(sum(u.days), want);
    assert.deepEqual(sum(u.weeks), want);
    assert.ok(task.durationMs > 0);
    assert.equal(u.days.reduce((n, d) => Math.max(n, d.tasks), 0), 1);
  });

  test('after purge the trailer carries the days; a restarted daemon answers the same', async () => {
    const before = await usage();
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/purge`)).status, 200);
    const trailer = (await readFile(logPath(env.d.cacheDir, task.id), 'utf8')).split('\n').filter((l) => l.startsWith('{"type":"caic_result"')).map((l) => JSON.parse(l) as { usage: { turns: number }[] });
    assert.equal(trailer.length, 1);
    assert.equal(trailer[0]!.usage.reduce((n, d) => n + d.turns, 0), 3);
    await env.restart();
    assert.deepEqual(await usage(), before);
  });
});

// The task-list stream on its own: a snapshot, then one upsert per new task and patches that carry
// only what changed, through a task's whole life. Real daemon, real Docker, the fake agent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TaskListEvent, type Task } from '../../src/api/index.js';
import { SseClient } from '../helpers/sse.js';
import { taskEnv } from '../helpers/task-env.js';

test('task-list stream: snapshot, upsert, patches of changed fields only, a late client gets the current snapshot', async () => {
  await using env = await taskEnv();
  const list = new SseClient(`${env.d.url}/api/v1/tasks/events`);
  try {
    await list.waitFor((ev) => ev.length >= 1, 10_000, 'the snapshot');
    const events = () => list.events.map((e) => TaskListEvent.parse(e.data));
    assert.deepEqual(events()[0], { type: 'snapshot', tasks: [] });

    const t = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello list' } });
    const mine = () => events().filter((e) => (e.type === 'upsert' ? e.task.id : e.type === 'patch' ? e.id : '') === t.id);
    await list.waitFor(() => mine().some((e) => e.type === 'patch' && e.fields.state === 'waiting'), 60_000, 'the task waiting');
    const [first, ...patches] = mine();
    assert.equal(first?.type, 'upsert');
    assert.equal(first?.type === 'upsert' && first.task.state, 'pending');
    const states = patches.flatMap((p) => (p.type === 'patch' && p.fields.state ? [p.fields.state] : []));
    assert.deepEqual(states, ['branching', 'provisioning', 'starting', 'running', 'waiting']);
    for (const p of patches) {
      assert.ok(p.type === 'patch');
      assert.ok(Object.keys(p.fields).length > 0, 'no empty patch');
      assert.ok(!('title' in p.fields) && !('initialPrompt' in p.fields) && !('lastEventId' in p.fields), `only changed fields: ${JSON.stringify(p.fields)}`);
    }
    const last = patches.findLast((p) => p.type === 'patch' && p.fields.numTurns !== undefined);
    assert.ok(last?.type === 'patch' && last.fields.numTurns === 1 && (last.fields.costUSD ?? 0) > 0, 'the turn is counted');

    const late = new SseClient(`${env.d.url}/api/v1/tasks/events`);
    try {
      await late.waitFor((ev) => ev.length >= 1, 10_000, 'the late snapshot');
      const snap = TaskListEvent.parse(late.events[0]!.data);
      assert.ok(snap.type === 'snapshot');
      const listed = snap.tasks.find((x: Task) => x.id === t.id);
      assert.equal(listed?.state, 'waiting');
      assert.equal(listed?.repos[0]?.branch, 'caic-1');
    } finally {
      late.close();
    }

    assert.equal((await env.api('POST', `/api/v1/tasks/${t.id}/purge`)).status, 200);
    await list.waitFor(() => mine().some((e) => e.type === 'patch' && e.fields.state === 'purged'), 30_000, 'the purge');
  } finally {
    list.close();
  }
});

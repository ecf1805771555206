// Tool approval with the fake agent in real containers, login on (two users): a request appears as
// an event, in GET and in the task list; allow once runs the command (its effect checked in the
// container); deny with a message reaches the agent (its logged tool result); allow for the task
// stops the asking; ownership (404), settled (409) and validation (400) guards; rules; the timeout
// (a short [approval] timeout); and a daemon restart with a request pending.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EventMessage, PendingApproval, Task, TaskListEvent } from '../../src/api/index.js';
import { mcpClient } from '../helpers/mcp.js';
import { SseClient } from '../helpers/sse.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { signInCookie } from '../helpers/login.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { waitUntil } from '../helpers/wait.js';

const HOST = 'caic.test';
type Envelope = { error: { code: string; message: string } };

/** The task's transcript so far (history up to `ready`). */
async function eventsOf(env: TaskEnv, id: string, who: Record<string, string>): Promise<EventMessage[]> {
  const s = new SseClient(`${env.d.url}/api/v1/tasks/${id}/events`, who);
  try {
    await s.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'history');
    return s.messages<EventMessage>();
  } finally {
    s.close();
  }
}

describe('tool approval (fake agent, ask and rules)', () => {
  let stub: StubForge;
  let env: TaskEnv;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  const api = (who: Record<string, string>, method: string, path: string, body?: unknown) => env.api(method, path, body, who);
  const pending = async (id: string, who = alice): Promise<PendingApproval[]> => {
    const r = await api(who, 'GET', `/api/v1/tasks/${id}/approvals`);
    assert.equal(r.status, 200, r.body);
    return r.json<{ approvals: PendingApproval[] }>().approvals;
  };
  const waitPending = (id: string, what: string) => waitUntil(() => pending(id), (a) => a.length === 1, { timeoutMs: 90_000, what });
  const answer = (id: string, requestId: string, body: unknown, who = alice) => api(who, 'POST', `/api/v1/tasks/${id}/approvals/${encodeURIComponent(requestId)}`, body);
  const inContainer = async (id: string, cmd: string) => (await env.execIn(id, cmd, 'user')).output.trim();
  const input = async (id: string, text: string) => {
    const r = await api(alice, 'POST', `/api/v1/tasks/${id}/input`, { prompt: { text } });
    assert.equal(r.status, 200, r.body);
  };

  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({ extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(stub, ['alice', 'bob'])}` });
    alice = { host: HOST, cookie: await signInCookie(env.d.url, HOST, stub, { id: 701, username: 'alice' }) };
    bob = { host: HOST, cookie: await signInCookie(env.d.url, HOST, stub, { id: 702, username: 'bob' }) };
  });
  after(async () => {
    try {
      await env?.[Symbol.asyncDispose]();
    } finally {
      await stub?.close();
    }
  });

  test('ask: the request is an event, pending in GET and counted in the task list; allow once runs it', async () => {
    const list = new SseClient(`${env.d.url}/api/v1/tasks/events`, alice);
    try {
      const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_TOOL echo allowed > ran-once.txt' }, permissions: { mode: 'ask' } }, alice);
      assert.deepEqual(task.permissions, { mode: 'ask', rules: [] });
      const [p] = await waitPending(task.id, 'the Bash request');
      assert.equal(p!.tool, 'Bash');
      assert.deepEqual(p!.input, { command: 'echo allowed > ran-once.txt', description: 'Run the command I was given' });
      assert.equal(p!.reason, 'Run the command I was given');
      assert.ok(Date.parse(p!.expiresAt) - Date.parse(p!.requestedAt) > 9 * 60_000, 'the default timeout is 10 minutes');
      // Nothing ran yet: the agent waits.
      assert.equal(await inContainer(task.id, 'cat /home/user/src/proj/ran-once.txt 2>/dev/null || echo none'), 'none');
      // The task list counts it (live, over the list stream).
      await list.waitFor(
        () => list.messages<TaskListEvent>().some((e) => (e.type === 'patch' && e.id === task.id && e.fields.pendingApprovals === 1) || (e.type === 'upsert' && e.task.id === task.id && e.task.pendingApprovals === 1)),
        10_000,
        'pendingApprovals 1 on the list stream',
      );
      assert.equal((await env.task(task.id, alice)).pendingApprovals, 1);
      // Across tasks: alice sees it, bob does not.
      const mine = (await api(alice, 'GET', '/api/v1/approvals')).json<{ approvals: PendingApproval[] }>();
      assert.deepEqual(mine.approvals.map((a) => a.requestId), [p!.requestId]);
      const his = (await api(bob, 'GET', '/api/v1/approvals')).json<{ approvals: PendingApproval[] }>();
      assert.deepEqual(his.approvals, []);
      // The transcript has the request as an event, with the same id GET gave.
      const ev = (await eventsOf(env, task.id, alice)).find((e) => e.kind === 'approval');
      assert.ok(ev && ev.kind === 'approval');
      assert.equal(ev.requestId, p!.requestId);
      assert.equal(ev.id, p!.eventId);

      const r = await answer(task.id, p!.requestId, { decision: 'allowOnce' });
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json(), { requestId: p!.requestId, decision: 'allowOnce' });
      await env.waitState(task.id, 'waiting', { headers: alice, timeoutMs: 60_000 });
      assert.equal(await inContainer(task.id, 'cat /home/user/src/proj/ran-once.txt'), 'allowed');
      const done = await env.task(task.id, alice);
      assert.equal(done.result, 'Ran the command.');
      assert.equal(done.pendingApprovals, 0);
      const resolved = (await eventsOf(env, task.id, alice)).find((e) => e.kind === 'approvalResolved');
      assert.ok(resolved && resolved.kind === 'approvalResolved');
      assert.deepEqual({ ...resolved, id: 0, ts: '' }, { id: 0, ts: '', kind: 'approvalResolved', requestId: p!.requestId, decision: 'allowOnce', by: 'user', user: 'alice', message: '' });
      // A second answer to the same request: settled already.
      const again = await answer(task.id, p!.requestId, { decision: 'deny' });
      assert.equal(again.status, 409, again.body);
      assert.equal(again.json<Envelope>().error.code, 'CONFLICT');
      // The decision is in the audit log, without the command.
      const audit = await readFile(join(env.d.configDir, 'audit.jsonl'), 'utf8');
      const rec = audit
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((x) => x.event === 'approval.decision' && x.requestId === p!.requestId);
      assert.ok(rec, 'the decision is audited');
      assert.equal(rec.task, task.id);
      assert.equal(rec.tool, 'Bash');
      assert.equal(rec.decision, 'allowOnce');
      assert.equal(rec.by, 'user');
      assert.equal(rec.user, 'alice');
      assert.ok(!audit.includes('ran-once.txt'), 'the arguments stay out of the audit log');
    } finally {
      list.close();
    }
  });

  test('deny with a message: the agent gets it as the tool call error; nothing runs', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_TOOL echo no > denied.txt' }, permissions: { mode: 'ask' } }, alice);
    const [p] = await waitPending(task.id, 'the Bash request');
    // Ownership: bob cannot see or answer alice's request (404 like an unknown task).
    const peek = await api(bob, 'GET', `/api/v1/tasks/${task.id}/approvals`);
    assert.equal(peek.status, 404, peek.body);
    const steal = await answer(task.id, p!.requestId, { decision: 'allowOnce' }, bob);
    assert.equal(steal.status, 404, steal.body);
    // Validation and unknown requests.
    const bad = await answer(task.id, p!.requestId, { decision: 'maybe' });
    assert.equal(bad.status, 400, bad.body);
    const unknown = await answer(task.id, 'no-such-request', { decision: 'deny' });
    assert.equal(unknown.status, 404, unknown.body);
    assert.equal((await pending(task.id)).length, 1, 'none of these settled it');

    const r = await answer(task.id, p!.requestId, { decision: 'deny', message: 'not in this repository, please' });
    assert.equal(r.status, 200, r.body);
    const done = await env.waitState(task.id, 'waiting', { headers: alice, timeoutMs: 60_000 });
    assert.equal(done.result, 'Denied: not in this repository, please');
    const evs = await eventsOf(env, task.id, alice);
    const result = evs.find((e) => e.kind === 'toolResult' && e.toolUseId === p!.toolUseId);
    assert.ok(result && result.kind === 'toolResult');
    assert.equal(result.isError, true);
    assert.equal(result.content, 'not in this repository, please');
    assert.equal(await inContainer(task.id, 'cat /home/user/src/proj/denied.txt 2>/dev/null || echo none'), 'none');
  });

  test('allow for the task: the next call of the tool is not asked', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_TOOL echo 1 >> task.txt' }, permissions: { mode: 'ask' } }, alice);
    const [p] = await waitPending(task.id, 'the first Bash request');
    assert.equal((await answer(task.id, p!.requestId, { decision: 'allowTask' })).status, 200);
    await env.waitState(task.id, 'waiting', { headers: alice, timeoutMs: 60_000 });
    await input(task.id, 'FAKE_TOOL echo 2 >> task.txt');
    await waitUntil(() => env.task(task.id, alice), (t) => t.state === 'waiting' && t.numTurns === 2, { timeoutMs: 60_000, what: 'the second turn' });
    assert.equal(await inContainer(task.id, 'cat /home/user/src/proj/task.txt'), '1\n2');
    const resolved = (await eventsOf(env, task.id, alice)).filter((e) => e.kind === 'approvalResolved');
    assert.deepEqual(
      resolved.map((e) => e.kind === 'approvalResolved' && [e.decision, e.by]),
      [
        ['allowTask', 'user'],
        ['allowTask', 'rule'],
      ],
    );
  });

  test('rules: allow Read outside the project, deny a pattern, ask for the rest', async () => {
    const rules = [
      { tool: 'Read', action: 'allow' },
      { tool: 'Bash', pattern: 'rm -rf /*', action: 'deny' },
      { tool: 'Bash', pattern: 'git push*', action: 'ask' },
    ];
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_READ /etc/hostname' }, permissions: { mode: 'rules', rules } }, alice);
    const read = await env.waitState(task.id, 'waiting', { headers: alice, timeoutMs: 90_000 });
    assert.equal(read.result, 'Read /etc/hostname.');
    await input(task.id, 'FAKE_TOOL rm -rf /home/user/src/proj/README.md');
    await waitUntil(() => env.task(task.id, alice), (t) => t.state === 'waiting' && t.numTurns === 2, { timeoutMs: 60_000, what: 'the denied turn' });
    assert.equal((await env.task(task.id, alice)).result, 'Denied: denied by the rule Bash(rm -rf /*) → deny');
    assert.equal(await inContainer(task.id, 'test -f /home/user/src/proj/README.md && echo kept'), 'kept');
    await input(task.id, 'FAKE_TOOL git push --dry-run origin HEAD:refs/heads/x 2>&1; true');
    const [p] = await waitPending(task.id, 'the git push request');
    assert.equal(p!.tool, 'Bash');
    assert.equal((await answer(task.id, p!.requestId, { decision: 'deny' })).status, 200);
    await waitUntil(() => env.task(task.id, alice), (t) => t.state === 'waiting' && t.numTurns === 3, { timeoutMs: 60_000, what: 'the asked turn' });
    assert.equal((await env.task(task.id, alice)).result, 'Denied: denied by alice');
    const resolved = (await eventsOf(env, task.id, alice)).filter((e) => e.kind === 'approvalResolved');
    assert.deepEqual(
      resolved.map((e) => e.kind === 'approvalResolved' && [e.decision, e.by]),
      [
        ['allowOnce', 'rule'],
        ['deny', 'rule'],
        ['deny', 'user'],
      ],
    );
  });

  test('MCP: approvals_list and approval_answer, for the owner only', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_TOOL echo mcp > mcp.txt' }, permissions: { mode: 'ask' } }, alice);
    const [p] = await waitPending(task.id, 'the Bash request');
    await using mine = await mcpClient(env.d.url, alice);
    await using his = await mcpClient(env.d.url, bob);
    const listed = await mine.call('approvals_list');
    assert.equal(listed.isError, undefined, JSON.stringify(listed));
    assert.deepEqual((listed.structuredContent as { approvals: PendingApproval[] }).approvals, [p]);
    assert.deepEqual((await his.call('approvals_list')).structuredContent, { approvals: [] });
    const stolen = await his.call('approval_answer', { task: task.id, requestId: p!.requestId, decision: 'allowOnce' });
    assert.equal(stolen.isError, true);
    assert.equal(stolen._meta?.['xyz.caic/error'], 'NOT_FOUND');
    const ok = await mine.call('approval_answer', { task: task.id, requestId: p!.requestId, decision: 'allowOnce' });
    assert.equal(ok.isError, undefined, JSON.stringify(ok));
    assert.deepEqual(ok.structuredContent, { requestId: p!.requestId, decision: 'allowOnce' });
    const twice = await mine.call('approval_answer', { task: task.id, requestId: p!.requestId, decision: 'deny' });
    assert.equal(twice._meta?.['xyz.caic/error'], 'CONFLICT');
    await env.waitState(task.id, 'waiting', { headers: alice, timeoutMs: 60_000 });
    assert.equal(await inContainer(task.id, 'cat /home/user/src/proj/mcp.txt'), 'mcp');
  });

  test('a task in mode ask or rules is refused for an agent that cannot ask; bad rules are a 400', async () => {
    const gemini = await api(alice, 'POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'gemini', prompt: { text: 'hi' }, permissions: { mode: 'ask' } });
    assert.equal(gemini.status, 400, gemini.body);
    assert.match(gemini.json<Envelope>().error.message, /cannot ask before it runs a tool/);
    const bad = await api(alice, 'POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hi' }, permissions: { mode: 'rules', rules: [{ tool: 'Bash', action: 'sometimes' }] } });
    assert.equal(bad.status, 400, bad.body);
  });

  test('a request pending across a daemon restart is pending again, and can be answered', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_TOOL echo after-restart > restart.txt' }, permissions: { mode: 'ask' } }, alice);
    const [p] = await waitPending(task.id, 'the Bash request');
    await env.restart();
    alice = { host: HOST, cookie: await signInCookie(env.d.url, HOST, stub, { id: 701, username: 'alice' }) };
    const [again] = await waitUntil(() => pending(task.id), (a) => a.length === 1, { timeoutMs: 60_000, what: 'the request after the restart' });
    assert.deepEqual(again, p);
    assert.equal((await env.task(task.id, alice)).pendingApprovals, 1);
    const r = await waitUntil(() => answer(task.id, p!.requestId, { decision: 'allowOnce' }), (x) => x.status !== 409, { timeoutMs: 30_000, what: 'the agent reattached' });
    assert.equal(r.status, 200, r.body);
    await env.waitState(task.id, 'waiting', { headers: alice, timeoutMs: 60_000 });
    assert.equal(await inContainer(task.id, 'cat /home/user/src/proj/restart.txt'), 'after-restart');
  });
});

describe('tool approval timeout', () => {
  let env: TaskEnv;
  before(async () => {
    env = await taskEnv({ extraConfig: '[approval]\ntimeout = "2s"\n' });
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
  });

  test('an unanswered request is denied at [approval] timeout; the agent is told', async () => {
    const task: Task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_TOOL echo late > late.txt' }, permissions: { mode: 'ask' } });
    const done = await env.waitState(task.id, 'waiting', { timeoutMs: 90_000 });
    assert.equal(done.result, 'Denied: no answer within 2s');
    const evs = await eventsOf(env, task.id, {});
    const asked = evs.find((e) => e.kind === 'approval');
    const resolved = evs.find((e) => e.kind === 'approvalResolved');
    assert.ok(asked && asked.kind === 'approval' && resolved && resolved.kind === 'approvalResolved');
    assert.equal(resolved.by, 'timeout');
    assert.equal(resolved.decision, 'deny');
    assert.ok(Date.parse(resolved.ts) >= Date.parse(asked.expiresAt) - 100, 'not denied before its deadline');
    assert.equal((await env.execIn(task.id, 'cat /home/user/src/proj/late.txt 2>/dev/null || echo none', 'user')).output.trim(), 'none');
  });

  test('[approval] mode is the default of a task that does not choose', async () => {
    const r = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hi' } });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json<Task>().permissions, { mode: 'bypass', rules: [] });
  });
});

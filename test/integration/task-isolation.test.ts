// Task isolation with login on: two users signed in through the (stand-in) GitHub login. To the
// other user a task does not exist: every task route answers 404 exactly as for an unknown id,
// lists and the task-list stream never show it. Real daemon, real Docker, the fake agent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { routes, type EventMessage, type Task, type TaskListEvent } from '../../src/api/index.js';
import { ROOTLESS } from '../helpers/engine.js';
import { SseClient } from '../helpers/sse.js';
import { githubLoginToml, startStubForge, type StubForge, type StubUser } from '../helpers/stub-forge.js';
import { signInCookie } from '../helpers/login.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

type Envelope = { error: { code: string; message: string } };
/** GitHub login needs an https external URL; requests name its host. */
const HOST = 'caic.test';

/** Signs `user` in through the stand-in GitHub login; the session cookie (name=value). */
const signIn = (url: string, stub: StubForge, user: StubUser) => signInCookie(url, HOST, stub, user);

/** A valid body for each task route that takes one: refusals must come from ownership, not validation. */
const BODIES: Record<string, unknown> = {
  answerApproval: { decision: 'deny' },
  taskInput: { prompt: { text: 'hello' } },
  taskRestart: { prompt: { text: 'hello' } },
  taskCompact: {},
  taskSync: {},
  renameTask: { title: 'mine now' },
  reviewAdd: { file: 'FAKE_NOTES.md', side: 'new', startLine: 1, endLine: 1, quote: '# Notes', body: 'mine' },
  reviewEdit: { body: 'mine' },
  taskRestartFrom: { eventId: 1, prompt: { text: 'hello' } },
  taskFork: { eventId: 1, prompt: { text: 'hello' } },
};

describe('task isolation between signed-in users', () => {
  let stub: StubForge;
  let env: TaskEnv;
  let alice: { cookie: string };
  let bob: { cookie: string };
  let task: Task;
  let toolUseId: string;
  const as = (who: { cookie: string }) => ({ host: HOST, cookie: who.cookie });

  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({ extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(stub, ['alice', 'bob'])}` });
    alice = { cookie: await signIn(env.d.url, stub, { id: 501, username: 'alice' }) };
    bob = { cookie: await signIn(env.d.url, stub, { id: 502, username: 'bob' }) };
  });
  after(async () => {
    try {
      await env?.[Symbol.asyncDispose]();
    } finally {
      await stub?.close();
    }
  });

  test("alice's task: hers to see and use", async () => {
    task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_DEMO please' }, sudo: !ROOTLESS }, as(alice));
    assert.equal(task.owner, 'alice');
    const done = await env.waitState(task.id, 'waiting', { headers: as(alice) });
    assert.equal(done.numTurns, 1);
    const s = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`, as(alice));
    await s.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'history');
    s.close();
    const use = s.messages<EventMessage>().find((e) => e.kind === 'toolUse');
    assert.ok(use && use.kind === 'toolUse');
    toolUseId = use.toolUseId;
    // The control: each guarded read works for the owner.
    // (No sudo on rootless Podman: there the password route is only checked for bob.)
    const sudo = ROOTLESS ? [] : [`/api/v1/tasks/${task.id}/sudo-password`];
    for (const path of [`/api/v1/tasks/${task.id}`, `/api/v1/tasks/${task.id}/diff`, `/api/v1/tasks/${task.id}/tool/${toolUseId}`, ...sudo]) {
      const r = await env.api('GET', path, undefined, as(alice));
      assert.equal(r.status, 200, `${path}: ${r.body}`);
    }
    assert.ok((await env.api('GET', '/api/v1/tasks', undefined, as(alice))).json<Task[]>().some((t) => t.id === task.id));
  });

  test('to bob every task route answers 404, exactly as for an unknown id', async () => {
    const unknown = '0123456789abcdefghjkmnpqrs';
    const covered: string[] = [];
    for (const [name, def] of Object.entries(routes)) {
      if (!def.path.startsWith('/api/v1/tasks/:id')) continue;
      const path = (id: string) => def.path.replace(':id', id).replace(':toolUseId', toolUseId).replace(':port', '3000').replace(':commentId', '01abcdefghjkmnpqrstvwxyz0').replace(':requestId', 'some-request');
      const body = 'body' in def && def.body ? (BODIES[name] ?? {}) : undefined;
      const r = await env.api(def.method, path(task.id), body, as(bob));
      if (r.status === 404 && /^no route/.test(r.json<Envelope>().error.message)) continue; // not served (yet)
      covered.push(name);
      assert.equal(r.status, 404, `${def.method} ${def.path} as bob: ${r.status} ${r.body}`);
      const same = await env.api(def.method, path(unknown), body, as(bob));
      assert.deepEqual(
        { status: r.status, body: r.body.replace(task.id, 'ID') },
        { status: same.status, body: same.body.replace(unknown, 'ID') },
        `${def.method} ${def.path}: bob cannot tell alice's task from no task`,
      );
    }
    for (const name of ['getTask', 'renameTask', 'taskEvents', 'taskInput', 'taskInterrupt', 'taskRestart', 'taskClearContext', 'taskCompact', 'taskStop', 'taskRevive', 'taskPurge', 'taskSync', 'taskDiff', 'taskToolInput', 'taskSudoPassword', 'taskPreviews', 'taskPreviewOpen', 'reviewList', 'reviewAdd', 'reviewEdit', 'reviewDelete', 'reviewSend', 'taskRestartFrom', 'taskFork', 'taskApprovals', 'answerApproval']) {
      assert.ok(covered.includes(name), `${name} was checked`);
    }
    assert.ok(!(await env.api('GET', '/api/v1/tasks', undefined, as(bob))).json<Task[]>().some((t) => t.id === task.id), 'not in his list');
    // Nothing bob sent changed the task.
    const t = await env.task(task.id, as(alice));
    assert.equal(t.state, 'waiting');
    assert.equal(t.title, task.title);
  });

  test("the task-list stream: alice sees her task's changes, bob sees none of them", async () => {
    const aliceList = new SseClient(`${env.d.url}/api/v1/tasks/events`, as(alice));
    const bobList = new SseClient(`${env.d.url}/api/v1/tasks/events`, as(bob));
    const ids = (c: SseClient) =>
      c.events.flatMap((e) => {
        const ev = e.data as TaskListEvent;
        return ev.type === 'snapshot' ? ev.tasks.map((t) => t.id) : ev.type === 'upsert' ? [ev.task.id] : [ev.id];
      });
    await aliceList.waitFor((ev) => ev.length >= 1, 10_000, "alice's snapshot");
    await bobList.waitFor((ev) => ev.length >= 1, 10_000, "bob's snapshot");
    assert.ok(ids(aliceList).includes(task.id));
    // Bob's own task, then a change to alice's: he hears of his, never of hers.
    const his = await env.create({ repos: [], harness: 'fake', prompt: { text: 'bob here' } }, as(bob));
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text: 'more' } }, as(alice))).status, 200);
    await aliceList.waitFor(
      (ev) => ev.some((e) => (e.data as TaskListEvent).type === 'patch' && (e.data as { id: string }).id === task.id && (e.data as { fields: Task }).fields.state === 'running'),
      30_000,
      "alice's task running",
    );
    await bobList.waitFor((ev) => ev.some((e) => (e.data as TaskListEvent).type === 'upsert' && (e.data as { task: Task }).task.id === his.id), 30_000, 'his own task');
    await env.waitState(task.id, 'waiting', { headers: as(alice) });
    await env.waitState(his.id, 'waiting', { headers: as(bob) });
    await bobList.waitFor((ev) => ev.some((e) => (e.data as TaskListEvent).type === 'patch' && (e.data as { id: string }).id === his.id), 30_000, 'his task patched');
    aliceList.close();
    bobList.close();
    assert.ok(!ids(bobList).includes(task.id), "alice's task never reached bob's stream");
    assert.ok(!ids(aliceList).includes(his.id), "bob's task never reached alice's stream");
  });

  test("secrets are per user: bob neither lists, deletes nor gives his task alice's; no session is 401", async () => {
    assert.equal((await env.api('PUT', '/api/v1/secrets/ALICE_TOKEN', { value: 'alice-secret-value' }, as(alice))).status, 200);
    const bobs = await env.api('GET', '/api/v1/secrets', undefined, as(bob));
    assert.equal(bobs.status, 200);
    assert.deepEqual(bobs.json<{ secrets: unknown[] }>().secrets, []);
    assert.equal((await env.api('DELETE', '/api/v1/secrets/ALICE_TOKEN', undefined, as(bob))).status, 404);
    const stolen = await env.api('POST', '/api/v1/tasks', { repos: [], harness: 'fake', prompt: { text: 'x' }, secrets: ['ALICE_TOKEN'] }, as(bob));
    assert.equal(stolen.status, 400, stolen.body);
    for (const [method, body] of [['GET', undefined], ['PUT', { value: 'anonymous-value' }], ['DELETE', undefined]] as const) {
      const r = await env.api(method, '/api/v1/secrets/ALICE_TOKEN'.replace(method === 'GET' ? '/ALICE_TOKEN' : '', ''), body, { host: HOST });
      assert.equal(r.status, 401, `${method}: ${r.body}`);
    }
    assert.deepEqual((await env.api('GET', '/api/v1/secrets', undefined, as(alice))).json<{ secrets: { name: string }[] }>().secrets.map((s) => s.name), ['ALICE_TOKEN']);
  });
});

// Tasks end to end through HTTP: real daemon, real Docker, the fake agent under the relay, real git.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { EventMessage, SyncResp, Task, TaskState } from '../../src/api/index.js';
import { engineRuntime, ROOTLESS, unsupportedOn } from '../helpers/engine.js';
import { SseClient } from '../helpers/sse.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

type Envelope = { error: { code: string; message: string }; details?: Record<string, unknown> };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd }).toString();

describe('tasks with the fake agent', () => {
  let env: TaskEnv;
  let task: Task;
  let stream: SseClient;
  const kinds = () => stream.messages<EventMessage>().map((e) => e.kind);
  const results = () => stream.messages<EventMessage>().filter((e) => e.kind === 'result').length;
  const state = async () => (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>().state;
  /** Waits for a state, then for the stream to hold every event up to it (SSE writes are batched). */
  const waitState = async (want: TaskState) => {
    const t = await env.waitState(task.id, want, { timeoutMs: 30_000 });
    await stream.waitFor((ev) => ev.some((e) => (e.id ?? 0) >= t.lastEventId), 10_000, `event ${t.lastEventId} on the stream`);
  };
  const send = async (text: string) => {
    const r = await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text } });
    assert.equal(r.status, 200, r.body);
  };

  before(async () => {
    env = await taskEnv();
  });
  after(async () => {
    stream?.close();
    await env[Symbol.asyncDispose]();
  });

  test('create → provisioning log → init, streamed text, result → waiting', async () => {
    const repos = (await env.api('GET', '/api/v1/server/repos')).json<{ name: string; baseBranch: string; remote: string }[]>();
    assert.deepEqual(repos.map((r) => [r.name, r.baseBranch, r.remote]), [['proj', 'main', 'origin']]);
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello there' } });
    assert.equal(created.status, 200, created.body);
    task = created.json<Task>();
    assert.equal(task.state, 'pending');
    assert.equal(task.title, 'hello there');
    stream = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`);
    await stream.waitFor(() => results() >= 1, 60_000, 'first result');
    const k = kinds();
    for (const kind of ['log', 'system', 'userInput', 'init', 'textDelta', 'text', 'result']) assert.ok(k.includes(kind as EventMessage['kind']), `has ${kind}: ${k.join(',')}`);
    const phases = stream.messages<EventMessage>().flatMap((e) => (e.kind === 'log' && e.phase ? [e.phase] : []));
    for (const p of ['branch', 'image', 'container.create', 'container.start', 'sshHandshake', 'attach']) assert.ok(phases.includes(p), `phase ${p} in ${phases.join(',')}`);
    const ids = stream.events.filter((e) => e.event === 'message').map((e) => e.id);
    assert.deepEqual(ids, ids.map((_, i) => i + 1), 'ids are 1, 2, 3, ...');
    assert.ok(stream.events.some((e) => e.event === 'ready'));
    await waitState('waiting');
    const t = (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>();
    assert.equal(t.repos[0]!.branch, 'caic-1');
    assert.ok(t.costUSD > 0 && t.numTurns === 1, JSON.stringify(t));
    assert.match(t.container, /^caic-proj-caic-1/);
    assert.match(git(env.root + '/proj', 'branch', '--list', 'caic-1'), /caic-1/, 'host branch created');
  });

  test('ask → asking → answer → continue', async () => {
    await send('FAKE_ASK please');
    await stream.waitFor(() => results() >= 2, 30_000, 'ask turn');
    const ask = stream.messages<EventMessage>().find((e) => e.kind === 'ask');
    assert.ok(ask && ask.kind === 'ask' && ask.questions[0]!.options.length === 2);
    await waitState('asking');
    await send('PostgreSQL');
    await stream.waitFor(() => results() >= 3, 30_000, 'answer turn');
    await waitState('waiting');
  });

  test('the demo edits files; diff and diff stat show them; long tool input is fetchable', async () => {
    await send('FAKE_DEMO now');
    await stream.waitFor(() => results() >= 4, 30_000, 'demo turn');
    const events = stream.messages<EventMessage>();
    const uses = events.filter((e) => e.kind === 'toolUse').map((e) => (e.kind === 'toolUse' ? e.name : ''));
    for (const name of ['Bash', 'Write', 'Edit', 'TodoWrite']) assert.ok(uses.includes(name), `tool ${name}`);
    const results_ = events.filter((e) => e.kind === 'toolResult');
    assert.ok(results_.every((e) => e.kind === 'toolResult' && typeof e.durationMs === 'number'));
    assert.ok(events.some((e) => e.kind === 'todo'));
    await stream.waitFor((ev) => ev.some((e) => (e.data as EventMessage | undefined)?.kind === 'diffStat' && JSON.stringify(e.data).includes('FAKE_NOTES.md')), 30_000, 'diff stat');
    const diff = await env.api('GET', `/api/v1/tasks/${task.id}/diff`);
    assert.equal(diff.status, 200, diff.body);
    const d = diff.json<{ files: { path: string }[]; diff: string }>();
    assert.deepEqual(d.files.map((f) => f.path).sort(), ['FAKE_NOTES.md', 'README.md']);
    assert.match(d.diff, /\+Written by the fake agent\./);
    const one = (await env.api('GET', `/api/v1/tasks/${task.id}/diff?path=README.md`)).json<{ files: { path: string }[] }>();
    assert.deepEqual(one.files.map((f) => f.path), ['README.md']);
    const toolId = events.find((e) => e.kind === 'toolUse')!;
    assert.equal((await env.api('GET', `/api/v1/tasks/${task.id}/tool/${(toolId as { toolUseId: string }).toolUseId}`)).status, 200);
    assert.equal((await env.api('GET', `/api/v1/tasks/${task.id}/tool/nope`)).status, 404);
  });

  test('sync: pushes clean work, blocks a planted AWS key, force overrides', async () => {
    const clean = await env.api('POST', `/api/v1/tasks/${task.id}/sync`, {});
    assert.equal(clean.status, 200, clean.body);
    assert.equal(clean.json<SyncResp>().status, 'synced');
    assert.match(git(env.origin, 'show', 'caic-1:FAKE_NOTES.md'), /Written by the fake agent/);

    // Plant a secret through the same container, as an agent would.
    const rt = await engineRuntime(env.d.configDir);
    try {
      const handle = (await rt.list()).find((c) => c.taskId === task.id)!;
      await rt.exec(handle, `cd ~/src/proj && printf 'aws_key = "%s"\\n' AKIAIOSFODNN7EXAMPLF > config.ini`);
    } finally {
      rt.close();
    }
    const blocked = (await env.api('POST', `/api/v1/tasks/${task.id}/sync`, {})).json<SyncResp>();
    assert.equal(blocked.status, 'blocked');
    assert.ok(blocked.safetyIssues.some((i) => i.file === 'config.ini' && i.kind === 'secret'), JSON.stringify(blocked));
    assert.throws(() => git(env.origin, 'show', 'caic-1:config.ini'), 'not pushed');
    const forced = (await env.api('POST', `/api/v1/tasks/${task.id}/sync`, { force: true })).json<SyncResp>();
    assert.equal(forced.status, 'synced');
    assert.match(git(env.origin, 'show', 'caic-1:config.ini'), /AKIA/);
  });

  test('resume with Last-Event-ID: no gap, no duplicate', async () => {
    const all = stream.events.filter((e) => e.event === 'message');
    const cut = all[Math.floor(all.length / 2)]!.id!;
    const resumed = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`, { 'last-event-id': String(cut) });
    await resumed.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'ready');
    const ids = resumed.events.filter((e) => e.event === 'message').map((e) => e.id!);
    resumed.close();
    assert.equal(ids[0], cut + 1);
    assert.deepEqual(ids, ids.map((_, i) => cut + 1 + i));
  });

  test('full history leaves out the deltas a complete text replaced', async () => {
    const live = stream.messages<EventMessage>();
    const full = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`);
    await full.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'ready');
    const last = live.at(-1)!.id;
    const got = full.messages<EventMessage>().filter((e) => e.id <= last); // later ones: not in `live`
    full.close();
    const dropped = live.filter((e) => !got.some((g) => g.id === e.id));
    assert.deepEqual(got, live.filter((e) => !dropped.includes(e)), 'everything else, as the live client saw it');
    assert.ok(dropped.length > 0 && dropped.every((e) => e.kind === 'textDelta'), 'only text deltas are left out');
    for (const d of dropped) {
      const next = live.find((e) => e.id > d.id && !['textDelta', 'log', 'usage', 'diffStat'].includes(e.kind));
      assert.equal(next?.kind, 'text', `delta ${d.id} is followed by the text it adds up to`);
    }
  });

  test('plan → has_plan → restart without a prompt executes it', async () => {
    await send('FAKE_PLAN');
    await waitState('has_plan');
    const t = (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>();
    assert.match(t.planContent, /Add a note file/);
    const before = results();
    const r = await env.api('POST', `/api/v1/tasks/${task.id}/restart`);
    assert.equal(r.status, 200, r.body);
    await stream.waitFor(() => results() > before, 30_000, 'plan execution');
    const sessions = stream.messages<EventMessage>().filter((e) => e.kind === 'system' && e.subtype === 'session_start');
    assert.equal(sessions.length, 2);
    const inputs = stream.messages<EventMessage>().filter((e) => e.kind === 'userInput');
    assert.match(JSON.stringify(inputs.at(-1)), /Execute this plan/);
    await waitState('waiting');
  });

  test('stop → stopped; revive resumes; input works again; purge removes the container', async () => {
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/stop`)).status, 200);
    assert.equal(await state(), 'stopped');
    const input = await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text: 'x' } });
    assert.equal(input.status, 409);
    assert.equal(input.json<Envelope>().details?.state, 'stopped');
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/stop`)).status, 409);
    const revive = await env.api('POST', `/api/v1/tasks/${task.id}/revive`);
    assert.equal(revive.status, 200, revive.body);
    await waitState('waiting');
    const before = results();
    await send('after revive');
    await stream.waitFor(() => results() > before, 30_000, 'turn after revive');
    const session = stream.messages<EventMessage>().filter((e) => e.kind === 'system' && e.subtype === 'session_start').at(-1);
    assert.match(JSON.stringify(session), /"reason":"revive".*"resume":"[0-9a-f-]{36}"/);
    const purge = await env.api('POST', `/api/v1/tasks/${task.id}/purge`);
    assert.equal(purge.status, 200, purge.body);
    assert.equal(await state(), 'purged');
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/purge`)).status, 409);
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text: 'x' } })).status, 409);
    const listed = (await env.api('GET', '/api/v1/tasks')).json<Task[]>();
    assert.equal(listed.find((t) => t.id === task.id)?.state, 'purged');
  });

  test('bad input on every route: 4xx envelopes, nothing crashes', async () => {
    const cases: [string, string, unknown, number][] = [
      ['POST', '/api/v1/tasks', { repos: 'proj', harness: 'fake', prompt: { text: 'x' } }, 400],
      ['POST', '/api/v1/tasks', { repos: [{ name: 'nope' }], harness: 'fake', prompt: { text: 'x' } }, 404],
      ['POST', '/api/v1/tasks', { repos: [{ name: '../etc' }], harness: 'fake', prompt: { text: 'x' } }, 400],
      ['POST', '/api/v1/tasks', { repos: [], harness: 'skynet', prompt: { text: 'x' } }, 400],
      ['POST', '/api/v1/tasks', { repos: [], harness: 'fake', model: 'gpt-99', prompt: { text: 'x' } }, 400],
      // An agent the image does not have (readiness, before anything starts).
      ['POST', '/api/v1/tasks', { repos: [], harness: 'gemini', prompt: { text: 'x' } }, 409],
      ['POST', '/api/v1/tasks', { repos: [], harness: 'fake', prompt: { text: 'y'.repeat(600 * 1024) } }, 400],
      ['POST', '/api/v1/tasks', { repos: [], harness: 'fake', prompt: { text: '   ' } }, 400],
      ['GET', '/api/v1/tasks/NOT-AN-ID', undefined, 400],
      ['GET', '/api/v1/tasks/0123456789abcdefghjkmnpqrs', undefined, 404],
      ['POST', '/api/v1/tasks/0123456789abcdefghjkmnpqrs/input', { prompt: { text: 'x' } }, 404],
      ['POST', '/api/v1/tasks/0123456789abcdefghjkmnpqrs/input', { prompt: 'x' }, 400],
      ['GET', '/api/v1/tasks/0123456789abcdefghjkmnpqrs/events', undefined, 404],
      ['GET', '/api/v1/server/repos/branches?repo=nope', undefined, 404],
      ['POST', '/api/v1/server/repos', { url: 'ftp://x/y' }, 400],
      ['POST', '/api/v1/server/repos', { url: `file://${env.origin}`, path: '../outside' }, 400],
      ['POST', '/api/v1/server/repos', { url: `file://${env.origin}`, path: 'proj' }, 409],
    ];
    for (const [method, path, body, status] of cases) {
      const r = await env.api(method, path, body);
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)} → ${r.status} ${r.body.slice(0, 200)}`);
      assert.ok(r.json<Envelope>().error.code, 'envelope');
    }
    const big = await env.api('POST', '/api/v1/tasks', { repos: [], harness: 'fake', prompt: { text: 'z'.repeat(2 * 1024 * 1024) } });
    assert.equal(big.status, 413);
    assert.equal((await env.api('GET', '/healthz')).status, 200, 'still serving');
  });

  test('clone a repository under the root; branches; harnesses; preferences', async () => {
    const cloned = await env.api('POST', '/api/v1/server/repos', { url: `file://${env.origin}`, path: 'group/copy', depth: 0 });
    assert.equal(cloned.status, 200, cloned.body);
    assert.equal(cloned.json<{ name: string }>().name, 'group/copy');
    const branches = (await env.api('GET', '/api/v1/server/repos/branches?repo=group/copy')).json<{ branches: { name: string; remote: string }[] }>();
    assert.ok(branches.branches.some((b) => b.name === 'caic-1' && b.remote === 'origin'), JSON.stringify(branches));
    const harnesses = (await env.api('GET', '/api/v1/server/harnesses')).json<{ name: string }[]>();
    assert.deepEqual(harnesses.map((h) => h.name), ['claude', 'codex', 'fake', 'gemini', 'opencode']);
    const prefs = (await env.api('GET', '/api/v1/server/preferences')).json<{ repositories: { name: string; harness: string }[]; harness: string }>();
    assert.equal(prefs.repositories[0]?.name, 'proj');
    assert.equal(prefs.harness, 'fake');
    const set = await env.api('POST', '/api/v1/server/preferences', { settings: { theme: 'dark' } });
    assert.deepEqual(set.json<{ settings: unknown }>().settings, { theme: 'dark' });
  });

  // That only its owner gets it is checked with two signed-in users in task-isolation.test.ts.
  test('rootless Podman: a sudo task is refused with 400 before anything starts', { skip: !ROOTLESS && 'only on podman-rootless' }, async () => {
    const before = (await env.api('GET', '/api/v1/tasks')).json<Task[]>().length;
    const r = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'with sudo' }, sudo: true });
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /sudo is not available with rootless Podman/);
    assert.equal((await env.api('GET', '/api/v1/tasks')).json<Task[]>().length, before, 'no task was made');
  });

  test('the sudo password is given for a sudo task only, and never logged', { skip: unsupportedOn(['podman-rootless'], 'no sudo there (the test above)') }, async () => {
    const plain = await env.api('GET', `/api/v1/tasks/${task.id}/sudo-password`);
    assert.equal(plain.status, 404, plain.body);
    const id = (await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'with sudo' }, sudo: true })).id;
    await env.waitState(id, 'waiting');
    const r = await env.api('GET', `/api/v1/tasks/${id}/sudo-password`);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['cache-control'], 'no-store');
    const { password } = r.json<{ password: string }>();
    assert.match(password, /^[A-Za-z0-9]{24}$/);
    assert.ok(!env.d.logs.text.includes(password), 'the password is not logged');
    assert.ok(!(await env.api('GET', `/api/v1/tasks/${id}`)).body.includes(password), 'nor part of the task');
    assert.equal((await env.api('POST', `/api/v1/tasks/${id}/purge`)).status, 200);
  });

  test('a task whose container vanished while the daemon was down fails, and can still be purged', async () => {
    const id = (await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'short lived' } })).id;
    await env.waitState(id, 'waiting');
    await env.d.daemon.close();
    for (const c of await env.docker.listContainers({ all: true, filters: { label: [`caic=${id}`] } })) await env.docker.getContainer(c.Id).remove({ force: true });
    await env.restart();
    // Adoption runs in the background after start-up.
    const t = await env.waitState(id, 'failed');
    assert.match(t.error, /container of this task is gone/);
    const purge = await env.api('POST', `/api/v1/tasks/${id}/purge`);
    assert.equal(purge.status, 200, purge.body);
    assert.equal((await env.task(id)).state, 'purged');
  });
});

// The voice tools routes on a real daemon (fake-agent tasks in real containers): the MCP tools as JSON Schema a data channel accepts, calls run as the session's user, bad input, unknown tools, failures the model can say, and the audit log.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AUDIT_FILE_NAME } from '../../src/audit/index.js';
import { parseVoiceClientMessage, VoiceSessionSetupMessage, type Task, type VoiceToolCallResp, type VoiceToolsResp } from '../../src/api/index.js';
import { TOOLS } from '../../src/mcp/index.js';
import { createClient } from '../../web/src/lib/api.js';
import { runToolCall } from '../../web/src/lib/voice.js';
import { cookiePair } from '../helpers/http.js';
import { signIn } from '../helpers/login.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { until } from '../helpers/wait.js';

type Envelope = { error: { code: string; message: string } };
type Summary = { taskNumber: number; id: string; state: string };

describe('voice tools, no login (loopback)', { timeout: 180_000 }, () => {
  let env: TaskEnv;
  const call = (name: string, args?: unknown, headers: Record<string, string> = {}) => env.api('POST', '/api/v1/voice/tools/call', args === undefined ? { name } : { name, args }, headers);

  before(async () => {
    env = await taskEnv();
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
  });

  test('the tools are the MCP server’s, as self-contained JSON Schema that session.setup accepts', async () => {
    const r = await env.api('GET', '/api/v1/voice/tools');
    assert.equal(r.status, 200, r.body);
    const { tools } = r.json<VoiceToolsResp>();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS.map((t) => t.name).sort());
    for (const t of tools) {
      assert.equal(t.parameters.type, 'object', t.name);
      assert.ok(!JSON.stringify(t.parameters).includes('$ref'), `${t.name}: no $ref`);
      assert.ok(t.description.length > 20, t.name);
    }
    assert.deepEqual(Object.keys((tools.find((t) => t.name === 'task_send_message')!.parameters as { properties: object }).properties).sort(), ['message', 'task']);
    // What the client sends on the data channel: the gateway's own parser must take the list whole.
    const setup = VoiceSessionSetupMessage.safeParse({ type: 'session.setup', tools, context: '' });
    assert.ok(setup.success, setup.success ? '' : JSON.stringify(setup.error.issues.slice(0, 3)));
  });

  test('calls run as the local user: create, list, detail; a domain failure is ok:false with the reason', async () => {
    const empty = await call('tasks_list');
    assert.equal(empty.status, 200, empty.body);
    assert.deepEqual(empty.json<VoiceToolCallResp>(), { ok: true, result: { tasks: [] }, text: 'No tasks.' });

    const created = await call('task_create', { prompt: 'say hello', harness: 'fake' });
    assert.equal(created.status, 200, created.body);
    const c = created.json<VoiceToolCallResp>();
    assert.equal(c.ok, true, c.text);
    assert.match(c.text, /^Started #1 /);
    const id = (c.result as Task).id;

    const list = call('tasks_list').then((x) => x.json<VoiceToolCallResp>());
    assert.deepEqual(((await list).result as { tasks: Summary[] }).tasks.map((t) => [t.taskNumber, t.id]), [[1, id]]);

    const missing = await call('task_get_detail', { task: 7 });
    assert.equal(missing.status, 200, missing.body);
    const m = missing.json<VoiceToolCallResp>();
    assert.equal(m.ok, false);
    assert.equal(m.text, 'no task number 7 (tasks_list shows the numbers)');
    assert.deepEqual(m.result, { error: { code: 'NOT_FOUND', message: m.text } });

    await env.waitState(id, 'waiting');
    const sent = (await call('task_send_message', { task: 1, message: 'a secret plan: hunter2' })).json<VoiceToolCallResp>();
    assert.equal(sent.ok, true, sent.text);
    // Answering needs a question: the model hears why not.
    const answer = (await call('task_answer_question', { task: 1, answer: 'yes' })).json<VoiceToolCallResp>();
    assert.equal(answer.ok, false);
    assert.match(answer.text, /not asking a question/);
  });

  test('bad input: arguments that do not fit the tool → 400 with the schema’s message; unknown tool → 404; a malformed body → 400', async () => {
    const bad = await call('task_get_detail', { task: { nested: true } });
    assert.equal(bad.status, 400, bad.body);
    assert.equal(bad.json<Envelope>().error.code, 'BAD_REQUEST');
    assert.match(bad.json<Envelope>().error.message, /^invalid arguments for task_get_detail: task: /);
    const missingArg = await call('task_send_message', { task: 1 });
    assert.equal(missingArg.status, 400, missingArg.body);
    assert.match(missingArg.json<Envelope>().error.message, /message/);
    const unknown = await call('rm_rf');
    assert.equal(unknown.status, 404, unknown.body);
    assert.match(unknown.json<Envelope>().error.message, /unknown tool "rm_rf"/);
    for (const body of [{}, { name: '' }, { name: 'tasks_list', args: [] }, { name: 'tasks_list', extra: 1 }, { name: 'x'.repeat(65) }]) {
      const r = await env.api('POST', '/api/v1/voice/tools/call', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
    }
  });

  test('the web client’s tool-call path: each tool.call becomes a tool.result the gateway’s parser accepts, failures included', async () => {
    const client = createClient({ base: env.d.url });
    const cases = [
      { call: { id: 'c1', name: 'tasks_list', args: {} }, ok: true },
      { call: { id: 'c2', name: 'task_get_detail', args: { task: 99 } }, ok: false, code: 'NOT_FOUND', text: 'no task number 99 (tasks_list shows the numbers)' },
      { call: { id: 'c3', name: 'task_stop', args: { task: '01aaaaaaaaaaaaaaaaaaaaaaaa' } }, ok: false, code: 'NOT_FOUND', text: 'no task 01aaaaaaaaaaaaaaaaaaaaaaaa' },
      { call: { id: 'c4', name: 'task_get_detail', args: { task: [1] } }, ok: false, code: 'BAD_REQUEST' },
      { call: { id: 'c5', name: 'make_coffee', args: {} }, ok: false, code: 'NOT_FOUND', text: 'unknown tool "make_coffee" (GET /api/v1/voice/tools lists them)' },
    ];
    for (const c of cases) {
      const run = await runToolCall(client, c.call);
      assert.equal(run.ok, c.ok, `${c.call.name}: ${run.text}`);
      assert.equal(run.message.id, c.call.id);
      assert.equal(run.message.name, c.call.name);
      const parsed = parseVoiceClientMessage(JSON.stringify(run.message));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
      if (c.code) assert.equal((run.message.result as { error: { code: string } }).error.code, c.code, c.call.name);
      if (c.text) assert.equal(run.text, c.text);
    }
  });

  test('every call is in the audit log as an MCP tool call by the voice client, free text redacted', async () => {
    const file = join(env.d.configDir, AUDIT_FILE_NAME);
    const records = await until(async () => {
      const lines = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.event === 'mcp.tool' && r.client === 'voice');
      return recs.some((r) => r.tool === 'task_send_message' && r.decision === 'deny') ? recs : null;
    }, 'the voice calls in the audit log');
    const text = JSON.stringify(records);
    assert.ok(!text.includes('hunter2') && !text.includes('say hello'), 'free text is not logged');
    const sent = records.find((r) => r.tool === 'task_send_message' && r.decision === 'allow')!;
    assert.deepEqual(sent.args, { task: 1, message: '<22 chars>' });
    assert.equal(sent.result, 'OK');
    assert.equal(sent.user, 'local');
    assert.equal(sent.via, 'none');
    assert.ok(records.some((r) => r.tool === 'task_get_detail' && r.result === 'NOT_FOUND' && r.decision === 'allow'));
    assert.ok(records.some((r) => r.tool === 'task_get_detail' && r.result === 'INVALID_PARAMS' && r.decision === 'deny'));
    assert.ok(!records.some((r) => r.tool === 'rm_rf'), 'an unknown name is not a tool call');
  });
});

describe('voice tools with login: each user’s own tasks only', { timeout: 180_000 }, () => {
  let stub: StubForge;
  let env: TaskEnv;
  const audit: Record<string, unknown>[] = [];
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  const HOST = 'caic.test';
  const call = (headers: Record<string, string>, name: string, args: unknown = {}) =>
    env.api('POST', '/api/v1/voice/tools/call', { name, args }, headers).then((r) => {
      assert.equal(r.status, 200, r.body);
      return r.json<VoiceToolCallResp>();
    });

  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({ extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(stub, ['alice', 'bob'])}`, daemon: { mcp: { audit: { append: (r) => audit.push(r) } } } });
    alice = await signIn(env.d.url, HOST, stub, { id: 101, username: 'alice' });
    // The web page's form of the same session: the cookie.
    const bobBearer = await signIn(env.d.url, HOST, stub, { id: 102, username: 'bob' });
    bob = { host: HOST, cookie: cookiePair(`caic_session=${bobBearer.authorization!.slice('Bearer '.length)}`) };
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test('without a session: 401 on both routes', async () => {
    const list = await env.api('GET', '/api/v1/voice/tools', undefined, { host: HOST });
    assert.equal(list.status, 401, list.body);
    const run = await env.api('POST', '/api/v1/voice/tools/call', { name: 'tasks_list' }, { host: HOST });
    assert.equal(run.status, 401, run.body);
  });

  test('bob cannot see, read or act on alice’s task: it answers as no task at all', async () => {
    const created = await call(alice, 'task_create', { prompt: 'alice’s work', harness: 'fake' });
    assert.equal(created.ok, true, created.text);
    const task = created.result as Task;
    assert.deepEqual(((await call(bob, 'tasks_list')).result as { tasks: unknown[] }).tasks, []);
    const aliceList = (await call(alice, 'tasks_list')).result as { tasks: Summary[] };
    assert.deepEqual(aliceList.tasks.map((t) => t.id), [task.id]);

    const byNumber = await call(bob, 'task_get_detail', { task: 1 });
    const byId = await call(bob, 'task_get_detail', { task: task.id });
    const nothere = await call(bob, 'task_get_detail', { task: '01aaaaaaaaaaaaaaaaaaaaaaaa' });
    assert.equal(byNumber.ok, false);
    assert.equal(byNumber.text, 'no task number 1 (tasks_list shows the numbers)');
    assert.deepEqual([byId.ok, byId.text], [false, `no task ${task.id}`]);
    assert.deepEqual([nothere.ok, nothere.text], [false, 'no task 01aaaaaaaaaaaaaaaaaaaaaaaa'], 'the same answer as an id nobody has');
    for (const [name, args] of [
      ['task_send_message', { task: task.id, message: 'from bob' }],
      ['task_stop', { task: task.id }],
      ['task_purge', { task: task.id }],
      ['agent_last_message', { task: task.id }],
      ['task_diff', { task: task.id }],
    ] as const) {
      const r = await call(bob, name, args);
      assert.deepEqual([r.ok, r.text], [false, `no task ${task.id}`], name);
    }
    // Alice's task went on untouched.
    const after = await env.waitState(task.id, 'waiting', { headers: alice });
    assert.equal(after.numTurns, 1, 'bob’s message never reached the agent');
    const mine = await call(alice, 'task_get_detail', { task: 1 });
    assert.equal(mine.ok, true, mine.text);
    assert.equal((mine.result as Task).id, task.id);
  });

  test('the audit records name the user and the web session', () => {
    const bobs = audit.filter((r) => r.event === 'mcp.tool' && r.username === 'bob');
    assert.ok(bobs.length >= 6, JSON.stringify(bobs));
    assert.ok(bobs.every((r) => r.client === 'voice' && r.via === 'cookie' && typeof r.user === 'string' && r.user !== 'local'));
    const stop = bobs.find((r) => r.tool === 'task_stop')!;
    assert.equal(stop.result, 'NOT_FOUND');
    assert.ok(!JSON.stringify(audit).includes('from bob'));
  });
});

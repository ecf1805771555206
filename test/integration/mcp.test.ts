// The MCP endpoint end to end with no login: the SDK's client against a real daemon, a fake-agent task in a real container.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Task, TaskState } from '../../src/api/index.js';
import { http } from '../helpers/http.js';
import { mcpClient, type TestMcpClient } from '../helpers/mcp.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

const TOOL_NAMES = [
  'tasks_list',
  'task_get_detail',
  'task_create',
  'task_send_message',
  'task_answer_question',
  'task_push_branch_to_remote',
  'task_stop',
  'task_revive',
  'task_purge',
  'task_restart',
  'task_diff',
  'agent_last_message',
  'repos_list',
  'clone_repo',
  'get_usage',
  'secrets_list',
  'secret_set',
  'secret_delete',
  'approvals_list',
  'approval_answer',
];

describe('MCP with no login (loopback)', { timeout: 180_000 }, () => {
  let env: TaskEnv;
  let mcp: TestMcpClient;
  let task: Task & { taskNumber: number };

  const read = async (uri: string) => {
    const r = await mcp.client.readResource({ uri });
    const c = r.contents[0]!;
    return JSON.parse('text' in c ? c.text : '') as Task & { taskNumber: number };
  };
  /** Waits for notifications about the task (no polling) until it is in `state`. */
  const waitTask = async (accept: (t: Task) => boolean, what: string) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const seen = mcp.updated.length;
      const t = await read(`caic://tasks/${task.id}`);
      if (accept(t)) return t;
      if (mcp.updated.length === seen) await mcp.nextNotification(Math.max(1, deadline - Date.now()), `task ${task.id}: ${what} (is ${t.state})`);
    }
  };
  const waitFor = (state: TaskState) => waitTask((t) => t.state === state, `state ${state}`);

  before(async () => {
    env = await taskEnv();
    mcp = await mcpClient(env.d.url);
  });
  after(async () => {
    await mcp?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  test('tools/list: every tool, with input and output schemas and annotations; instructions and resources', async () => {
    const { tools } = await mcp.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOL_NAMES].sort());
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object', t.name);
      assert.equal(t.outputSchema?.type, 'object', t.name);
      assert.ok(!JSON.stringify(t.inputSchema).includes('$ref') && !JSON.stringify(t.outputSchema).includes('$ref'), `${t.name}: self-contained schemas`);
      assert.equal(typeof t.annotations?.readOnlyHint, 'boolean', t.name);
    }
    const list = tools.find((t) => t.name === 'tasks_list')!;
    assert.deepEqual((list.inputSchema.properties as { limit: { maximum: number } }).limit.maximum, 50);
    assert.equal(tools.find((t) => t.name === 'task_purge')!.annotations!.destructiveHint, true);
    assert.match(mcp.client.getInstructions() ?? '', /caic runs coding agents/);
    const { resources } = await mcp.client.listResources();
    for (const uri of ['caic://tasks', 'caic://repos', 'caic://usage']) assert.ok(resources.some((r) => r.uri === uri), uri);
    const { resourceTemplates } = await mcp.client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((r) => r.uriTemplate), ['caic://tasks/{id}']);
  });

  test('create a fake-agent task, hear it ask, answer, read the result', async () => {
    const repos = await mcp.call('repos_list');
    assert.deepEqual((repos.structuredContent as { repos: { name: string }[] }).repos.map((r) => r.name), ['proj']);
    const listChangedBefore = mcp.listChanged;
    const created = await mcp.call('task_create', { prompt: 'hello from MCP', repo: 'proj', harness: 'fake' });
    assert.equal(created.isError, undefined, JSON.stringify(created));
    task = created.structuredContent as Task & { taskNumber: number };
    assert.equal(task.taskNumber, 1);
    assert.match((created.content[0] as { text: string }).text, /^Started #1/);
    await mcp.client.subscribeResource({ uri: `caic://tasks/${task.id}` });
    await waitFor('waiting');
    assert.ok(mcp.listChanged > listChangedBefore, 'list_changed when the task came');
    assert.ok(mcp.updated.includes(`caic://tasks/${task.id}`));

    const sent = await mcp.call('task_send_message', { task: 1, message: 'FAKE_ASK please' });
    assert.equal(sent.isError, undefined, JSON.stringify(sent));
    await waitFor('asking');
    const last = await mcp.call('agent_last_message', { task: '1' });
    assert.ok((last.structuredContent as { text: string }).text.length > 0, JSON.stringify(last));

    const answered = await mcp.call('task_answer_question', { task: task.id, answer: 'PostgreSQL' });
    assert.equal(answered.isError, undefined, JSON.stringify(answered));
    const done = await waitFor('waiting');
    assert.ok(done.result.length > 0, 'a result');
    const detail = await mcp.call('task_get_detail', { task: 1 });
    assert.equal((detail.structuredContent as Task).state, 'waiting');
    assert.equal((detail.structuredContent as Task).result, done.result);

    const listed = await mcp.call('tasks_list', { limit: 5 });
    const page = listed.structuredContent as { tasks: { taskNumber: number; id: string; state: string }[] };
    assert.deepEqual(page.tasks.map((t) => [t.taskNumber, t.id, t.state]), [[1, task.id, 'waiting']]);
    const usage = await mcp.call('get_usage');
    assert.ok((usage.structuredContent as { days: { costUSD: number }[] }).days.at(-1)!.costUSD > 0);
  });

  test('domain failures are isError results with a code; malformed calls are JSON-RPC errors', async () => {
    const notAsking = await mcp.call('task_answer_question', { task: 1, answer: 'x' });
    assert.equal(notAsking.isError, true);
    assert.equal(notAsking._meta?.['xyz.caic/error'], 'CONFLICT');
    const unknown = await mcp.call('task_get_detail', { task: 99 });
    assert.equal(unknown.isError, true);
    assert.equal(unknown._meta?.['xyz.caic/error'], 'NOT_FOUND');
    await assert.rejects(mcp.call('tasks_list', { limit: 500 }), (err: unknown) => err instanceof McpError && err.code === -32602);
    await assert.rejects(mcp.call('no_such_tool'), (err: unknown) => err instanceof McpError && err.code === -32602);
    await assert.rejects(mcp.call('task_send_message', { task: 1 }), (err: unknown) => err instanceof McpError && err.code === -32602);
    // A body that is not JSON at all: a JSON-RPC parse error, not the REST envelope.
    for (const body of ['{"jsonrpc":"2.0","id":1,', '']) {
      const r = await http(`${env.d.url}/api/v1/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });
      assert.equal(r.status, 400, r.body);
      assert.deepEqual(r.json(), { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error: the body is not valid JSON' }, id: null });
    }
  });

  test('diff and push: the fake agent’s edits, pushed to the origin', async () => {
    const turns = (await read(`caic://tasks/${task.id}`)).numTurns;
    await mcp.call('task_send_message', { task: 1, message: 'FAKE_DEMO now' });
    await waitTask((t) => t.state === 'waiting' && t.numTurns > turns && t.diffStat.length > 0, 'the demo turn done with its diff stat');
    const diff = await mcp.call('task_diff', { task: 1 });
    const d = diff.structuredContent as { files: { path: string }[]; diff: string; truncated: boolean };
    assert.ok(d.files.some((f) => f.path === 'FAKE_NOTES.md'), JSON.stringify(d.files));
    assert.equal(d.truncated, false);
    const pushed = await mcp.call('task_push_branch_to_remote', { task: 1 });
    assert.equal(pushed.isError, undefined, JSON.stringify(pushed));
    assert.equal((pushed.structuredContent as { status: string }).status, 'synced');
  });

  test('a push the safety scan blocks is an error result with the findings; force pushes it', async () => {
    const w = await env.execIn(task.id, `cd ~/src/proj && printf 'aws_key = "%s"\\n' AKIAIOSFODNN7EXAMPLF > config.ini`, 'user');
    assert.equal(w.code, 0, w.output);
    const blocked = await mcp.call('task_push_branch_to_remote', { task: 1 });
    assert.equal(blocked.isError, true, JSON.stringify(blocked));
    assert.equal(blocked._meta?.['xyz.caic/error'], 'PUSH_BLOCKED');
    const found = blocked.structuredContent as { status: string; safetyIssues: { file: string; kind: string }[] };
    assert.equal(found.status, 'blocked');
    assert.deepEqual(found.safetyIssues.map((i) => [i.file, i.kind]), [['config.ini', 'secret']]);
    assert.match((blocked.content[0] as { text: string }).text, /secret in config\.ini/);
    const forced = await mcp.call('task_push_branch_to_remote', { task: 1, force: true });
    assert.equal((forced.structuredContent as { status: string }).status, 'synced', JSON.stringify(forced));
  });

  test('a patch over 32 KiB is cut, and the answer says so', async () => {
    const w = await env.execIn(task.id, `cd ~/src/proj && seq 1 20000 > big.txt`, 'user');
    assert.equal(w.code, 0, w.output);
    const diff = await mcp.call('task_diff', { task: 1, path: 'big.txt' });
    const d = diff.structuredContent as { files: { path: string; added: number }[]; diff: string; truncated: boolean };
    assert.deepEqual(d.files.map((f) => [f.path, f.added]), [['big.txt', 20000]]);
    assert.equal(d.truncated, true);
    assert.equal(diff._meta?.['xyz.caic/truncated'], true);
    assert.ok(Buffer.byteLength(d.diff) < 33 * 1024, `${Buffer.byteLength(d.diff)} bytes`);
    assert.match(d.diff, /\[truncated: \d+ bytes in all\]$/);
  });

  test('purge over MCP', async () => {
    const purged = await mcp.call('task_purge', { task: 1 });
    assert.equal(purged.isError, undefined, JSON.stringify(purged));
    assert.equal((purged.structuredContent as { task: { state: string } }).task.state, 'purged');
  });
});

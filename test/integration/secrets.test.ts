// The secrets vault end to end: routes, a fake-agent task that prints its secret (masked in the log
// file, SSE, MCP, the task API and the daemon's logs, also after a restart), ~/.env only, the safety scan.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Task } from '../../src/api/index.js';
import { maskOf } from '../../src/tasks/redact.js';
import { mcpClient, type TestMcpClient } from '../helpers/mcp.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { waitUntil } from '../helpers/wait.js';

// A value with characters JSON escapes, so every form the agent's JSON lines carry is exercised.
const SECRET = 'sk-live/4f9Qx"Zr\\7tW2e-9aPL';
const MASK = maskOf(SECRET);

describe('secrets vault with a real daemon and a fake agent', { timeout: 240_000 }, () => {
  let env: TaskEnv;
  let mcp: TestMcpClient;
  before(async () => {
    env = await taskEnv({ files: 3 });
    mcp = await mcpClient(env.d.url);
  });
  after(async () => {
    await mcp?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  const logFile = (id: string) => readFile(join(env.d.cacheDir, 'tasks', `${id}.jsonl`), 'utf8');

  test('routes: set, list names only, rotate, delete; bad names and values are 400, unknown 404', async () => {
    const set = await env.api('PUT', '/api/v1/secrets/MY_TOKEN', { value: 'first-value-1234' });
    assert.equal(set.status, 200, set.body);
    assert.ok(!set.body.includes('first-value'), 'the value is not echoed');
    const rotated = await env.api('PUT', '/api/v1/secrets/MY_TOKEN', { value: SECRET });
    assert.equal(rotated.status, 200);
    const meta = rotated.json<{ createdAt: string; updatedAt: string }>();
    assert.ok(meta.updatedAt >= meta.createdAt);
    const list = await env.api('GET', '/api/v1/secrets');
    assert.equal(list.status, 200);
    assert.equal(list.headers['cache-control'], 'no-store');
    assert.deepEqual(list.json<{ secrets: { name: string }[] }>().secrets.map((s) => s.name), ['MY_TOKEN']);
    assert.ok(!list.body.includes(SECRET) && !list.body.includes(MASK.slice(4)), 'no value, not even its end');
    for (const [path, body, status] of [
      ['/api/v1/secrets/lower', { value: 'long-enough-value' }, 400],
      ['/api/v1/secrets/PATH', { value: 'long-enough-value' }, 400],
      ['/api/v1/secrets/SHORT_ONE', { value: 'short' }, 400],
      ['/api/v1/secrets/NO_VALUE', {}, 400],
    ] as const) {
      const r = await env.api('PUT', path, body);
      assert.equal(r.status, status, `${path}: ${r.body}`);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'BAD_REQUEST');
    }
    assert.equal((await env.api('DELETE', '/api/v1/secrets/NOT_THERE')).status, 404);
    assert.equal((await env.api('PUT', '/api/v1/secrets/GONE_SOON', { value: 'gone-soon-value' })).status, 200);
    assert.equal((await env.api('DELETE', '/api/v1/secrets/GONE_SOON')).status, 200);
    assert.deepEqual((await env.api('GET', '/api/v1/secrets')).json<{ secrets: { name: string }[] }>().secrets.map((s) => s.name), ['MY_TOKEN']);
  });

  test('MCP: secrets_list names only, secret_set and secret_delete; the audit log keeps names, never values', async () => {
    const set = await mcp.call('secret_set', { name: 'MCP_TOKEN', value: 'mcp-secret-value-42' });
    assert.equal(set.isError, undefined, JSON.stringify(set));
    const list = await mcp.call('secrets_list');
    assert.deepEqual((list.structuredContent as { secrets: { name: string }[] }).secrets.map((s) => s.name), ['MCP_TOKEN', 'MY_TOKEN']);
    assert.ok(!JSON.stringify(list).includes('mcp-secret-value'));
    await assert.rejects(mcp.call('secret_set', { name: 'PATH', value: 'mcp-secret-value-42' }), /PATH|is a name caic or the shell sets itself/);
    const gone = await mcp.call('secret_delete', { name: 'MCP_TOKEN' });
    assert.equal(gone.isError, undefined, JSON.stringify(gone));
    const again = await mcp.call('secret_delete', { name: 'MCP_TOKEN' });
    assert.equal(again._meta?.['xyz.caic/error'], 'NOT_FOUND');
    const audit = await readFile(join(env.d.configDir, 'audit.jsonl'), 'utf8');
    assert.match(audit, /"name":"MCP_TOKEN"/);
    assert.ok(!audit.includes('mcp-secret-value'), 'the value is not in the audit log');
  });

  test('a task naming a secret that does not exist is refused before anything starts', async () => {
    const before = (await env.api('GET', '/api/v1/tasks')).json<Task[]>().length;
    const r = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'x' }, secrets: ['NOPE_TOKEN'] });
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /no secret named NOPE_TOKEN/);
    const twice = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'x' }, secrets: ['MY_TOKEN', 'MY_TOKEN'] });
    assert.equal(twice.status, 400, twice.body);
    assert.equal((await env.api('GET', '/api/v1/tasks')).json<Task[]>().length, before);
  });

  test('the agent prints its secret: masked in the log file, SSE, MCP, the task and the logs; in ~/.env only', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_PRINT_ENV MY_TOKEN file' }, secrets: ['MY_TOKEN'] });
    const sse = env.stream(task.id);
    const done = await env.waitState(task.id, 'waiting');
    assert.equal(done.result, `MY_TOKEN=${MASK}`);
    const log = await logFile(task.id);
    assert.ok(!log.includes(SECRET) && !log.includes(JSON.stringify(SECRET).slice(1, -1)), 'no value in the log file');
    assert.ok(log.includes(JSON.stringify(MASK).slice(1, -1)), 'the mask is');
    assert.match(log, /"secrets":\["MY_TOKEN"\]/, 'the log names the secret');
    await sse.waitFor((evs) => evs.some((e) => (e.data as { kind?: string } | undefined)?.kind === 'result'), 10_000);
    const streamed = JSON.stringify(sse.events);
    assert.ok(!streamed.includes(JSON.stringify(SECRET).slice(1, -1)), 'not in the event stream');
    // The reply streams in 12-character deltas, so the value arrives in pieces: none of them is
    // kept or shown either (each 6 characters of the value, raw or JSON-escaped).
    const pieces = Array.from({ length: SECRET.length - 5 }, (_, i) => SECRET.slice(i, i + 6));
    for (const [where, text] of [['log', log], ['SSE', streamed]] as const) {
      const found = pieces.filter((p) => text.includes(p) || text.includes(JSON.stringify(p).slice(1, -1)));
      assert.deepEqual(found, [], `pieces of the value in the ${where}`);
    }
    assert.ok(sse.events.some((e) => (e.data as { kind?: string } | undefined)?.kind === 'textDelta'), 'the reply did stream');
    assert.ok(streamed.includes(JSON.stringify(MASK).slice(1, -1)), 'the tool result and the text are masked');
    const last = await mcp.call('agent_last_message', { task: task.id });
    const lastText = JSON.stringify(last);
    assert.ok(lastText.includes(JSON.stringify(MASK).slice(1, -1)) && !lastText.includes(JSON.stringify(SECRET).slice(1, -1)), lastText);
    // In ~/.env (0600, the user's), never in the container's environment or labels.
    const envFile = await env.execIn(task.id, 'stat -c %a /home/user/.env && cat /home/user/.env', 'user');
    assert.match(envFile.output, /^600\n/);
    assert.ok(envFile.output.includes('MY_TOKEN='));
    const info = await env.docker.getContainer((await env.container(task.id))!.Id).inspect();
    assert.ok(!JSON.stringify([info.Config.Env, info.Config.Labels, info.Config.Cmd, info.Config.Entrypoint]).includes('sk-live'), 'not in env, labels or command');
    assert.ok(!env.d.logs.text.includes('sk-live'), 'not in the daemon logs');

    // The safety scan finds the value the agent wrote into a file, by the secret's name.
    const sync = await env.post(task.id, 'sync', {});
    assert.equal(sync.status, 200, sync.body);
    const s = sync.json<{ status: string; safetyIssues: { file: string; detail: string }[] }>();
    assert.equal(s.status, 'blocked');
    assert.ok(s.safetyIssues.some((i) => i.file === 'leak.txt' && /secret MY_TOKEN/.test(i.detail)), sync.body);
    assert.ok(!sync.body.includes('sk-live'));

    // After a restart the relay is reattached at the right offset (the masked lines were shorter
    // than what it sent) and the next turn's output is masked too.
    await env.restart();
    const again = await env.post(task.id, 'input', { prompt: { text: 'FAKE_PRINT_ENV MY_TOKEN' } });
    assert.equal(again.status, 200, again.body);
    await waitUntil(() => env.task(task.id), (t) => t.state === 'waiting' && t.numTurns === 2, { timeoutMs: 60_000, what: 'the second turn' });
    const after = await logFile(task.id);
    assert.ok(!after.includes(JSON.stringify(SECRET).slice(1, -1)), 'no value in the log after the restart');
    const results = after.split('\n').filter((l) => l.includes('"type":"result"'));
    assert.equal(results.length, 2, 'each turn once: nothing replayed twice, nothing lost');
  });
});

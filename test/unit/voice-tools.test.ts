// The voice tools' guards without a daemon: which tools a principal's scopes show, refusals before any handler runs, and results cut to what the data channel carries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MCP_SCOPES, VOICE_CHANNEL_LIMITS, type McpScope } from '../../src/api/index.js';
import { createLogger } from '../../src/log/index.js';
import type { Principal } from '../../src/mcp/auth.js';
import type { McpServices } from '../../src/mcp/tools.js';
import { runVoiceTool, voiceAnswer, voiceToolList } from '../../src/mcp/voice-tools.js';
import { TOOLS } from '../../src/mcp/index.js';

const principal = (scopes: McpScope[]): Principal => ({ subject: 'user:u1', caller: { id: 'u1', username: 'ann' }, clientId: 'voice', scopes: new Set(scopes), via: 'cookie' });
/** Services a refused call must never reach: any use fails the test. */
const untouchable = new Proxy({} as McpServices, {
  get(_t, key) {
    throw new Error(`the handler ran (services.${String(key)}) although the call was refused`);
  },
});
const { logger } = createLogger({ level: 'silent' });

test('the tool list is filtered by the principal’s scopes', () => {
  assert.deepEqual(voiceToolList(principal([...MCP_SCOPES])).map((t) => t.name), TOOLS.map((t) => t.name));
  const read = voiceToolList(principal(['caic:tasks.read'])).map((t) => t.name);
  assert.deepEqual(read, TOOLS.filter((t) => t.scope === 'caic:tasks.read').map((t) => t.name));
  assert.ok(read.includes('tasks_list') && !read.includes('task_stop') && !read.includes('task_create'), read.join());
  assert.deepEqual(voiceToolList(principal([])), []);
});

test('a call above the scopes is refused before the handler runs, as a failure the model can say, and audited', async () => {
  const audit: Record<string, unknown>[] = [];
  const deps = { services: untouchable, logger, audit: { append: (r: Record<string, unknown>) => audit.push(r) } };
  const stop = await runVoiceTool(deps, principal(['caic:tasks.read', 'caic:tasks.write']), 'task_stop', { task: 1 });
  assert.deepEqual(stop, {
    ok: false,
    result: { error: { code: 'INSUFFICIENT_SCOPE', message: 'task_stop needs the caic:tasks.admin scope, which this session does not have.' } },
    text: 'task_stop needs the caic:tasks.admin scope, which this session does not have.',
  });
  // The wider scope a particular call needs (a forced push) counts too.
  const force = await runVoiceTool(deps, principal(['caic:tasks.read', 'caic:tasks.write']), 'task_push_branch_to_remote', { task: 1, force: true });
  assert.equal(force && 'ok' in force && force.ok, false);
  assert.match((force as { text: string }).text, /caic:tasks.admin/);
  assert.deepEqual(
    audit.map((r) => [r.tool, r.decision, r.result, r.scope, r.client]),
    [
      ['task_stop', 'deny', 'INSUFFICIENT_SCOPE', 'caic:tasks.admin', 'voice'],
      ['task_push_branch_to_remote', 'deny', 'INSUFFICIENT_SCOPE', 'caic:tasks.admin', 'voice'],
    ],
  );
  // Bad arguments and unknown names never reach a handler either.
  assert.deepEqual(await runVoiceTool(deps, principal([...MCP_SCOPES]), 'task_stop', { task: [] }), { invalid: 'invalid arguments for task_stop: task: Invalid input' });
  assert.equal(await runVoiceTool(deps, principal([...MCP_SCOPES]), 'no_such_tool', {}), null);
});

test('a result larger than a tool.result may be is replaced by its text, under the channel’s limit', () => {
  const big = { tasks: Array.from({ length: 400 }, (_, i) => ({ taskNumber: i + 1, title: 'y'.repeat(300) })) };
  const text = 'line\n'.repeat(40_000);
  const a = voiceAnswer({ kind: 'ran', tool: 'tasks_list', ok: true, code: 'OK', result: big, text, truncated: false });
  assert.equal(a.ok, true);
  assert.equal((a.result as { truncated: boolean }).truncated, true);
  assert.ok(Buffer.byteLength(JSON.stringify(a.result)) < VOICE_CHANNEL_LIMITS.toolResultBytes);
  assert.ok(Buffer.byteLength(a.text) < 32 * 1024 + 100 && a.text.endsWith('bytes in all]'), 'the transcript text is cut as MCP cuts it');
  const small = voiceAnswer({ kind: 'ran', tool: 'tasks_list', ok: true, code: 'OK', result: { tasks: [] }, text: 'No tasks.', truncated: false });
  assert.deepEqual(small, { ok: true, result: { tasks: [] }, text: 'No tasks.' });
  const blocked = voiceAnswer({ kind: 'ran', tool: 'task_push_branch_to_remote', ok: false, code: 'PUSH_BLOCKED', result: { status: 'blocked' }, text: 'push blocked', truncated: false });
  assert.deepEqual(blocked, { ok: false, result: { error: { code: 'PUSH_BLOCKED', message: 'push blocked' }, detail: { status: 'blocked' } }, text: 'push blocked' });
});

// The web UI's tool approval logic: approval events folded into cards and settled by their
// resolution, the pending list, the views of tool arguments, the outcome's words, the countdown,
// and what the new-task form sends as permissions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventBody, EventMessage } from '../../src/api/index.js';
import { editLines, outcomeText, permissionsReq, savedChoice, timeLeft, toolLine, toolView } from '../../web/src/lib/approvals.js';
import { applyEvents, emptyTranscript, pendingApprovals } from '../../web/src/lib/transcript.js';

let seq = 0;
const ev = (body: EventBody): EventMessage => ({ ...body, id: ++seq, ts: new Date(1_700_000_000_000 + seq).toISOString() });
const ask = (requestId: string, command: string): EventMessage =>
  ev({ kind: 'approval', requestId, toolUseId: `tu-${requestId}`, tool: 'Bash', input: { command }, reason: 'to list files', expiresAt: '2030-01-01T00:00:00.000Z' });

test('approval events become cards; approvalResolved settles the one with its requestId; pending lists the rest', () => {
  seq = 0;
  let s = applyEvents(emptyTranscript, [ev({ kind: 'textDelta', text: 'Let me look' }), ask('r1', 'ls'), ask('r2', 'rm -rf build')]);
  assert.deepEqual(
    s.items.map((i) => i.type),
    ['text', 'approval', 'approval'],
  );
  assert.ok(s.items[0]!.type === 'text' && !s.items[0].streaming, 'a request ends the streamed text');
  assert.deepEqual(
    pendingApprovals(s).map((a) => a.ev.requestId),
    ['r1', 'r2'],
  );
  s = applyEvents(s, [ev({ kind: 'approvalResolved', requestId: 'r2', decision: 'deny', by: 'user', user: 'alice', message: 'not that' })]);
  const r2 = s.items[2]!;
  assert.ok(r2.type === 'approval' && r2.resolved?.decision === 'deny' && r2.resolved.message === 'not that' && r2.resolved.user === 'alice');
  assert.deepEqual(
    pendingApprovals(s).map((a) => a.ev.requestId),
    ['r1'],
  );
  // A resolution of an unknown request, or a second one, changes nothing shown.
  const before = s.items;
  s = applyEvents(s, [ev({ kind: 'approvalResolved', requestId: 'nope', decision: 'allowOnce', by: 'user', user: '', message: '' })]);
  s = applyEvents(s, [ev({ kind: 'approvalResolved', requestId: 'r2', decision: 'allowOnce', by: 'user', user: '', message: '' })]);
  assert.equal(s.items, before);
  s = applyEvents(s, [ev({ kind: 'approvalResolved', requestId: 'r1', decision: 'deny', by: 'timeout', user: '', message: 'timed out' })]);
  assert.deepEqual(pendingApprovals(s), []);
});

test('a history applied in one batch settles requests like live events one by one', () => {
  seq = 0;
  const all = [ask('a', 'ls'), ev({ kind: 'approvalResolved', requestId: 'a', decision: 'allowOnce', by: 'user', user: '', message: '' }), ask('b', 'pwd')];
  const batch = applyEvents(emptyTranscript, all);
  const one = all.reduce((s, e) => applyEvents(s, [e]), emptyTranscript);
  assert.deepEqual(batch.items, one.items);
  assert.deepEqual(
    pendingApprovals(batch).map((a) => a.ev.requestId),
    ['b'],
  );
});

test('tool arguments: Bash command, file, edit diff, write, URL, ACP command arrays, JSON otherwise', () => {
  assert.deepEqual(toolView('Bash', { command: 'git push origin main', description: 'Push' }), { kind: 'command', command: 'git push origin main', description: 'Push' });
  assert.deepEqual(toolView('Read', { file_path: '/src/a.ts' }), { kind: 'file', path: '/src/a.ts', detail: '' });
  assert.deepEqual(toolView('Edit', { file_path: 'a.ts', old_string: 'x\ny', new_string: 'z' }), { kind: 'edit', path: 'a.ts', hunks: [{ old: 'x\ny', new: 'z' }] });
  assert.deepEqual(toolView('MultiEdit', { file_path: 'a.ts', edits: [{ old_string: 'a', new_string: 'b' }, null] }), { kind: 'edit', path: 'a.ts', hunks: [{ old: 'a', new: 'b' }] });
  assert.deepEqual(toolView('Write', { file_path: 'n.md', content: '# hi\n' }), { kind: 'write', path: 'n.md', content: '# hi\n' });
  assert.deepEqual(toolView('WebFetch', { url: 'https://example.com', prompt: 'read' }), { kind: 'url', url: 'https://example.com', detail: 'read' });
  assert.deepEqual(toolView('shell', { command: ['bash', '-lc', 'ls'] }), { kind: 'command', command: 'bash -lc ls', description: '' });
  assert.deepEqual(toolView('Grep', { pattern: 'TODO' }), { kind: 'file', path: 'TODO', detail: '' });
  const odd = toolView('mcp__x__y', { a: 1, b: '<img src=x onerror=alert(1)>' });
  assert.equal(odd.kind, 'json');
  assert.match(toolLine(odd), /^\{ "a": 1, "b": "<img src=x onerror=alert\(1\)>" \}$/);
  assert.equal(toolView('Bash', null).kind, 'json');
  assert.equal(toolLine(toolView('Bash', { command: 'echo a\necho b' })), 'echo a');
  assert.deepEqual(editLines({ old: 'a\nb\n', new: 'c' }), [
    { sign: '-', text: 'a' },
    { sign: '-', text: 'b' },
    { sign: '+', text: 'c' },
  ]);
});

test('outcome words say what was decided and by whom or what', () => {
  assert.equal(outcomeText({ decision: 'allowOnce', by: 'user', user: 'alice' }), 'Allowed once by alice');
  assert.equal(outcomeText({ decision: 'allowTask', by: 'user', user: '' }), 'Allowed for this task');
  assert.equal(outcomeText({ decision: 'deny', by: 'timeout', user: '' }), 'Denied (timeout)');
  assert.equal(outcomeText({ decision: 'allowOnce', by: 'rule', user: '' }), 'Allowed once by a rule');
  assert.match(outcomeText({ decision: 'deny', by: 'agent', user: '' }), /^Denied \(the agent/);
});

test('time left counts down to the second and is empty once passed', () => {
  const now = Date.parse('2030-01-01T00:00:00.000Z');
  assert.equal(timeLeft('2030-01-01T00:04:05.000Z', now), '4:05');
  assert.equal(timeLeft('2030-01-01T00:00:08.200Z', now), '0:09');
  assert.equal(timeLeft('2030-01-01T01:00:00.000Z', now), '1:00:00');
  assert.equal(timeLeft('2030-01-01T00:00:00.000Z', now), '');
  assert.equal(timeLeft('not a date', now), '');
});

test('the form sends nothing for the default, a mode with no rules for bypass/ask, trimmed rules for rules', () => {
  assert.deepEqual(permissionsReq({ mode: 'default' }), {});
  assert.deepEqual(permissionsReq({ mode: 'ask', rules: [{ tool: 'Bash', action: 'allow' }] }), { permissions: { mode: 'ask', rules: [] } });
  assert.deepEqual(
    permissionsReq({
      mode: 'rules',
      rules: [
        { tool: ' Read ', pattern: '  ', action: 'allow' },
        { tool: 'Bash', pattern: ' git push* ', action: 'ask' },
      ],
    }),
    { permissions: { mode: 'rules', rules: [{ tool: 'Read', action: 'allow' }, { tool: 'Bash', pattern: 'git push*', action: 'ask' }] } },
  );
  assert.match(permissionsReq({ mode: 'rules', rules: [{ tool: ' ', action: 'deny' }] }).problem ?? '', /Rule 1 names no tool/);
});

test('the saved default choice: a valid one from the settings, else the server default', () => {
  assert.deepEqual(savedChoice(undefined), { mode: 'default' });
  assert.deepEqual(savedChoice({ permissions: { mode: 'ask', rules: [] } }), { mode: 'ask', rules: [] });
  assert.deepEqual(savedChoice({ permissions: { mode: 'sometimes', rules: [] } }), { mode: 'default' });
  assert.deepEqual(savedChoice({ permissions: 'ask' }), { mode: 'default' });
});

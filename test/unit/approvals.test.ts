// Tool approval without containers: rule matching (tool and argument globs, first match wins), the
// Claude parser on the real CLI's permission prompts (test/fixtures/agents/claude-approval.jsonl),
// the answer lines, and the transcript rebuilding pending requests and allowances from a log.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EventBody, PermissionRule } from '../../src/api/index.js';
import { claudeApproval, HARNESSES } from '../../src/agents/index.js';
import { mainArgument, matchRule } from '../../src/tasks/approval-rules.js';
import { cutInput } from '../../src/tasks/approvals.js';
import { Transcript } from '../../src/tasks/index.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/agents/${name}.jsonl`, import.meta.url)), 'utf8').split('\n').filter(Boolean);

test('rules: tool globs, argument globs per kind, first match wins, no match is null', () => {
  const rules: PermissionRule[] = [
    { tool: 'Read', action: 'allow' },
    { tool: 'Bash', pattern: 'rm -rf /*', action: 'deny' },
    { tool: 'Bash', pattern: 'git push*', action: 'ask' },
    { tool: 'Bash', pattern: 'git *', action: 'allow' },
    { tool: 'Write', pattern: '*.env', action: 'deny' },
    { tool: 'Edit', pattern: '/home/user/src/*/docs/**', action: 'allow' },
    { tool: 'mcp__*', action: 'deny' },
    { tool: 'WebFetch', pattern: 'https://docs.example.com/*', action: 'allow' },
  ];
  const action = (tool: string, input: unknown) => matchRule(rules, tool, input)?.action ?? null;
  assert.equal(action('Read', { file_path: '/etc/passwd' }), 'allow');
  // A command's `*` crosses slashes: a command line is not a path.
  assert.equal(action('Bash', { command: 'rm -rf /home/user/src' }), 'deny');
  assert.equal(action('Bash', { command: 'git push origin feature/x' }), 'ask');
  assert.equal(action('Bash', { command: 'git status' }), 'allow');
  assert.equal(action('Bash', { command: 'ls' }), null);
  assert.equal(action('Bash', {}), null, 'a pattern never matches a call without its argument');
  // A path pattern without a slash matches the file's name anywhere; with one, it is a path glob.
  assert.equal(action('Write', { file_path: '/home/user/src/proj/.env' }), 'deny');
  assert.equal(action('Write', { file_path: '/home/user/src/proj/a.txt' }), null);
  assert.equal(action('Edit', { file_path: '/home/user/src/proj/docs/a/b.md' }), 'allow');
  assert.equal(action('Edit', { file_path: '/home/user/src/proj/src/a.ts' }), null);
  assert.equal(action('mcp__github__create_issue', {}), 'deny');
  assert.equal(action('WebFetch', { url: 'https://docs.example.com/a/b?c' }), 'allow');
  assert.equal(action('WebFetch', { url: 'https://evil.example/docs.example.com/' }), null);
  assert.equal(mainArgument({ command: ['bash', '-lc', 'ls'] }), 'bash -lc ls', 'an argv (Codex) is joined');
  assert.equal(mainArgument('not an object'), '');
});

test('a tool input over 16 KiB is cut to a preview', () => {
  const small = { command: 'ls' };
  assert.equal(cutInput(small), small);
  const big = cutInput({ content: 'x'.repeat(40_000) }) as { truncated: boolean; preview: string };
  assert.equal(big.truncated, true);
  assert.equal(big.preview.length, 16 * 1024);
});

test("claude: the real CLI's can_use_tool requests become approval events; withdrawals settle them", () => {
  const parser = HARNESSES.get('claude')!.newParser({ model: 'sonnet' });
  const events = fixture('claude-approval').flatMap((l) => parser.parse(l));
  const asks = events.filter((e): e is Extract<EventBody, { kind: 'approval' }> => e.kind === 'approval');
  assert.deepEqual(
    asks.map((a) => [a.tool, a.reason]),
    [
      ['Read', 'Path is outside allowed working directories'],
      ['Bash', 'Run the command the test gave'],
      ['Bash', 'Run the command the test gave'],
      ['Bash', 'Run the command the test gave'],
    ],
  );
  assert.deepEqual(asks[1]!.input, { command: 'echo approved > /home/user/src/proj/bash-ran.txt', description: 'Run the command the test gave' });
  assert.match(asks[1]!.toolUseId, /^toolu_/);
  // Our own answers (logged with stdin) and interrupts are not requests.
  assert.equal(parser.parse(claudeApproval({ requestId: 'r1', allow: true, message: '', always: false }).trim()).length, 0);
  assert.deepEqual(parser.parse(JSON.stringify({ type: 'control_cancel_request', request_id: 'r9' })), [
    { kind: 'approvalResolved', requestId: 'r9', decision: 'deny', by: 'agent', user: '', message: 'withdrawn by the agent' },
  ]);
});

test('claude answers: allow without replacing the input, deny with the message', () => {
  assert.deepEqual(JSON.parse(claudeApproval({ requestId: 'r1', allow: true, message: '', always: true })), {
    type: 'control_response',
    response: { subtype: 'success', request_id: 'r1', response: { behavior: 'allow' } },
  });
  assert.deepEqual(JSON.parse(claudeApproval({ requestId: 'r2', allow: false, message: 'no', always: false })), {
    type: 'control_response',
    response: { subtype: 'success', request_id: 'r2', response: { behavior: 'deny', message: 'no' } },
  });
  // Bypass keeps the old flag; ask and rules make Claude Code ask over stdio.
  const argv = (mode?: 'bypass' | 'ask' | 'rules') => HARNESSES.get('claude')!.argv({ model: 'sonnet', cwd: '/w', ...(mode ? { permissionMode: mode } : {}) }, { relay: '', fakeAgent: '' });
  assert.ok(argv().includes('--dangerously-skip-permissions'));
  assert.ok(argv('bypass').includes('--dangerously-skip-permissions'));
  for (const m of ['ask', 'rules'] as const) {
    const a = argv(m);
    assert.ok(!a.includes('--dangerously-skip-permissions'));
    assert.deepEqual(a.slice(a.indexOf('--permission-prompt-tool'), a.indexOf('--permission-prompt-tool') + 2), ['--permission-prompt-tool', 'stdio']);
  }
});

test('a replayed log rebuilds pending requests, settled ones and task-wide allowances', () => {
  const meta = { type: 'caic_meta', version: 1, id: '01abcdefghjkmnpqrstvwxyz12', title: 't', prompt: 'p', repos: [], harness: 'fake', model: 'fake-model', sudo: false, owner: '', ownerName: '', createdAt: '2026-01-01T00:00:00.000Z', permissions: { mode: 'ask', rules: [] } };
  const ask = (id: string, tool: string) => JSON.stringify({ type: 'control_request', request_id: id, request: { subtype: 'can_use_tool', tool_name: tool, input: { command: 'x' }, tool_use_id: `tu_${id}` } });
  const lines = [
    JSON.stringify(meta),
    JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' }),
    ask('a', 'Bash'),
    JSON.stringify({ type: 'caic_approval', requestId: 'a', toolUseId: 'tu_a', tool: 'Bash', input: { command: 'x' }, reason: '', expiresAt: '2026-01-01T00:10:00.000Z', session: 1 }),
    JSON.stringify({ type: 'caic_approval_resolved', requestId: 'a', decision: 'allowTask', by: 'user', user: 'alice', message: '' }),
    ask('b', 'Write'),
    JSON.stringify({ type: 'caic_approval', requestId: 'b', toolUseId: 'tu_b', tool: 'Write', input: { command: 'x' }, reason: '', expiresAt: '2026-01-01T00:10:00.000Z', session: 1 }),
    // A request the daemon did not get to put on record before it stopped.
    ask('c', 'Edit'),
    // A second resolution of a settled request changes nothing.
    JSON.stringify({ type: 'caic_approval_resolved', requestId: 'a', decision: 'deny', by: 'timeout', user: '', message: '' }),
  ];
  const t = new Transcript(HARNESSES);
  const events = lines.flatMap((l) => t.ingest(l));
  assert.deepEqual([...t.pendingApprovals.keys()], ['b']);
  assert.equal(t.pendingApprovals.get('b')!.eventId, events.find((e) => e.kind === 'approval' && e.requestId === 'b')!.id);
  assert.deepEqual(t.approvalAsks.map((a) => a.requestId), ['c']);
  assert.deepEqual([...t.settledApprovals], [['a', 'allowTask']]);
  assert.deepEqual([...t.allowedTools], ['Bash']);
  assert.deepEqual(
    events.filter((e) => e.kind === 'approval' || e.kind === 'approvalResolved').map((e) => `${e.kind}:${e.requestId}`),
    ['approval:a', 'approvalResolved:a', 'approval:b'],
  );
  // The agent withdraws b: the daemon is told to settle it.
  t.ingest(JSON.stringify({ type: 'control_cancel_request', request_id: 'b' }));
  assert.deepEqual(t.approvalWithdrawn, ['b']);
  // A new session cannot answer what the last one asked.
  t.ingest(JSON.stringify({ type: 'caic_session', n: 2, reason: 'resume' }));
  assert.deepEqual(t.approvalAsks, []);
});

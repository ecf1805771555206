// The `caic` client's pure parts: server URL checks, token file names, event lines, the task table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventMessage, Task } from '../../src/api/index.js';
import { redactTokens } from '../../src/cli/redact.js';
import { age, clean, renderEvent, taskTable, useColor } from '../../src/cli/render.js';
import { checkServerUrl } from '../../src/cli/server-url.js';
import { tokenFileName } from '../../src/cli/tokens.js';

const plain = { color: false, width: 80 };
const ev = (e: Record<string, unknown>) => ({ id: 1, ts: '2026-01-01T00:00:00Z', ...e }) as EventMessage;

test('server URLs: origins only; http:// only to this machine unless insecure', () => {
  assert.equal(checkServerUrl('https://caic.example.com/', false), 'https://caic.example.com');
  assert.equal(checkServerUrl('http://127.0.0.1:2242', false), 'http://127.0.0.1:2242');
  assert.equal(checkServerUrl('http://localhost:2242', false), 'http://localhost:2242');
  assert.equal(checkServerUrl('http://[::1]:2242', false), 'http://[::1]:2242');
  assert.throws(() => checkServerUrl('http://caic.example.com', false), /refusing http:\/\//);
  assert.equal(checkServerUrl('http://caic.example.com', true), 'http://caic.example.com');
  assert.throws(() => checkServerUrl('https://u:p@caic.example.com', false), /no user name/);
  assert.throws(() => checkServerUrl('caic.example.com', false), /is not a URL/);
});

test('token files: one per origin, nothing path-like in the name', () => {
  assert.equal(tokenFileName('https://caic.example.com'), 'https_caic.example.com_443.json');
  assert.equal(tokenFileName('http://[::1]:2242'), 'http____1__2242.json');
});

test('tokens in text become [redacted]', () => {
  assert.equal(redactTokens('got Bearer abc.def-ghi and more'), 'got Bearer [redacted] and more');
  assert.equal(redactTokens('jwt eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig_nature here'), 'jwt [redacted] here');
  assert.equal(redactTokens('task 01m8p3tvdee46whkbwyp7qxt80 stopped'), 'task 01m8p3tvdee46whkbwyp7qxt80 stopped');
});

test('events: one line per tool call, results short, control characters removed', () => {
  assert.deepEqual(renderEvent(ev({ kind: 'toolUse', toolUseId: 't', name: 'Bash', input: { command: 'ls -la\nrm x' }, inputTruncated: false }), plain), ['▸ Bash ls -la ⏎ rm x']);
  assert.deepEqual(renderEvent(ev({ kind: 'toolResult', toolUseId: 't', content: 'a\nb\nc', isError: false, durationMs: 1 }), plain), ['  ✓ a (+2 lines)']);
  assert.deepEqual(renderEvent(ev({ kind: 'toolResult', toolUseId: 't', content: 'boom', isError: true, durationMs: 1 }), plain), ['  ✗ boom']);
  assert.deepEqual(renderEvent(ev({ kind: 'text', text: 'hi \x1b]0;pwned\x07there\x1b[31m' }), plain), ['hi there']);
  assert.deepEqual(renderEvent(ev({ kind: 'textDelta', text: 'h' }), plain), []);
  assert.deepEqual(
    renderEvent(ev({ kind: 'ask', toolUseId: 't', questions: [{ question: 'Which?', header: 'DB', options: [{ label: 'A', description: 'first' }, { label: 'B' }], multiSelect: false }] }), plain),
    ['? DB: Which?', '  1. A — first', '  2. B'],
  );
  const long = renderEvent(ev({ kind: 'toolUse', toolUseId: 't', name: 'Bash', input: { command: 'x'.repeat(500) }, inputTruncated: false }), plain)[0]!;
  assert.ok(long.length <= 80, long);
  assert.equal(clean('\x1b[2J\x00ok'), 'ok');
  assert.equal(renderEvent(ev({ kind: 'error', message: 'bad' }), { color: true, width: 80 })[0], '\x1b[31merror: bad\x1b[0m');
});

test('colour only on a terminal and never with NO_COLOR', () => {
  assert.equal(useColor({ isTTY: true }, {}), true);
  assert.equal(useColor({ isTTY: false }, {}), false);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count');
});

test('the task table: id, state, repo, title (cut to the width), cost, age', () => {
  const now = Date.parse('2026-01-01T02:00:00Z');
  const t = { id: '01aaaaaaaaaaaaaaaaaaaaaaaa', state: 'waiting', repos: [{ name: 'proj', baseBranch: 'main', branch: 'caic-1' }], title: 'T'.repeat(200), initialPrompt: '', costUSD: 0.1234, createdAt: '2026-01-01T00:00:00Z' } as unknown as Task;
  const lines = taskTable([t], plain, now);
  assert.match(lines[0]!, /^ID\s+STATE\s+REPO\s+TITLE\s+COST\s+AGE$/);
  assert.match(lines[1]!, /^01a{24}\s+waiting\s+proj\s+T+…\s+\$0\.12\s+2h$/);
  assert.ok(lines[1]!.length <= 80);
  assert.equal(age('2026-01-01T01:59:30Z', now), '30s');
  assert.equal(age('2025-12-30T02:00:00Z', now), '2d');
});

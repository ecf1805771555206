// Wire parsers against recorded-style fixtures (written from each agent's documented protocol),
// malformed and unknown lines included: parsers never throw.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EventBody } from '../../src/api/index.js';
import type { CodexParser} from '../../src/agents/index.js';
import { claudeUserMessage, GeminiParser, HARNESSES, type AgentParser } from '../../src/agents/index.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/agents/${name}.jsonl`, import.meta.url)), 'utf8').split('\n').filter(Boolean);
const run = (parser: AgentParser, lines: string[]) => lines.flatMap((l) => parser.parse(l));
const pick = <K extends EventBody['kind']>(events: EventBody[], kind: K) => events.filter((e): e is Extract<EventBody, { kind: K }> => e.kind === kind);

test('claude stream-json', () => {
  const parser = HARNESSES.get('claude')!.newParser({ model: 'sonnet' });
  const events = run(parser, fixture('claude'));
  assert.equal(parser.sessionId, '5d1e6b4a-0c1f-4f39-9a51-2a3b1c7f0e11');
  const [init] = pick(events, 'init');
  assert.deepEqual({ ...init, tools: init!.tools.length }, { kind: 'init', sessionId: parser.sessionId, model: 'claude-sonnet-4-6', agentVersion: '2.1.330', tools: 10, cwd: '/home/user/src/proj' });
  assert.deepEqual(pick(events, 'textDelta').map((e) => e.text), ['Let me ']);
  assert.deepEqual(pick(events, 'thinking').map((e) => e.text), ['The user wants a file.']);
  assert.deepEqual(pick(events, 'text').map((e) => e.text), ['Let me create it.']);
  assert.deepEqual(pick(events, 'toolUse').map((e) => e.name), ['Write', 'TodoWrite', 'AskUserQuestion']);
  assert.deepEqual(
    pick(events, 'toolResult').map((e) => [e.toolUseId, e.isError, e.content]),
    [
      ['toolu_01A', false, 'File created successfully at: /home/user/src/proj/hello.txt'],
      ['toolu_01B', false, 'Todos have been modified successfully.'],
      ['toolu_01C', true, 'Answer questions?'],
    ],
  );
  assert.deepEqual(pick(events, 'todo')[0]!.todos[1], { content: 'Tell the user', status: 'in_progress', activeForm: 'Telling the user' });
  assert.deepEqual(pick(events, 'ask')[0], {
    kind: 'ask',
    toolUseId: 'toolu_01C',
    questions: [{ question: 'Which format?', header: 'Format', options: [{ label: 'Markdown', description: 'Readable' }, { label: 'JSON' }], multiSelect: true }],
  });
  assert.deepEqual(pick(events, 'usage')[0]!.usage, { inputTokens: 1200, outputTokens: 80, cacheCreationInputTokens: 300, cacheReadInputTokens: 5000 });
  assert.deepEqual(pick(events, 'subagentStart'), [{ kind: 'subagentStart', taskId: 'sub1', description: 'Explore the code' }]);
  assert.deepEqual(pick(events, 'subagentEnd'), [{ kind: 'subagentEnd', taskId: 'sub1', status: 'completed' }]);
  assert.deepEqual(pick(events, 'system').map((e) => e.subtype), ['compact_boundary', 'something_new'], 'status is dropped, unknown types pass through');
  assert.equal(pick(events, 'rateLimit').length, 1);
  const [result] = pick(events, 'result');
  assert.deepEqual(result, {
    kind: 'result',
    subtype: 'success',
    isError: false,
    result: 'Created hello.txt.',
    durationMs: 15234,
    numTurns: 4,
    costUSD: 0.04567,
    usage: { inputTokens: 1220, outputTokens: 120, cacheCreationInputTokens: 300, cacheReadInputTokens: 5000 },
  });
  assert.deepEqual(pick(events, 'userInput'), [{ kind: 'userInput', text: 'what is in this picture?', images: 1 }]);
  const errors = pick(events, 'error');
  assert.equal(errors.length, 2, 'a cut line and a non-JSON line');
  assert.equal(errors[1]!.line, 'not json at all');
});

test('claude prompts: stream-json user messages, images first', () => {
  const line = claudeUserMessage({ text: 'look', images: [{ mediaType: 'image/png', data: 'AAAA' }] });
  assert.ok(line.endsWith('\n'));
  assert.deepEqual(JSON.parse(line), {
    type: 'user',
    message: { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }, { type: 'text', text: 'look' }] },
  });
});

test('codex app-server JSON-RPC', () => {
  const harness = HARNESSES.get('codex')!;
  const parser = harness.newParser({ model: 'gpt-5.4' }) as CodexParser;
  assert.equal(harness.encodePrompt({ text: 'x' }, parser), null, 'no prompt before the thread exists');
  const hs = harness.handshake({ model: 'gpt-5.4', cwd: '/w' }).map((l) => JSON.parse(l) as { method: string });
  assert.deepEqual(hs.map((m) => m.method), ['initialize', 'initialized', 'thread/start']);
  const events = run(parser, fixture('codex'));
  assert.ok(parser.ready);
  assert.equal(parser.sessionId, 'thr_0193a1');
  assert.equal(pick(events, 'init').length, 1, 'init once (response and notification)');
  assert.deepEqual(pick(events, 'userInput'), [{ kind: 'userInput', text: 'add a test', images: 0 }]);
  assert.deepEqual(pick(events, 'thinking').map((e) => e.text), ['Looking for the test layout.']);
  assert.deepEqual(pick(events, 'toolUse').map((e) => [e.name, e.input]), [
    ['Bash', { command: 'ls tests', cwd: '/home/user/src/proj' }],
    ['Write', { changes: [{ path: 'tests/b_test.py', kind: 'add', diff: '+def test_b(): pass\n' }] }],
  ]);
  assert.deepEqual(pick(events, 'toolResult').map((e) => [e.toolUseId, e.isError, e.content, e.durationMs]), [
    ['item_2', false, 'a_test.py\n', 12],
    ['item_3', false, 'completed', 0],
  ]);
  assert.deepEqual(pick(events, 'textDelta').map((e) => e.text), ['Added ']);
  assert.deepEqual(pick(events, 'usage')[0], { kind: 'usage', usage: { inputTokens: 2000, outputTokens: 200, cacheCreationInputTokens: 0, cacheReadInputTokens: 1000 }, contextWindow: 272000 });
  const results = pick(events, 'result');
  assert.deepEqual(results.map((r) => [r.subtype, r.isError, r.result, r.numTurns]), [
    ['completed', false, 'Added tests/b_test.py.', 1],
    ['failed', true, 'quota exceeded', 2],
  ]);
  assert.deepEqual(results[0]!.usage, { inputTokens: 2000, outputTokens: 200, cacheCreationInputTokens: 0, cacheReadInputTokens: 1000 });
  assert.deepEqual(pick(events, 'error').map((e) => e.message.slice(0, 28)), ['codex: thread not found', 'agent output line is not val']);
  assert.ok(pick(events, 'system').some((e) => e.subtype === 'retrying'));
  const prompt = JSON.parse(harness.encodePrompt({ text: 'go', images: [{ mediaType: 'image/jpeg', data: 'QQ==' }] }, parser)!) as Record<string, unknown>;
  assert.deepEqual(prompt, { id: 100, method: 'turn/start', params: { threadId: 'thr_0193a1', input: [{ type: 'text', text: 'go' }, { type: 'image', url: 'data:image/jpeg;base64,QQ==' }] } });
});

test('gemini stream-json', () => {
  const parser = new GeminiParser(1_000_000);
  const events = run(parser, fixture('gemini'));
  assert.equal(parser.sessionId, 'gem-sess-1');
  assert.deepEqual(pick(events, 'toolUse').map((e) => e.name), ['Bash', 'Write'], 'tool names mapped to the common vocabulary');
  assert.deepEqual(pick(events, 'toolResult').map((e) => [e.isError, e.content]), [
    [false, 'README.md\n'],
    [true, 'denied'],
  ]);
  assert.deepEqual(pick(events, 'textDelta').map((e) => e.text), ['There is ', 'one file.']);
  const [result] = pick(events, 'result');
  assert.deepEqual([result!.result, result!.durationMs, result!.usage.inputTokens], ['There is one file.', 4000, 800]);
  assert.equal(pick(events, 'error')[0]!.message, 'API key expired');
  assert.equal(pick(events, 'system')[0]!.subtype, 'mystery');
  assert.equal(pick(events, 'error').length, 2);
  assert.equal(HARNESSES.get('gemini')!.encodePrompt({ text: 'two\nlines' }, parser), 'two lines\n');
});

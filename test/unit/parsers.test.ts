// Wire parsers against the agents' own output: recordings of the real CLIs (test/fixtures/agents,
// see its README) plus hand-written lines for shapes the stubs do not provoke. Malformed and unknown
// lines included: parsers never throw. A log replays to the same events as the live session saw.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EventBody } from '../../src/api/index.js';
import { claudeUserMessage, HARNESSES, unwrapShell, type AcpParser, type AgentParser, type CodexParser, type Harness } from '../../src/agents/index.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/agents/${name}.jsonl`, import.meta.url)), 'utf8').split('\n').filter(Boolean);
const run = (parser: AgentParser, lines: string[]) => lines.flatMap((l) => parser.parse(l));
const pick = <K extends EventBody['kind']>(events: EventBody[], kind: K) => events.filter((e): e is Extract<EventBody, { kind: K }> => e.kind === kind);

test('claude stream-json: documented shapes', () => {
  const parser = HARNESSES.get('claude')!.newParser({ model: 'sonnet' });
  const events = run(parser, fixture('claude-features'));
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

test('claude stream-json: recorded from Claude Code 2.1.332 (a write, then an interrupted turn)', () => {
  const parser = HARNESSES.get('claude')!.newParser({ model: 'sonnet' });
  const events = run(parser, fixture('claude'));
  const inits = pick(events, 'init');
  assert.ok(inits.length >= 1 && inits.every((i) => i.agentVersion === '2.1.332' && i.cwd === '/home/user/src/proj'), JSON.stringify(inits[0]));
  assert.deepEqual(pick(events, 'userInput').map((e) => e.text), ['Write CLAUDE_WAS_HERE.md.', 'STUB_SLOW: tell me a long story.'], 'prompts (logged stdin), not the interrupt marker');
  assert.deepEqual(pick(events, 'toolUse').map((e) => [e.name, e.input]), [['Write', { file_path: '/home/user/src/proj/CLAUDE_WAS_HERE.md', content: '# Claude was here\n' }]]);
  const [toolResult] = pick(events, 'toolResult');
  assert.ok(toolResult && !toolResult.isError && toolResult.content.startsWith('File created successfully'), JSON.stringify(toolResult));
  assert.equal(pick(events, 'textDelta').slice(0, 4).map((e) => e.text).join(''), 'I wrote CLAUDE_WAS_HERE.md.');
  assert.deepEqual(pick(events, 'system').filter((e) => e.subtype === 'interrupted').length, 1, "Claude Code's marker of the interrupt");
  const results = pick(events, 'result');
  assert.deepEqual(results.map((r) => [r.subtype, r.isError, r.result]), [
    ['success', false, 'I wrote CLAUDE_WAS_HERE.md.'],
    ['interrupted', false, ''],
  ]);
  assert.ok(results[1]!.costUSD >= results[0]!.costUSD && results[0]!.costUSD > 0, 'session cost as Claude Code reports it');
  assert.equal(pick(events, 'error').length, 0);
  assert.ok(!pick(events, 'system').some((e) => e.subtype === 'control_request' || e.subtype === 'control_response'), 'the interrupt request and its answer are not shown');
});

test('claude and fake: interrupt is a stream-json control request', () => {
  for (const name of ['claude', 'fake'] as const) {
    const h = HARNESSES.get(name)!;
    assert.equal(h.supportsInterrupt, true);
    const msg = JSON.parse(h.encodeInterrupt(h.newParser({ model: '' }))!) as { type: string; request_id: string; request: unknown };
    assert.equal(msg.type, 'control_request');
    assert.deepEqual(msg.request, { subtype: 'interrupt' });
    assert.ok(msg.request_id.length > 0);
  }
});

/** A harness's session as the service drives it: handshake, then each line parsed and the outbox taken. */
function live(h: Harness, opts: { model: string; cwd: string; resumeSessionId?: string }) {
  const parser = h.newParser({ model: opts.model });
  const sent = h.handshake(opts, parser).map((l) => JSON.parse(l) as Record<string, unknown>);
  const events: EventBody[] = [];
  const feed = (lines: string[]) => {
    for (const l of lines) {
      events.push(...parser.parse(l));
      for (const reply of parser.drain?.() ?? []) sent.push(JSON.parse(reply) as Record<string, unknown>);
    }
  };
  return { parser, sent, events, feed };
}

test('codex app-server: recorded from codex 0.171 (handshake, a command, an interrupted turn)', () => {
  const harness = HARNESSES.get('codex')!;
  const lines = fixture('codex');
  const { parser, sent, events, feed } = live(harness, { model: 'gpt-6.2-sol', cwd: '/home/user/src/proj' });
  const p = parser as CodexParser;
  assert.deepEqual(sent.map((m) => m.method), ['initialize', 'initialized', 'thread/start']);
  assert.deepEqual((sent[0]!.params as { capabilities: { optOutNotificationMethods: string[] } }).capabilities.optOutNotificationMethods.includes('item/commandExecution/outputDelta'), true);
  assert.deepEqual(sent[2]!.params, { model: 'gpt-6.2-sol', cwd: '/home/user/src/proj', approvalPolicy: 'never', sandbox: 'danger-full-access' });
  assert.equal(harness.encodePrompt({ text: 'x' }, parser), null, 'no prompt before the thread exists');
  const secondTurn = lines.findIndex((l, i) => i > 0 && l.startsWith('{"method":"turn/started"') && lines.slice(0, i).some((x) => x.startsWith('{"method":"turn/completed"')));
  feed(lines.slice(0, secondTurn + 1));
  assert.ok(parser.ready);
  assert.match(p.turnId, /^[0-9a-f-]{36}$/, 'the running turn is known');
  const interrupt = JSON.parse(harness.encodeInterrupt(parser)!) as { method: string; params: unknown };
  assert.deepEqual(interrupt, { id: 100, method: 'turn/interrupt', params: { threadId: p.threadId, turnId: p.turnId } });
  feed(lines.slice(secondTurn + 1));
  assert.equal(p.turnId, '');
  assert.equal(harness.encodeInterrupt(parser), null, 'no turn runs: nothing to interrupt');
  const [init] = pick(events, 'init');
  assert.deepEqual({ ...init, sessionId: init!.sessionId.length }, { kind: 'init', sessionId: 36, model: 'gpt-6.2-sol', agentVersion: '0.171.0', tools: [], cwd: '/home/user/src/proj' });
  assert.equal(pick(events, 'init').length, 1, 'init once (response and notification)');
  assert.deepEqual(pick(events, 'userInput'), [], 'caic records the prompts it sends; the echo is not repeated');
  assert.deepEqual(pick(events, 'toolUse').map((e) => [e.name, e.input]), [['Bash', { command: "printf '# Codex was here\\n' > CODEX_WAS_HERE.md", cwd: '/home/user/src/proj' }]]);
  assert.deepEqual(pick(events, 'toolResult').map((e) => [e.isError, e.content]), [[false, '']]);
  assert.deepEqual(pick(events, 'text').map((e) => e.text)[0], 'I wrote CODEX_WAS_HERE.md.');
  const usage = pick(events, 'usage');
  assert.deepEqual(usage[0], { kind: 'usage', usage: { inputTokens: 100, outputTokens: 30, cacheCreationInputTokens: 0, cacheReadInputTokens: 20 }, contextWindow: 475000 }, 'the window codex reports for the model');
  const results = pick(events, 'result');
  assert.deepEqual(results.map((r) => [r.subtype, r.isError, r.result, r.numTurns]), [
    ['completed', false, 'I wrote CODEX_WAS_HERE.md.', 1],
    ['interrupted', false, '', 2],
  ]);
  assert.deepEqual(results[0]!.usage, { inputTokens: 200, outputTokens: 60, cacheCreationInputTokens: 0, cacheReadInputTokens: 40 });
  assert.equal(pick(events, 'error').length, 0);
  // A log replays to the same events.
  assert.deepEqual(run(harness.newParser({ model: 'gpt-6.2-sol' }), lines), events);
  // Prompts: text then images as data URLs; ids after the handshake's.
  const prompt = JSON.parse(harness.encodePrompt({ text: 'go', images: [{ mediaType: 'image/jpeg', data: 'QQ==' }] }, parser)!) as Record<string, unknown>;
  assert.deepEqual(prompt, { id: 101, method: 'turn/start', params: { threadId: p.threadId, input: [{ type: 'text', text: 'go', text_elements: [] }, { type: 'image', url: 'data:image/jpeg;base64,QQ==' }] } });
});

test('codex: resume, errors, shapes the recording lacks', () => {
  const harness = HARNESSES.get('codex')!;
  const parser = harness.newParser({ model: 'gpt-5.5' });
  const hs = harness.handshake({ model: 'gpt-5.5', cwd: '/w', resumeSessionId: 'thr_1' }, parser).map((l) => JSON.parse(l) as { method: string; params: Record<string, unknown> });
  assert.deepEqual(hs[2], { id: 2, method: 'thread/resume', params: { threadId: 'thr_1', model: 'gpt-5.5', cwd: '/w', excludeTurns: true, approvalPolicy: 'never', sandbox: 'danger-full-access' } });
  assert.deepEqual(harness.argv({ model: 'gpt-5.5', cwd: '/w' }, { relay: '', fakeAgent: '' }).slice(0, 2), ['sh', '-c']);
  const events = run(parser, [
    '{"id":2,"error":{"code":-32600,"message":"thread not found"}}',
    '{"method":"error","params":{"error":{"message":"Reconnecting... 1/5","additionalDetails":"stream disconnected"},"willRetry":true}}',
    '{"method":"error","params":{"error":{"message":"quota exceeded"},"willRetry":false}}',
    '{"method":"turn/plan/updated","params":{"plan":[{"step":"Read","status":"completed"},{"step":"Write","status":"inProgress"}]}}',
    '{"method":"item/started","params":{"item":{"type":"fileChange","id":"f1","changes":[{"path":"a.txt","kind":{"type":"add"},"diff":"+a"}],"status":"inProgress"}}}',
    '{"method":"item/completed","params":{"item":{"type":"fileChange","id":"f1","changes":[],"status":"failed"}}}',
    '{"method":"item/completed","params":{"item":{"type":"reasoning","id":"r1","summary":["Thinking it over."],"content":[]}}}',
    '{"method":"turn/completed","params":{"turn":{"id":"t1","status":"failed","error":{"message":"quota exceeded"},"durationMs":1200}}}',
    'not json',
    '[1,2]',
    '{"method":"something/new","params":{"x":1}}',
  ]);
  assert.deepEqual(pick(events, 'error').map((e) => e.message), ['codex: thread not found', 'quota exceeded', 'agent output line is not valid JSON', 'agent output line is not a JSON object']);
  assert.deepEqual(pick(events, 'system').map((e) => e.subtype), ['retrying', 'something/new']);
  assert.deepEqual(pick(events, 'todo')[0]!.todos, [{ content: 'Read', status: 'completed' }, { content: 'Write', status: 'in_progress' }]);
  assert.deepEqual(pick(events, 'toolUse').map((e) => e.name), ['Write'], 'a change that only adds files is a Write');
  assert.deepEqual(pick(events, 'toolResult').map((e) => e.isError), [true]);
  assert.deepEqual(pick(events, 'thinking').map((e) => e.text), ['Thinking it over.']);
  assert.deepEqual(pick(events, 'result').map((r) => [r.subtype, r.isError, r.result, r.durationMs]), [['failed', true, 'quota exceeded', 1200]]);
  assert.equal(unwrapShell('/bin/bash -lc "echo \\"hi\\" \\$HOME"'), 'echo "hi" $HOME');
  assert.equal(unwrapShell('ls -la'), 'ls -la');
});

test('gemini over ACP: recorded from gemini-cli 0.61 (handshake driven by the answers, a write, a cancelled turn)', () => {
  const harness = HARNESSES.get('gemini')!;
  const lines = fixture('gemini');
  assert.deepEqual(harness.argv({ model: 'auto', cwd: '/w' }, { relay: '', fakeAgent: '' }), ['gemini', '--acp', '--yolo', '--skip-trust']);
  assert.deepEqual(harness.argv({ model: 'gemini-2.5-pro', cwd: '/w' }, { relay: '', fakeAgent: '' }).slice(-2), ['--model', 'gemini-2.5-pro']);
  const { parser, sent, events, feed } = live(harness, { model: 'auto', cwd: '/home/user/src/proj' });
  assert.deepEqual(sent.map((m) => m.method), ['initialize'], 'one step at a time: the agent answers before the next');
  feed(lines.slice(0, 1));
  assert.deepEqual(sent[1], { jsonrpc: '2.0', id: 2, method: 'session/new', params: { cwd: '/home/user/src/proj', mcpServers: [] } });
  assert.equal(parser.ready, false);
  feed(lines.slice(1, 2));
  assert.ok(parser.ready, 'the model is set on the command line: ready once the session answers');
  const prompt = JSON.parse(harness.encodePrompt({ text: 'look', images: [{ mediaType: 'image/png', data: 'AA==' }] }, parser)!) as Record<string, unknown>;
  assert.deepEqual(prompt, { jsonrpc: '2.0', id: 100, method: 'session/prompt', params: { sessionId: parser.sessionId, prompt: [{ type: 'image', mimeType: 'image/png', data: 'AA==' }, { type: 'text', text: 'look' }] } });
  assert.deepEqual(JSON.parse(harness.encodeInterrupt(parser)!), { jsonrpc: '2.0', method: 'session/cancel', params: { sessionId: parser.sessionId } });
  feed(lines.slice(2));
  assert.equal(sent.length, 2, 'nothing else was owed to the agent');
  const [init] = pick(events, 'init');
  assert.deepEqual(init, { kind: 'init', sessionId: parser.sessionId, model: 'auto', agentVersion: '0.61.0', tools: [], cwd: '' });
  assert.deepEqual(pick(events, 'system').map((e) => e.subtype), ['mode']);
  assert.deepEqual(pick(events, 'toolUse').map((e) => [e.name, e.input]), [['Write', { file_path: '/home/user/src/proj/GEMINI_WAS_HERE.md', description: 'Writing to GEMINI_WAS_HERE.md' }]]);
  assert.deepEqual(pick(events, 'toolResult').map((e) => [e.isError, e.content]), [[false, '/home/user/src/proj/GEMINI_WAS_HERE.md: written']]);
  assert.equal(pick(events, 'text')[0]!.text, 'I wrote GEMINI_WAS_HERE.md.');
  const results = pick(events, 'result');
  assert.deepEqual(results.map((r) => [r.subtype, r.isError, r.result, r.usage.inputTokens, r.usage.outputTokens]), [
    ['success', false, 'I wrote GEMINI_WAS_HERE.md.', 200, 40],
    ['interrupted', false, pick(events, 'text')[1]?.text ?? '', 0, 0],
  ]);
  assert.equal(pick(events, 'error').length, 0);
  assert.deepEqual(run(harness.newParser({ model: 'auto' }), lines), events, 'a log replays to the same events');
});

test('opencode over ACP: recorded from opencode 1.18 (the model set through the session, a write, a cancelled turn)', () => {
  const harness = HARNESSES.get('opencode')!;
  const lines = fixture('opencode');
  assert.deepEqual(harness.argv({ model: 'anthropic/claude-sonnet-4-5', cwd: '/w' }, { relay: '', fakeAgent: '' }), ['opencode', 'acp']);
  const { parser, sent, events, feed } = live(harness, { model: 'anthropic/claude-sonnet-4-5', cwd: '/home/user/src/proj' });
  feed(lines.slice(0, 2));
  assert.deepEqual(sent.map((m) => m.method), ['initialize', 'session/new', 'session/set_config_option']);
  assert.deepEqual(sent[2]!.params, { sessionId: parser.sessionId, configId: 'model', value: 'anthropic/claude-sonnet-4-5' });
  assert.equal(parser.ready, false, 'not before the model is set');
  const modelAnswer = lines.findIndex((l) => l.startsWith('{"jsonrpc":"2.0","id":3,'));
  feed(lines.slice(2, modelAnswer + 1));
  assert.ok(parser.ready);
  feed(lines.slice(modelAnswer + 1));
  const [init] = pick(events, 'init');
  assert.ok(init && init.agentVersion === '1.18.33' && init.sessionId.startsWith('ses_') && init.model === 'anthropic/claude-sonnet-4-5', JSON.stringify(init));
  assert.deepEqual(pick(events, 'toolUse').map((e) => [e.toolUseId, e.name, e.input]), [['toolu_stub2', 'Write', { file_path: '/home/user/src/proj/OPENCODE_WAS_HERE.md', content: '# OpenCode was here\n' }]], 'shown once its input is known');
  assert.deepEqual(pick(events, 'toolResult').map((e) => [e.toolUseId, e.isError, e.content]), [['toolu_stub2', false, 'Wrote file successfully.']]);
  assert.equal(pick(events, 'text')[0]!.text, 'I wrote OPENCODE_WAS_HERE.md.');
  assert.deepEqual(pick(events, 'usage')[0], { kind: 'usage', usage: { inputTokens: 50, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 }, contextWindow: 1_000_000 });
  const results = pick(events, 'result');
  assert.deepEqual(results.map((r) => [r.subtype, r.isError, r.costUSD, r.usage.inputTokens, r.usage.outputTokens]), [
    ['success', false, 0.0009, 50, 20],
    ['interrupted', false, 0.0009, 0, 0],
  ]);
  assert.equal(pick(events, 'error').length, 0);
  assert.deepEqual(run(harness.newParser({ model: 'anthropic/claude-sonnet-4-5' }), lines), events, 'a log replays to the same events');
});

test('ACP: permission requests are granted once, other requests refused; a loaded session replays nothing; errors', () => {
  const harness = HARNESSES.get('gemini')!;
  const { parser, sent, events, feed } = live(harness, { model: 'auto', cwd: '/w', resumeSessionId: 'sess-1' });
  feed(['{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":1,"agentInfo":{"name":"gemini-cli","version":"0.61.0"}}}']);
  assert.deepEqual(sent[1], { jsonrpc: '2.0', id: 2, method: 'session/load', params: { sessionId: 'sess-1', cwd: '/w', mcpServers: [] } });
  // session/load replays the conversation before it answers: caic has it already.
  feed([
    '{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"sess-1","update":{"sessionUpdate":"user_message_chunk","content":{"type":"text","text":"old prompt"}}}}',
    '{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"sess-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"old answer"}}}}',
    '{"jsonrpc":"2.0","id":2,"result":{"modes":{"currentModeId":"yolo"}}}',
  ]);
  assert.deepEqual(events.map((e) => e.kind), ['init', 'system']);
  assert.ok(parser.ready);
  assert.equal((parser as AcpParser).promptSessionId, 'sess-1', 'load answers without the id; prompts go to the loaded session');
  feed(fixture('gemini-permission'));
  assert.deepEqual(sent[2], { jsonrpc: '2.0', id: 0, result: { outcome: { outcome: 'selected', optionId: 'proceed_once' } } });
  feed(['{"jsonrpc":"2.0","id":7,"method":"fs/read_text_file","params":{"path":"/etc/passwd"}}']);
  assert.deepEqual(sent[3], { jsonrpc: '2.0', id: 7, error: { code: -32601, message: 'caic does not offer fs/read_text_file' } });
  const more = parser.parse('{"jsonrpc":"2.0","id":100,"error":{"code":-32603,"message":"Internal error","data":{"message":"API key not valid"}}}');
  assert.deepEqual(more.map((e) => e.kind === 'result' && [e.isError, e.result]), [[true, 'Internal error: API key not valid']], 'a failed prompt ends the turn with its reason');
  const bad = [...parser.parse('{"jsonrpc":"2.0","id":3,"error":{"message":"unknown model"}}'), ...parser.parse('garbage'), ...parser.parse('{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"brand_new","x":1}}}')];
  assert.deepEqual(bad.map((e) => e.kind), ['error', 'error', 'system']);
  assert.equal(harness.encodeCompact(undefined, parser), null);
});

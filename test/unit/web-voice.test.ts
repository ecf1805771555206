// The web voice client's logic without a browser: how gateway messages move the session's state and transcript, the task context and its updates, and the small parsers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseVoiceGatewayMessage, VOICE_CHANNEL_LIMITS, type Task } from '../../src/api/index.js';
import { attentionUpdate, contextText, gatewayError, initialVoiceState, MAX_LINES, numberTasks, shortArgs, voiceLanguage, voiceReducer, type VoiceEvent, type VoiceState } from '../../web/src/lib/voice.js';

/** Gateway messages as they come off the channel: parsed by the same parser the page uses. */
const gw = (m: Record<string, unknown>): VoiceEvent => {
  const p = parseVoiceGatewayMessage(JSON.stringify(m));
  assert.ok(p.ok, p.ok ? '' : p.error);
  return p.message;
};
const run = (events: VoiceEvent[], from: VoiceState = initialVoiceState) => events.reduce(voiceReducer, from);
const texts = (s: VoiceState) => s.lines.map((l) => [l.kind, 'text' in l ? l.text : '']);

test('a session: connecting, ready, the user speaks, the assistant answers in speech and text', () => {
  let s = run([{ type: 'local.connecting' }]);
  assert.equal(s.phase, 'connecting');
  // Speech before ready does not claim the session is listening.
  assert.equal(run([gw({ type: 'speech.started' })], s).phase, 'connecting');
  s = run([gw({ type: 'session.ready' }), gw({ type: 'speech.started' })], s);
  assert.equal(s.phase, 'user-speaking');
  s = run([gw({ type: 'transcript.delta', speaker: 'user', text: 'what are ' }), gw({ type: 'transcript.delta', speaker: 'user', text: 'my tasks doing?' }), gw({ type: 'speech.ended' })], s);
  assert.equal(s.phase, 'listening');
  s = run(
    [
      gw({ type: 'speech.started', speaker: 'assistant' }),
      gw({ type: 'transcript.delta', speaker: 'assistant', text: 'Two tasks ' }),
      gw({ type: 'assistant.text.delta', text: 'Two tasks are running.' }),
      gw({ type: 'transcript.delta', speaker: 'assistant', text: 'are running.' }),
    ],
    s,
  );
  assert.equal(s.phase, 'assistant-speaking');
  assert.deepEqual(texts(s), [
    ['user', 'what are my tasks doing?'],
    ['assistant', 'Two tasks are running.'],
    ['assistant-text', 'Two tasks are running.'],
  ]);
  s = run([gw({ type: 'speech.ended', speaker: 'assistant' })], s);
  assert.equal(s.phase, 'listening');
  // The next utterance is a new line, for both speakers.
  s = run([gw({ type: 'speech.started' }), gw({ type: 'transcript.delta', speaker: 'user', text: 'thanks' }), gw({ type: 'transcript.delta', speaker: 'assistant', text: 'Sure.' })], s);
  assert.deepEqual(texts(s).slice(3), [
    ['user', 'thanks'],
    ['assistant', 'Sure.'],
  ]);
  // A user's user-speech ended while the assistant speaks does not change the assistant's state.
  s = run([gw({ type: 'speech.started', speaker: 'assistant' }), gw({ type: 'speech.ended' })], s);
  assert.equal(s.phase, 'assistant-speaking');
});

test('tool calls: a line per call with short arguments, then ok or failed with the outcome', () => {
  let s = run([{ type: 'local.connecting' }, gw({ type: 'session.ready' }), gw({ type: 'transcript.delta', speaker: 'user', text: 'tell task 2 to add tests' })]);
  s = run([gw({ type: 'tool.call', id: 'c1', name: 'task_send_message', args: { task: 2, message: 'add tests for the parser, covering every branch please' } })], s);
  const line = s.lines.at(-1)!;
  assert.equal(line.kind, 'tool');
  assert.deepEqual(line.kind === 'tool' && [line.name, line.status, line.args], ['task_send_message', 'running', 'task: 2, message: "add tests for the parser, covering every…"']);
  s = run([gw({ type: 'tool.call', id: 'c2', name: 'tasks_list', args: {} }), { type: 'local.tool.done', id: 'c1', ok: true, text: 'Sent to #2' }, { type: 'local.tool.done', id: 'c2', ok: false, text: 'no task number 9' }], s);
  assert.deepEqual(
    s.lines.filter((l) => l.kind === 'tool').map((l) => l.kind === 'tool' && [l.id, l.status, l.text]),
    [
      ['c1', 'ok', 'Sent to #2'],
      ['c2', 'failed', 'no task number 9'],
    ],
  );
  // A result for a call the panel does not know changes nothing.
  assert.equal(run([{ type: 'local.tool.done', id: 'zz', ok: true, text: '' }], s), s);
  // After a tool call the assistant's words start a new line.
  s = run([gw({ type: 'transcript.delta', speaker: 'assistant', text: 'Done.' })], s);
  assert.deepEqual(texts(s).at(-1), ['assistant', 'Done.']);
  assert.equal(texts(s).filter(([k]) => k === 'assistant').length, 1);
});

test('interruptions, recoverable and fatal errors, closing', () => {
  let s = run([{ type: 'local.connecting' }, gw({ type: 'session.ready' }), gw({ type: 'speech.started', speaker: 'assistant' }), gw({ type: 'transcript.delta', speaker: 'assistant', text: 'Let me' })]);
  s = run([gw({ type: 'interrupted', source: 'user' })], s);
  assert.equal(s.phase, 'listening');
  assert.deepEqual(texts(s).at(-1), ['notice', 'Interrupted: you spoke over the reply.']);
  s = run([gw({ type: 'transcript.delta', speaker: 'assistant', text: 'OK' }), gw({ type: 'interrupted', source: 'client' })], s);
  assert.deepEqual(texts(s).slice(-2), [
    ['assistant', 'OK'],
    ['notice', 'Reply cancelled.'],
  ]);
  s = run([gw({ type: 'error', message: 'audio congested', recoverable: true })], s);
  assert.equal(s.phase, 'listening');
  assert.deepEqual(texts(s).at(-1), ['notice', 'Voice gateway: audio congested']);
  const fatal = run([gw({ type: 'error', message: 'API key not valid', recoverable: false }), { type: 'local.closed' }], s);
  assert.deepEqual([fatal.phase, fatal.error], ['error', 'The voice gateway ended the session: API key not valid']);
  assert.equal(run([{ type: 'local.closed' }], s).phase, 'closed');
  const local = run([{ type: 'local.error', message: 'Voice is off: set [voice-gateway] url' }], initialVoiceState);
  assert.deepEqual([local.phase, local.error], ['error', 'Voice is off: set [voice-gateway] url']);
  // A new session starts clean but keeps keys unique.
  const again = run([{ type: 'local.connecting' }], s);
  assert.deepEqual([again.phase, again.lines, again.error], ['connecting', [], '']);
  assert.ok(again.nextKey >= s.nextKey);
});

test('the transcript keeps the newest lines only', () => {
  let s = run([{ type: 'local.connecting' }, gw({ type: 'session.ready' })]);
  for (let i = 0; i < MAX_LINES + 50; i++) s = run([gw({ type: 'tool.call', id: `c${i}`, name: 'tasks_list', args: {} })], s);
  assert.equal(s.lines.length, MAX_LINES);
  assert.deepEqual(s.lines[0]!.kind === 'tool' && s.lines[0]!.id, 'c50');
  assert.equal(new Set(s.lines.map((l) => l.key)).size, MAX_LINES);
});

const task = (id: string, state: Task['state'], title: string, repo = 'proj'): Task =>
  ({ id, state, title, repos: repo ? [{ name: repo, baseBranch: 'main', branch: `caic-${id.slice(-1)}` }] : [] }) as unknown as Task;

test('context: tasks numbered in creation order as the tools number them, active ones newest first', () => {
  const tasks = [task('01B', 'asking', 'Fix the login'), task('01A', 'purged', 'Old thing'), task('01C', 'running', 'Add tests', '')];
  assert.deepEqual([...numberTasks(tasks)], [
    ['01A', 1],
    ['01B', 2],
    ['01C', 3],
  ]);
  assert.equal(
    contextText(tasks),
    'The user runs coding agents with caic. Refer to tasks by their number; tasks_list has the current list.\nTheir tasks, newest first:\n#3 [working] Add tests\n#2 [asking the user a question] Fix the login (proj @ caic-B)',
  );
  assert.match(contextText([]), /has no active tasks/);
  const many = Array.from({ length: 500 }, (_, i) => task(`01${String(i).padStart(4, '0')}`, 'waiting', 'z'.repeat(500)));
  const text = contextText(many);
  assert.ok(text.length <= VOICE_CHANNEL_LIMITS.context, `${text.length}`);
  assert.match(text, /…and 470 older ones\.$/);
});

test('context updates: only when a known task starts waiting for the person', () => {
  const before = task('01B', 'running', 'Fix the login');
  const all = [task('01A', 'waiting', 'Other'), before];
  assert.equal(attentionUpdate(before, { ...before, state: 'asking' }, all), 'Update: task #2 "Fix the login" is asking a question (agent_last_message reads it). Tell the user briefly when there is a pause.');
  assert.match(attentionUpdate(before, { ...before, state: 'waiting' }, all)!, /^Update: task #2 "Fix the login" finished its turn and is waiting\./);
  assert.match(attentionUpdate(before, { ...before, state: 'has_plan' }, all)!, /has a plan waiting for approval/);
  assert.equal(attentionUpdate(before, { ...before, state: 'running' }, all), null);
  assert.equal(attentionUpdate({ ...before, state: 'asking' }, { ...before, state: 'asking' }, all), null, 'no change of state');
  assert.equal(attentionUpdate(undefined, { ...before, state: 'waiting' }, all), null, 'a task first seen is not news');
});

test('small parts: argument summaries, the browser language, gateway error answers', () => {
  assert.equal(shortArgs({}), '');
  assert.equal(shortArgs({ task: 1, force: true }), 'task: 1, force: true');
  assert.equal(shortArgs({ a: 'x'.repeat(200), b: 'y'.repeat(200) }).length, 80);
  assert.equal(voiceLanguage('en-US'), 'en-US');
  assert.equal(voiceLanguage('de'), 'de');
  assert.equal(voiceLanguage(''), '');
  assert.equal(voiceLanguage('en US'), '');
  assert.equal(voiceLanguage(undefined), '');
  assert.equal(gatewayError(401, '{"error":{"code":"UNAUTHORIZED","message":"token expired"}}'), 'token expired (HTTP 401)');
  assert.equal(gatewayError(502, '<html>Bad gateway</html>'), 'HTTP 502');
  assert.equal(gatewayError(404, '{"error":{}}'), 'HTTP 404');
});

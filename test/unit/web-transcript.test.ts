// The web UI's transcript reducer: deltas folded into one message, tool results joined, asks
// answered, duplicates ignored, gaps counted, batches equal to one-by-one application.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventBody, EventMessage } from '../../src/api/index.js';
import { applyEvents, emptyTranscript, formatAnswers, openAsk, type TranscriptState } from '../../web/src/lib/transcript.js';

let seq = 0;
const ev = (body: EventBody, id = ++seq): EventMessage => ({ ...body, id, ts: new Date(1_700_000_000_000 + id).toISOString() });

function session(): EventMessage[] {
  seq = 0;
  return [
    ev({ kind: 'log', message: 'container start', phase: 'container.start', durationMs: 250 }),
    ev({ kind: 'log', message: 'pushed', phase: 'push', durationMs: 900 }),
    ev({ kind: 'init', sessionId: 's', model: 'm', agentVersion: '1', tools: [], cwd: '/' }),
    ev({ kind: 'userInput', text: 'hi', images: 0 }),
    ev({ kind: 'textDelta', text: 'Hel' }),
    ev({ kind: 'textDelta', text: 'lo' }),
    ev({ kind: 'text', text: 'Hello' }),
    ev({ kind: 'toolUse', toolUseId: 't1', name: 'Bash', input: { command: 'ls' }, inputTruncated: false }),
    ev({ kind: 'todo', todos: [{ content: 'a', status: 'completed' }] }),
    ev({ kind: 'toolResult', toolUseId: 't1', content: 'x', isError: false, durationMs: 12 }),
    ev({ kind: 'ask', toolUseId: 't2', questions: [{ question: 'Which?', header: 'DB', options: [{ label: 'A' }, { label: 'B' }], multiSelect: false }] }),
    ev({ kind: 'result', subtype: 'success', isError: false, result: 'ok', durationMs: 5, numTurns: 1, costUSD: 0.01, usage: { inputTokens: 1, outputTokens: 2, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 } }),
    ev({ kind: 'diffStat', files: [{ path: 'a', added: 1, deleted: 0, binary: false }] }),
  ];
}

test('a session folds into provisioning, text, tool, ask and result items', () => {
  const s = applyEvents(emptyTranscript, session());
  assert.deepEqual(
    s.items.map((i) => i.type),
    ['provision', 'init', 'user', 'text', 'tool', 'ask', 'result'],
  );
  const provision = s.items[0]!;
  assert.ok(provision.type === 'provision' && provision.done && provision.phases.length === 2);
  const text = s.items[3]!;
  assert.ok(text.type === 'text' && text.text === 'Hello' && !text.streaming, 'the complete text replaced the deltas');
  const tool = s.items[4]!;
  assert.ok(tool.type === 'tool' && tool.result?.durationMs === 12);
  const result = s.items[6]!;
  assert.ok(result.type === 'result' && result.diffStat?.length === 1, 'the diff stat attaches to the turn result');
  assert.equal(s.todos.length, 1);
  assert.equal(openAsk(s)?.toolUseId, 't2');
  assert.equal(s.lastId, 13);
  assert.equal(s.events, 13);
});

test('batches give the same state as one event at a time; replays are ignored', () => {
  const events = session();
  const whole = applyEvents(emptyTranscript, events);
  let one: TranscriptState = emptyTranscript;
  for (const e of events) one = applyEvents(one, [e]);
  assert.deepEqual(one.items, whole.items);
  assert.equal(applyEvents(whole, events), whole, 'a full replay of seen events changes nothing');
  const overlap = applyEvents(applyEvents(emptyTranscript, events.slice(0, 6)), events.slice(3));
  assert.deepEqual(overlap.items, whole.items, 'an overlapping resend is applied once');
});

test('streaming text grows in place and is marked done by the next item', () => {
  seq = 0;
  let s = applyEvents(emptyTranscript, [ev({ kind: 'textDelta', text: 'a' }), ev({ kind: 'textDelta', text: 'b' })]);
  assert.equal(s.items.length, 1);
  const t = s.items[0]!;
  assert.ok(t.type === 'text' && t.text === 'ab' && t.streaming);
  s = applyEvents(s, [ev({ kind: 'toolUse', toolUseId: 'x', name: 'Read', input: {}, inputTruncated: false })]);
  const t2 = s.items[0]!;
  assert.ok(t2.type === 'text' && !t2.streaming);
});

test('a user message answers an open question; plans become plan items', () => {
  seq = 0;
  let s = applyEvents(emptyTranscript, [ev({ kind: 'ask', toolUseId: 'q', questions: [{ question: 'Q', options: [], multiSelect: false }] })]);
  assert.ok(openAsk(s));
  s = applyEvents(s, [ev({ kind: 'userInput', text: 'A', images: 0 })]);
  assert.equal(openAsk(s), undefined);
  s = applyEvents(s, [ev({ kind: 'toolUse', toolUseId: 'p', name: 'ExitPlanMode', input: { plan: '# Plan' }, inputTruncated: false })]);
  const plan = s.items.at(-1)!;
  assert.ok(plan.type === 'plan' && plan.plan === '# Plan');
});

test('live gaps are counted; history may skip ids', () => {
  seq = 0;
  const history = applyEvents(emptyTranscript, [ev({ kind: 'text', text: 'a' }, 1), ev({ kind: 'text', text: 'b' }, 5)]);
  assert.equal(history.gaps, 0);
  const live = applyEvents(history, [ev({ kind: 'text', text: 'c' }, 6), ev({ kind: 'text', text: 'd' }, 8)], { live: true });
  assert.equal(live.gaps, 1);
});

test('answers are formatted as one line per question', () => {
  const q = [
    { question: 'Which DB?', header: 'DB', options: [], multiSelect: false },
    { question: 'Which langs?', options: [], multiSelect: true },
  ];
  assert.equal(formatAnswers(q.slice(0, 1), [{ selected: ['SQLite'], other: '' }]), 'SQLite');
  assert.equal(formatAnswers(q, [{ selected: ['SQLite'], other: '' }, { selected: ['Go', 'TS'], other: ' Rust ' }]), 'DB: SQLite\nWhich langs?: Go, TS, Rust');
});

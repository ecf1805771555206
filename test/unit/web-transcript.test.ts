// The web UI's transcript reducer: deltas folded into one message, tool results joined, asks
// answered, duplicates ignored, gaps counted, batches equal to one-by-one application; and the
// bugs seen from outside: the start card, text streamed twice, pending ask rows, lost answers,
// old todos, sync lines, errors shown twice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventBody, EventMessage } from '../../src/api/index.js';
import { applyEvents, emptyTranscript, formatAnswers, openAsk, parseAnswers, showsError, systemLine, type Item, type TranscriptState } from '../../web/src/lib/transcript.js';

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
  assert.ok(provision.type === 'provision' && provision.status === 'done' && provision.phases.length === 2);
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

const types = (s: TranscriptState) => s.items.map((i) => i.type);
const only = <T extends Item['type']>(s: TranscriptState, type: T) => s.items.filter((i): i is Extract<Item, { type: T }> => i.type === type);

test('the start card turns to done when the session starts, before the agent says anything', () => {
  seq = 0;
  // The order a real task streams: phases, session start, the first prompt, then (much later) init.
  const start = [
    ev({ kind: 'log', message: 'task branch caic-1', phase: 'branch' }),
    ev({ kind: 'log', message: 'container start', phase: 'container.start', durationMs: 300 }),
    ev({ kind: 'log', message: 'sshBanner', phase: 'sshBanner', durationMs: 19 }),
    ev({ kind: 'log', message: 'pushed caic-1', phase: 'push', durationMs: 700 }),
  ];
  let s = applyEvents(emptyTranscript, start);
  assert.equal(only(s, 'provision')[0]!.status, 'running');
  s = applyEvents(s, [ev({ kind: 'system', subtype: 'session_start', detail: { n: 1, reason: 'start', resume: '' } }), ev({ kind: 'userInput', text: 'hello', images: 0 })]);
  const card = only(s, 'provision');
  assert.equal(card.length, 1);
  assert.equal(card[0]!.status, 'done');
  assert.equal(card[0]!.phases.length, 4);
  // A revive starts a new card with its own phases, closed the same way.
  s = applyEvents(s, [ev({ kind: 'log', message: 'container start', phase: 'container.start' }), ev({ kind: 'system', subtype: 'session_start', detail: { n: 2, reason: 'revive' } })]);
  assert.deepEqual(only(s, 'provision').map((c) => c.status), ['done', 'done']);
});

test('a start that ends in an error leaves the start card failed, not done', () => {
  seq = 0;
  const s = applyEvents(emptyTranscript, [
    ev({ kind: 'log', message: 'pushed', phase: 'push' }),
    ev({ kind: 'system', subtype: 'session_start', detail: { n: 1, reason: 'start' } }),
    ev({ kind: 'log', message: 'relay up', phase: 'relay' }),
  ]);
  assert.equal(only(s, 'provision')[0]!.status, 'done');
  seq = 0;
  const failed = applyEvents(emptyTranscript, [ev({ kind: 'log', message: 'container create', phase: 'container.create' }), ev({ kind: 'error', message: 'no such image' })]);
  assert.equal(only(failed, 'provision')[0]!.status, 'failed');
});

test('a message sent while text streams does not make the streamed text appear twice', () => {
  seq = 0;
  const events = [
    ev({ kind: 'textDelta', text: '0 1 ' }),
    ev({ kind: 'textDelta', text: '2 3 ' }),
    ev({ kind: 'userInput', text: 'and also this', images: 0 }),
    ev({ kind: 'textDelta', text: '4 5 ' }),
    ev({ kind: 'text', text: '0 1 2 3 4 5 ' }),
    ev({ kind: 'result', subtype: 'success', isError: false, result: '', durationMs: 1, numTurns: 1, costUSD: 0, usage: { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 } }),
  ];
  for (const s of [applyEvents(emptyTranscript, events, { live: true }), events.reduce((acc, e) => applyEvents(acc, [e], { live: true }), emptyTranscript)]) {
    const texts = only(s, 'text');
    assert.deepEqual(
      texts.map((t) => t.text),
      ['0 1 2 3 4 5 '],
      'one agent message holding each piece once',
    );
    assert.equal(texts[0]!.streaming, false);
    assert.equal(only(s, 'user').length, 1);
  }
});

test('an AskUserQuestion call is shown as its question card, not also as a tool row left running', () => {
  seq = 0;
  const q = [{ question: 'Which database?', header: 'Database', options: [{ label: 'PostgreSQL' }, { label: 'SQLite' }], multiSelect: false }];
  let s = applyEvents(emptyTranscript, [
    ev({ kind: 'toolUse', toolUseId: 'ask1', name: 'AskUserQuestion', input: { questions: q }, inputTruncated: false }),
    ev({ kind: 'ask', toolUseId: 'ask1', questions: q }),
    ev({ kind: 'result', subtype: 'success', isError: false, result: 'Waiting', durationMs: 1, numTurns: 1, costUSD: 0, usage: { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 } }),
  ]);
  assert.deepEqual(types(s), ['ask', 'result']);
  s = applyEvents(s, [ev({ kind: 'userInput', text: 'SQLite', images: 0 })]);
  const ask = only(s, 'ask')[0]!;
  assert.ok(ask.answered);
  assert.equal(ask.answer, 'SQLite');
  assert.equal(only(s, 'tool').length, 0);
});

test('tool calls without a result stop running when their turn or session ends', () => {
  seq = 0;
  let s = applyEvents(emptyTranscript, [
    ev({ kind: 'toolUse', toolUseId: 'a', name: 'Bash', input: {}, inputTruncated: false }),
    ev({ kind: 'toolUse', toolUseId: 'b', name: 'Read', input: {}, inputTruncated: false }),
    ev({ kind: 'toolResult', toolUseId: 'b', content: 'ok', isError: false, durationMs: 3 }),
  ]);
  assert.deepEqual(only(s, 'tool').map((t) => [t.toolUseId, !!t.result, !!t.ended]), [['a', false, false], ['b', true, false]]);
  s = applyEvents(s, [ev({ kind: 'system', subtype: 'agent_exit' })]);
  assert.deepEqual(only(s, 'tool').map((t) => [t.toolUseId, !!t.result, !!t.ended]), [['a', false, true], ['b', true, false]]);
  assert.deepEqual(s.pendingTools, []);
});

test('answers are read back from the message that answered: single, multiple, free text, labels with commas', () => {
  const q = [
    { question: 'Which DB?', header: 'DB', options: [{ label: 'SQLite' }, { label: 'Postgres, managed' }, { label: 'Postgres' }], multiSelect: false },
    { question: 'Which langs?', options: [{ label: 'Go' }, { label: 'TS' }], multiSelect: true },
  ];
  const one = [{ selected: ['Postgres, managed'], other: '' }];
  assert.deepEqual(parseAnswers(q.slice(0, 1), formatAnswers(q.slice(0, 1), one)), one);
  const both = [
    { selected: ['SQLite'], other: '' },
    { selected: ['Go', 'TS'], other: 'Rust' },
  ];
  assert.deepEqual(parseAnswers(q, formatAnswers(q, both)), both);
  assert.deepEqual(parseAnswers(q.slice(0, 1), 'whatever you think'), [{ selected: [], other: 'whatever you think' }]);
});

test('a cleared or restarted session drops the old todos and context usage; a revive keeps them', () => {
  seq = 0;
  const todo = ev({ kind: 'todo', todos: [{ content: 'old', status: 'in_progress' }] });
  const usage = ev({ kind: 'usage', usage: { inputTokens: 5, outputTokens: 1, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 }, contextWindow: 1000 });
  const s = applyEvents(emptyTranscript, [todo, usage]);
  const revived = applyEvents(s, [ev({ kind: 'system', subtype: 'session_start', detail: { n: 2, reason: 'revive' } })]);
  assert.equal(revived.todos.length, 1);
  for (const reason of ['clear', 'restart']) {
    const fresh = applyEvents(s, [ev({ kind: 'system', subtype: 'session_start', detail: { n: 2, reason } }, 100)]);
    assert.deepEqual(fresh.todos, [], reason);
    assert.equal(fresh.usage, null, reason);
  }
});

test('a sync line says what happened: blocked and empty syncs are not "synced"', () => {
  const issues = [{ file: 'a.env', kind: 'secret', detail: 'AWS key' }];
  assert.equal(systemLine('sync', { status: 'synced', branch: 'caic-1', safetyIssues: [] }), 'Synced to caic-1');
  const blocked = systemLine('sync', { status: 'blocked', branch: 'caic-1', safetyIssues: issues });
  assert.match(blocked, /^Sync to caic-1 blocked: 1 finding/);
  assert.doesNotMatch(blocked, /^Synced/);
  assert.match(systemLine('sync', { status: 'empty', branch: 'caic-1', safetyIssues: [] }), /^Nothing to sync/);
  assert.match(systemLine('sync', { status: 'synced', branch: 'caic-1', safetyIssues: issues }), /forced past 1 finding/);
});

test('an error already in the transcript is known, so the page shows it once', () => {
  seq = 0;
  const s = applyEvents(emptyTranscript, [ev({ kind: 'error', message: 'the agent did not become ready for a prompt' })]);
  assert.ok(showsError(s, 'the agent did not become ready for a prompt'));
  assert.ok(!showsError(s, 'something else'));
  assert.ok(!showsError(s, ''));
});

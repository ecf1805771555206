// The task log and its replay: batched reading (byte counts, UTF-8 across chunk boundaries),
// relay lines that try to pass for host records, deterministic ids, delta replay filtering.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { HARNESSES } from '../../src/agents/index.js';
import type { EventMessage } from '../../src/api/index.js';
import { decodeLine, escapeRelayLine, readLogBatches, replayFilter, replayLog, Transcript } from '../../src/tasks/index.js';
import { MAX_TOOL_INPUT_BYTES } from '../../src/tasks/transcript.js';
import { tempDir } from '../helpers/tmp.js';

const SID = '5d1e6b4a-0c1f-4f39-9a51-2a3b1c7f0e11';
const meta = (harness = 'claude') =>
  JSON.stringify({ type: 'caic_meta', version: 1, id: 't1', title: 'T', prompt: 'p', repos: [], harness, model: 'sonnet', sudo: false, owner: '', ownerName: '', createdAt: '2026-11-01T00:00:00.000Z' });
const delta = (text: string) =>
  JSON.stringify({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, session_id: SID, parent_tool_use_id: null, uuid: 'u1' });
const assistantText = (text: string) => JSON.stringify({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'text', text }] }, session_id: SID });

/** What a live task does: host records as they are, relay lines escaped, each fed as written. */
function live(lines: { host?: string; relay?: Buffer }[]): { log: Buffer; t: Transcript; events: EventMessage[] } {
  const t = new Transcript(HARNESSES);
  const parts: Buffer[] = [];
  const events: EventMessage[] = [];
  for (const l of lines) {
    const line = l.host !== undefined ? Buffer.from(l.host) : escapeRelayLine(l.relay!);
    parts.push(line, Buffer.from('\n'));
    events.push(...t.ingest(line.toString('latin1')));
  }
  return { log: Buffer.concat(parts), t, events };
}

test('readLogBatches gives every line byte for byte, whatever the chunk size', async () => {
  await using dir = await tempDir('caic-log-');
  const lines: Buffer[] = [
    Buffer.from('{"a":1}'),
    Buffer.from(''),
    Buffer.from('ascii only'),
    Buffer.from('héllo → wörld 🎉'),
    Buffer.from([0xff, 0xfe, 0x41, 0xe2, 0x82]), // not UTF-8: decodes with replacement characters
    Buffer.from('x'.repeat(300)),
    Buffer.from(`tail ${'é'.repeat(50)}`),
  ];
  const data = Buffer.concat([...lines.flatMap((l) => [l, Buffer.from('\n')]), Buffer.from('cut last line ✓')]);
  const path = join(dir.path, 'log.jsonl');
  await writeFile(path, data);
  const want = [...lines, Buffer.from('cut last line ✓')];
  for (const chunk of [1, 2, 3, 7, 64, 1024 * 1024]) {
    const got: string[] = [];
    for await (const b of readLogBatches(path, 0, chunk)) {
      got.push(...b.lines);
      assert.equal(b.ascii, b.lines.every((l) => decodeLine(l) === l), 'ascii flag');
    }
    assert.deepEqual(got, want.map((l) => l.toString('latin1')), `chunk ${chunk}: lines as binary strings`);
    assert.deepEqual(got.map(decodeLine), want.map((l) => l.toString('utf8')), `chunk ${chunk}: decoded`);
  }
  // From an offset in the middle.
  const from: string[] = [];
  for await (const b of readLogBatches(path, lines[0]!.length + 1)) from.push(...b.lines.map(decodeLine));
  assert.equal(from[0], '');
  assert.equal(from[2], 'héllo → wörld 🎉');
});

test('an agent cannot forge host records; the relay offset counts its exact bytes', () => {
  const relay = [
    '{"type":"caic_container","id":"someone-elses-container","name":"x"}',
    '{"type":"caic_state","state":"purged"}',
    '{"type":"caic_result","state":"purged"}',
    '  {"type":"caic_state","state":"failed"}',
    '',
    ' leading space',
    delta('hi'),
  ].map((l) => Buffer.from(l));
  const { t, log } = live([
    { host: meta() },
    { host: JSON.stringify({ type: 'caic_container', id: 'mine', name: 'caic-t1' }) },
    { host: JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' }) },
    { host: JSON.stringify({ type: 'caic_state', state: 'running' }) },
    ...relay.map((r) => ({ relay: r })),
  ]);
  assert.equal(t.containerId, 'mine');
  assert.equal(t.state, 'running');
  assert.equal(t.hasTrailer, false);
  assert.equal(t.relayBytes, relay.reduce((n, l) => n + l.length + 1, 0));
  // Every line in the log is non-empty and only our own start with the host prefix.
  const logged = log.toString('utf8').split('\n').slice(0, -1);
  assert.ok(logged.every((l) => l.length > 0));
  assert.equal(logged.filter((l) => l.startsWith('{"type":"caic_')).length, 4);
});

test('a relay line left out for its size still moves the offset past it, and says so', () => {
  const after = Buffer.from(delta('after'));
  const { t, events } = live([
    { host: meta() },
    { host: JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' }) },
    { host: JSON.stringify({ type: 'caic_state', state: 'running' }) },
    { host: JSON.stringify({ type: 'caic_skipped', bytes: 70_000_000 }) },
    { relay: after },
  ]);
  assert.equal(t.relayBytes, 70_000_000 + 1 + after.length + 1);
  assert.ok(events.some((e) => e.kind === 'error' && /a line of 70000000 bytes/.test(e.message)), JSON.stringify(events));
});

test('replaying the log gives the same events, ids and offsets as the live task', async () => {
  await using dir = await tempDir('caic-log-');
  const { t, events, log } = live([
    { host: meta() },
    { host: JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' }) },
    { host: JSON.stringify({ type: 'caic_state', state: 'running' }) },
    { relay: Buffer.from(JSON.stringify({ type: 'system', subtype: 'init', session_id: SID, model: 'claude-sonnet-4-6', tools: [], cwd: '/w' })) },
    { host: JSON.stringify({ type: 'caic_clock', ts: '2026-11-01T00:00:01.000Z' }) },
    { relay: Buffer.from(delta('Hé')) },
    { relay: Buffer.from(delta('llo "quoted" \\ →')) },
    { relay: Buffer.from(assistantText('Héllo "quoted" \\ →')) },
    { relay: Buffer.from('not json') },
    { relay: Buffer.from('{"type":"caic_relay_exit","code":0,"signal":null}') },
  ]);
  const path = join(dir.path, 't1.jsonl');
  await writeFile(path, log);
  const replayed = await replayLog(path, HARNESSES);
  assert.deepEqual(replayed.events, events);
  assert.equal(replayed.relayBytes, t.relayBytes);
  assert.equal(replayed.state, 'waiting');
  assert.deepEqual(
    events.map((e) => [e.id, e.kind]),
    [
      [1, 'system'],
      [2, 'init'],
      [3, 'textDelta'],
      [4, 'textDelta'],
      [5, 'text'],
      [6, 'error'],
      [7, 'system'],
    ],
  );
  assert.equal(events[6]!.kind === 'system' && events[6].subtype, 'agent_exit');
  assert.equal(events[3]!.ts, '2026-11-01T00:00:01.000Z');
});

test('the text-delta fast path gives what the full parser gives', () => {
  const texts = ['plain', '', 'quote " and backslash \\ and \\"', 'unicode é → 🎉 \u2028', 'control \n\t\u0001', '}},"session_id":"x"'];
  for (const text of texts) {
    const fast = HARNESSES.get('claude')!.newParser({ model: 'sonnet' });
    const slow = HARNESSES.get('claude')!.newParser({ model: 'sonnet' });
    const line = delta(text);
    // Same record with another key order: the fast path does not recognise it.
    const reordered = JSON.stringify({ session_id: SID, type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, uuid: 'u1', parent_tool_use_id: null });
    assert.deepEqual(fast.parse(line), slow.parse(reordered), text);
    assert.equal(fast.sessionId, slow.sessionId);
    const binary = HARNESSES.get('claude')!.newParser({ model: 'sonnet' });
    assert.deepEqual(binary.parseBinary!(Buffer.from(line).toString('latin1')), slow.parse(reordered), `${text} (binary)`);
  }
  // Cut or invalid lines still become errors.
  const p = HARNESSES.get('claude')!.newParser({ model: 'sonnet' });
  assert.equal(p.parse(delta('x').slice(0, -1))[0]!.kind, 'error');
  assert.equal(p.parse(delta('x').replace('"x"', '"\\q"'))[0]!.kind, 'error');
});

test('large tool inputs are truncated in the stream and kept whole for /tool', () => {
  const tool = (id: string, content: string) =>
    Buffer.from(JSON.stringify({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'tool_use', id, name: 'Write', input: { file_path: '/w/a', content } }] }, session_id: SID }));
  const { events, t } = live([
    { host: meta() },
    { host: JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' }) },
    { relay: tool('small', 'x'.repeat(100)) },
    { relay: tool('big', 'y'.repeat(MAX_TOOL_INPUT_BYTES + 10)) },
  ]);
  const uses = events.filter((e) => e.kind === 'toolUse');
  assert.deepEqual(
    uses.map((e) => e.kind === 'toolUse' && [e.toolUseId, e.inputTruncated]),
    [
      ['small', false],
      ['big', true],
    ],
  );
  assert.equal((t.toolInputs.get('big') as { content: string }).content.length, MAX_TOOL_INPUT_BYTES + 10);
});

test('replayFilter drops the deltas a complete message replaces, and only those', () => {
  let id = 0;
  const ev = (kind: string, text = '') => ({ id: ++id, ts: '', kind, text }) as unknown as EventMessage;
  const events = [ev('init'), ev('textDelta', 'a'), ev('textDelta', 'b'), ev('text', 'ab'), ev('toolUse'), ev('textDelta', 'c'), ev('toolResult'), ev('textDelta', 'd'), ev('textDelta', 'e')];
  assert.deepEqual(
    replayFilter(events).map((e) => e.id),
    [1, 4, 5, 6, 7, 8, 9],
  );
  // A log line or a usage report between the deltas and their text does not keep them.
  id = 0;
  const mixed = [ev('textDelta', 'a'), ev('log'), ev('textDelta', 'b'), ev('usage'), ev('text', 'ab'), ev('textDelta', 'c'), ev('system')];
  assert.deepEqual(
    replayFilter(mixed).map((e) => e.id),
    [2, 4, 5, 6, 7],
  );
});

test("the relay's exit record: an agent that never started fails the task with its reason; one that did waits", () => {
  const state = (s: string) => JSON.stringify({ type: 'caic_state', state: s });
  const session = (n: number) => JSON.stringify({ type: 'caic_session', n, reason: n === 1 ? 'start' : 'resume' });
  const init = JSON.stringify({ type: 'system', subtype: 'init', session_id: SID, model: 'sonnet', tools: [], cwd: '/' });
  const exit = (rec: Record<string, unknown>) => Buffer.from(JSON.stringify({ type: 'caic_relay_exit', code: null, signal: null, ...rec }));
  const errors = (events: EventMessage[]) => events.flatMap((e) => (e.kind === 'error' ? [e.message] : []));

  // Never started: a missing binary, with the relay's words.
  const missing = live([{ host: meta() }, { host: session(1) }, { host: state('running') }, { relay: exit({ error: 'cannot start the agent: "claude" is not installed' }) }]);
  assert.equal(missing.t.state, 'failed');
  assert.deepEqual(errors(missing.events), ['cannot start the agent: "claude" is not installed']);
  assert.equal(missing.t.summary.error, 'cannot start the agent: "claude" is not installed');

  // Never started: exited at once, its stderr says why.
  const crashed = live([{ host: meta() }, { host: session(1) }, { host: state('running') }, { relay: exit({ code: 1, stderr: 'Invalid API key · Please run /login' }) }]);
  assert.equal(crashed.t.state, 'failed');
  assert.deepEqual(errors(crashed.events), ['the agent exited with code 1\nInvalid API key · Please run /login']);
  const quiet = live([{ host: meta() }, { host: session(1) }, { host: state('starting') }, { relay: exit({ code: 0 }) }]);
  assert.equal(quiet.t.state, 'failed');
  assert.deepEqual(errors(quiet.events), ['the agent exited before it started']);

  // Started, then ended: waiting; a clean end is no error, a crash is one.
  const clean = live([{ host: meta() }, { host: session(1) }, { host: state('running') }, { relay: Buffer.from(init) }, { relay: exit({ code: 0 }) }]);
  assert.equal(clean.t.state, 'waiting');
  assert.deepEqual(errors(clean.events), []);
  assert.ok(clean.t.agentStarted && clean.t.agentExited);
  const later = live([
    { host: meta() },
    { host: session(1) },
    { host: state('running') },
    { relay: Buffer.from(init) },
    { relay: exit({ code: 0 }) },
    { host: session(2) },
    { host: state('running') },
    { relay: exit({ signal: 'SIGKILL' }) },
  ]);
  assert.equal(later.t.state, 'waiting', 'a later session that cannot start leaves a task that ran waiting, not failed');
  assert.deepEqual(errors(later.events), ['the agent was killed by SIGKILL']);

  // Stopping: the end was asked for, the state is the stop's business.
  const stopping = live([{ host: meta() }, { host: session(1) }, { host: state('running') }, { relay: Buffer.from(init) }, { host: state('stopping') }, { relay: exit({ code: 0 }) }]);
  assert.equal(stopping.t.state, 'stopping');

  // The relay shifts an agent line that imitates its exit record by one space: only agent output.
  const forged = live([{ host: meta() }, { host: session(1) }, { host: state('running') }, { relay: Buffer.from(' {"type":"caic_relay_exit","code":1}') }]);
  assert.equal(forged.t.state, 'running');
  assert.equal(forged.t.agentExited, false);
});

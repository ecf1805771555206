// The daemon's side of an agent session: lines cut into chunks anywhere, a line too long to keep,
// and what a long line costs (one agent writing 100 MB on one line froze the whole daemon for minutes).
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { SpawnedProcess } from '../../src/containers/index.js';
import { AgentSession, MAX_AGENT_LINE } from '../../src/tasks/session.js';

function fakeProcess(): SpawnedProcess & { stdout: PassThrough; end(): void } {
  const stdout = new PassThrough();
  let done!: (r: { code: number | null }) => void;
  const waited = new Promise<{ code: number | null }>((r) => (done = r));
  return {
    stdin: new PassThrough(),
    stdout,
    stderr: new PassThrough(),
    wait: () => waited,
    kill: () => done({ code: null }),
    end: () => done({ code: 0 }),
  };
}

/** Feeds chunks straight to the session's 'data' listener (no stream buffering in between). */
const feed = (p: PassThrough, chunks: Buffer[]) => {
  for (const c of chunks) p.emit('data', c);
};

test('lines cut anywhere arrive whole, each once, byte for byte', () => {
  const p = fakeProcess();
  const lines: string[] = [];
  new AgentSession(p, (l) => lines.push(l.toString('latin1')), () => {}, () => assert.fail('no line is too long'));
  const text = Buffer.from('{"a":1}\n\nhé\xff\n{"b":"' + 'x'.repeat(1000) + '"}\nunfinished', 'latin1');
  for (const size of [1, 2, 3, 7, 100, text.length]) {
    lines.length = 0;
    const chunks: Buffer[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.subarray(i, i + size));
    const q = fakeProcess();
    new AgentSession(q, (l) => lines.push(l.toString('latin1')), () => {}, () => assert.fail('no line is too long'));
    feed(q.stdout, chunks);
    assert.deepEqual(lines, ['{"a":1}', '', 'hé\xff', `{"b":"${'x'.repeat(1000)}"}`], `chunks of ${size}`);
  }
  p.end();
});

test('a long line costs about one copy of itself, not one per chunk', (t) => {
  const p = fakeProcess();
  const got: number[] = [];
  new AgentSession(p, (l) => got.push(l.length), () => {}, () => assert.fail('not too long'));
  const chunk = Buffer.alloc(32 * 1024, 0x41);
  const n = 500; // 16 MB in the chunks an SSH channel delivers
  // Spies on both ways the session can copy a Buffer (they call the real ones).
  const concat = t.mock.method(Buffer, 'concat');
  const from = t.mock.method(Buffer, 'from');
  for (let i = 0; i < n; i++) p.stdout.emit('data', chunk);
  p.stdout.emit('data', Buffer.from('\n'));
  const copied = [...concat.mock.calls, ...from.mock.calls].reduce((sum, c) => sum + (c.result as Buffer).length, 0);
  t.mock.restoreAll();
  assert.deepEqual(got, [n * chunk.length]);
  assert.ok(copied <= 3 * n * chunk.length, `copied ${copied} bytes for a line of ${n * chunk.length}`);
});

test('a line longer than MAX_AGENT_LINE is reported by its size and not kept; the lines after it arrive', () => {
  const p = fakeProcess();
  const lines: string[] = [];
  const tooLong: number[] = [];
  new AgentSession(p, (l) => lines.push(l.toString()), () => {}, (bytes) => tooLong.push(bytes));
  const chunk = Buffer.alloc(1024 * 1024, 0x42);
  const chunks = MAX_AGENT_LINE / chunk.length + 1;
  p.stdout.emit('data', Buffer.from('before\nBB'));
  for (let i = 0; i < chunks; i++) p.stdout.emit('data', chunk);
  p.stdout.emit('data', Buffer.from('BB\nafter\n'));
  assert.deepEqual(tooLong, [chunks * chunk.length + 4]);
  assert.deepEqual(lines, ['before', 'after']);
});

test('a line the task log cannot take stops the session quietly: reported once, channel ended, nothing more read', () => {
  const p = fakeProcess();
  let killed = 0;
  p.kill = () => void killed++;
  const taken: string[] = [];
  const broken: unknown[] = [];
  new AgentSession(
    p,
    (l) => {
      if (l.toString() === 'two') throw new Error('ENOSPC');
      taken.push(l.toString());
    },
    () => {},
    () => assert.fail('not too long'),
    (err) => broken.push(err),
  );
  p.stdout.emit('data', Buffer.from('one\ntwo\nthree\n'));
  p.stdout.emit('data', Buffer.from('four\n'));
  assert.deepEqual(taken, ['one']);
  assert.equal(broken.length, 1);
  assert.equal(killed, 1);
});

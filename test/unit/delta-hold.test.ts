// Secrets split across streamed deltas (DeltaHold over Claude's stream-json deltas): held while the
// text may be the start of a value, let go masked, each line still valid and in its own block.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { claudeDeltaPiece } from '../../src/agents/claude/parser.js';
import { acpDeltaPiece, codexDeltaPiece } from '../../src/agents/delta-piece.js';
import { readFileSync } from 'node:fs';
import { DeltaHold, maskOf, Redactor } from '../../src/tasks/redact.js';

const SECRET = 'sk-live-4f9Qx7tW2e';
const delta = (text: string, type = 'text_delta', field = 'text') =>
  Buffer.from(JSON.stringify({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type, [field]: text } }, session_id: 's', parent_tool_use_id: null, uuid: 'u' }));
const textOf = (line: Buffer) => {
  const d = (JSON.parse(line.toString()) as { event: { delta: Record<string, string> } }).event.delta;
  return d.text ?? d.thinking ?? d.partial_json ?? '';
};

/** Feeds pieces through a hold; returns the text of what was let go, in order, and the line count. */
function stream(pieces: string[], values = [SECRET], kind?: [string, string]) {
  const hold = new DeltaHold(new Redactor(values));
  const out: { line: Buffer; bytes: number }[] = [];
  const fed: Buffer[] = [];
  for (const p of pieces) {
    const line = kind ? delta(p, kind[0], kind[1]) : delta(p);
    fed.push(line);
    const piece = claudeDeltaPiece(line);
    assert.ok(piece);
    out.push(...hold.push(line, piece));
  }
  out.push(...hold.release());
  return { text: out.map((o) => textOf(o.line)).join(''), out, fed };
}

describe('streamed deltas and secrets', () => {
  test('a value split across three deltas is masked where it began; no piece is let go', () => {
    const { text, out, fed } = stream(['The key is sk-li', 've-4f9Q', 'x7tW2e, done.']);
    assert.equal(text, `The key is ${maskOf(SECRET)}, done.`);
    assert.equal(out.length, 3, 'one line out for each in');
    assert.deepEqual(out.map((o) => o.bytes), fed.map((l) => l.length), 'each with the length the agent wrote');
    for (const o of out) assert.ok(!o.line.toString().includes('4f9Q') && !o.line.toString().includes('sk-li'));
  });

  test('held only while the text may begin a value; a near miss goes out unchanged', () => {
    const hold = new DeltaHold(new Redactor([SECRET]));
    const a = delta('plain text, ');
    assert.equal(hold.push(a, claudeDeltaPiece(a)!).length, 1, 'nothing like a value: at once');
    const b = delta('then sk-li');
    assert.deepEqual(hold.push(b, claudeDeltaPiece(b)!), [], 'may begin the value: held');
    const c = delta('mited offer');
    const out = hold.push(c, claudeDeltaPiece(c)!);
    assert.deepEqual(out.map((o) => o.line), [b, c], 'not the value after all: both, untouched');
    assert.equal(hold.holding, false);
  });

  test('a value within one delta, two values, and a tool input streaming the value JSON-escaped', () => {
    assert.equal(stream([`a ${SECRET} b`]).text, `a ${maskOf(SECRET)} b`);
    const other = 'ghp_ABCDEFGHIJ1234';
    assert.equal(stream(['x ghp_ABC', `DEFGHIJ1234 and ${SECRET.slice(0, 5)}`, `${SECRET.slice(5)}!`], [SECRET, other]).text, `x ${maskOf(other)} and ${maskOf(SECRET)}!`);
    const quoted = 'pa"ss\\word-123';
    const json = JSON.stringify({ content: quoted }); // what partial_json pieces add up to
    const r = stream([json.slice(0, 14), json.slice(14)], [quoted], ['input_json_delta', 'partial_json']);
    assert.equal(r.text, JSON.stringify({ content: maskOf(quoted) }));
  });

  test('lines that are not deltas are not pieces', () => {
    assert.equal(claudeDeltaPiece(Buffer.from('{"type":"assistant","message":{"content":[]}}')), null);
    assert.equal(claudeDeltaPiece(Buffer.from('{"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"signature_delta","signature":"x"}}}')), null);
    assert.equal(claudeDeltaPiece(Buffer.from('not json "content_block_delta"')), null);
  });

  test('Codex and ACP deltas (recorded from the real CLIs): a value across two of them is masked', () => {
    const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/agents/${name}.jsonl`, import.meta.url), 'utf8').split('\n').filter(Boolean);
    for (const [name, pieceOf, value] of [
      ['codex', codexDeltaPiece, 'CODEX_WAS_HERE'],
      ['gemini', acpDeltaPiece, 'GEMINI_WAS_HERE'],
    ] as const) {
      const hold = new DeltaHold(new Redactor([value]));
      const out: Buffer[] = [];
      let deltas = 0;
      for (const l of fixture(name)) {
        const line = Buffer.from(l);
        const piece = pieceOf(line);
        if (!piece) continue;
        deltas++;
        out.push(...hold.push(line, piece).map((o) => o.line));
      }
      out.push(...hold.release().map((o) => o.line));
      const all = out.map((l) => pieceOf(l)!.text).join('');
      assert.ok(deltas >= 2, `${name}: streamed deltas in the fixture`);
      assert.ok(all.includes(maskOf(value)) && !all.includes(value.slice(0, 6)), `${name}: ${all}`);
    }
  });
});

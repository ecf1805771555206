// Review comments and rewinding, without Docker: the wire checks (paths, ranges, sizes), the text
// a review becomes, the tray as a log replays it (and the review event), the count cap, and which
// recorded commit a restart or a fork from a message uses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HARNESSES } from '../../src/agents/index.js';
import { AddReviewCommentReq, EditReviewCommentReq, MAX_REVIEW_COMMENTS, renderReview, type EventMessage } from '../../src/api/index.js';
import { Transcript } from '../../src/tasks/index.js';
import { addComment } from '../../src/tasks/review.js';
import { forkPrompt, headAfter, headBefore, restartPrompt, turnsOf } from '../../src/tasks/rewind.js';
import type { ReviewCommentRecord } from '../../src/tasks/records.js';

const good = { file: 'src/a.ts', side: 'new', startLine: 3, endLine: 5, quote: 'x', body: 'fix' } as const;

test('comment requests: relative paths inside the repository, sane ranges, bounded sizes', () => {
  assert.ok(AddReviewCommentReq.safeParse(good).success);
  assert.ok(AddReviewCommentReq.safeParse({ ...good, file: 'dir/ü é.ts' }).success, 'spaces and letters are names');
  for (const file of ['../a.ts', 'src/../../etc/passwd', '/etc/passwd', './a.ts', 'src/./a.ts', 'src//a.ts', 'a\u0000b', 'a\nb', '..', '']) {
    assert.equal(AddReviewCommentReq.safeParse({ ...good, file }).success, false, JSON.stringify(file));
  }
  for (const [startLine, endLine] of [[0, 1], [5, 4], [1, 501], [-1, 2], [1.5, 2]]) {
    assert.equal(AddReviewCommentReq.safeParse({ ...good, startLine, endLine }).success, false, `${startLine}-${endLine}`);
  }
  assert.ok(AddReviewCommentReq.safeParse({ ...good, startLine: 1, endLine: 500 }).success, '500 lines is the most');
  assert.equal(AddReviewCommentReq.safeParse({ ...good, side: 'left' }).success, false);
  assert.equal(AddReviewCommentReq.safeParse({ ...good, body: 'b'.repeat(8_001) }).success, false);
  assert.equal(AddReviewCommentReq.safeParse({ ...good, body: ' \n ' }).success, false, 'an empty comment');
  assert.equal(AddReviewCommentReq.safeParse({ ...good, quote: 'q'.repeat(16_001) }).success, false);
  assert.equal(EditReviewCommentReq.safeParse({ body: '' }).success, false);
});

test('a review renders as one text: file, lines, side, the quote fenced (a quote cannot end its fence), the comment', () => {
  const text = renderReview([
    { file: 'a.md', side: 'new', startLine: 2, endLine: 2, quote: 'use ```js\nx\n```', body: 'no fences here' },
    { file: 'b.ts', side: 'old', startLine: 1, endLine: 4, quote: '', body: 'why was this removed?' },
  ]);
  assert.match(text, /^Review of your changes: 2 comments on the diff\./);
  assert.match(text, /## 1\. a\.md, line 2 \(new version\)\n````\nuse ```js\nx\n```\n````\nno fences here/);
  assert.match(text, /## 2\. b\.ts, lines 1-4 \(old version, removed or unchanged\)\nwhy was this removed\?$/);
});

const meta = JSON.stringify({ type: 'caic_meta', version: 1, id: 't1', title: 'T', prompt: 'p', repos: [], harness: 'fake', model: 'fake-model', sudo: false, owner: '', ownerName: '', createdAt: '2026-11-01T00:00:00.000Z' });
const comment = (id: string, body = 'b'): ReviewCommentRecord => ({ id, file: 'a.ts', side: 'new', startLine: 1, endLine: 1, quote: 'q', body, createdAt: 't', updatedAt: 't' });

test('the tray is what the caic_review records leave; a send empties it and is the review event, the same on every replay', () => {
  const lines = [
    meta,
    JSON.stringify({ type: 'caic_review', op: 'add', comment: comment('c1') }),
    JSON.stringify({ type: 'caic_review', op: 'add', comment: comment('c2') }),
    JSON.stringify({ type: 'caic_review', op: 'add', comment: comment('c3') }),
    JSON.stringify({ type: 'caic_review', op: 'edit', id: 'c1', body: 'edited', at: 't2' }),
    JSON.stringify({ type: 'caic_review', op: 'delete', id: 'c2' }),
    // Damaged or foreign records change nothing.
    JSON.stringify({ type: 'caic_review', op: 'add', comment: { id: 'c9' } }),
    JSON.stringify({ type: 'caic_review', op: 'steal' }),
    JSON.stringify({ type: 'caic_head', event: 0, commit: 'a'.repeat(40) }),
    JSON.stringify({ type: 'caic_head', event: 3, commit: 'not a commit' }),
    JSON.stringify({ type: 'caic_head', event: 4, commit: 'b'.repeat(40) }),
  ];
  const replay = () => {
    const t = new Transcript(HARNESSES);
    const events = lines.flatMap((l) => t.ingest(l));
    return { t, events };
  };
  const a = replay();
  assert.deepEqual([...a.t.reviewComments.values()].map((c) => [c.id, c.body]), [['c1', 'edited'], ['c3', 'b']]);
  assert.deepEqual([...a.t.heads], [[4, 'b'.repeat(40)]]);
  assert.equal(a.events.length, 0, 'drafts are no transcript events');
  lines.push(JSON.stringify({ type: 'caic_review', op: 'send', comments: [...a.t.reviewComments.values()] }));
  const b = replay();
  assert.equal(b.t.reviewComments.size, 0);
  assert.deepEqual(b.events, [
    {
      kind: 'review',
      id: 1,
      ts: '2026-11-01T00:00:00.000Z',
      comments: [
        { file: 'a.ts', side: 'new', startLine: 1, endLine: 1, quote: 'q', body: 'edited' },
        { file: 'a.ts', side: 'new', startLine: 1, endLine: 1, quote: 'q', body: 'b' },
      ],
    },
  ]);
  assert.deepEqual(replay().events, b.events, 'deterministic');
});

test(`a review holds at most ${MAX_REVIEW_COMMENTS} unsent comments`, async () => {
  const t = new Transcript(HARNESSES);
  t.ingest(meta);
  for (let i = 0; i < MAX_REVIEW_COMMENTS; i++) t.ingest(JSON.stringify({ type: 'caic_review', op: 'add', comment: comment(`c${i}`) }));
  const records: unknown[] = [];
  const target = { id: 't1', state: 'waiting' as const, transcript: t, record: (r: unknown) => records.push(r) };
  await assert.rejects(addComment(target, { ...good, file: 'a.ts' }, () => Promise.resolve(new Set(['a.ts']))), { code: 'CONFLICT' });
  t.ingest(JSON.stringify({ type: 'caic_review', op: 'delete', id: 'c0' }));
  await addComment(target, { ...good, file: 'a.ts' }, () => Promise.resolve(new Set(['a.ts'])));
  assert.equal(records.length, 1);
  await assert.rejects(addComment(target, { ...good, file: 'b.ts' }, () => Promise.resolve(new Set(['a.ts']))), { code: 'BAD_REQUEST' }, 'only files of the diff');
  await assert.rejects(addComment({ ...target, state: 'purged' }, { ...good, file: 'a.ts' }, () => Promise.resolve(new Set(['a.ts']))), { code: 'CONFLICT' });
});

let n = 0;
const ev = <K extends EventMessage['kind']>(kind: K, fields: Record<string, unknown>): EventMessage => ({ id: ++n, ts: '', kind, ...fields }) as EventMessage;

test('the commit before a message and after its turn; the prompts a restart and a fork start with', () => {
  n = 0;
  const C = (c: string) => c.repeat(40);
  const events = [
    ev('userInput', { text: 'one', images: 0 }), // 1
    ev('text', { text: 'did one' }),
    ev('result', { result: 'done one' }), // 3
    ev('userInput', { text: 'two', images: 0 }), // 4
    ev('result', { result: '' }), // 5 (the answer falls back to nothing: no text)
    ev('system', { subtype: 'sync' }), // 6
    ev('userInput', { text: 'three', images: 0 }), // 7
  ];
  const turns = turnsOf(events);
  assert.deepEqual(turns.map((t) => [t.input.text, t.answer, t.resultId]), [['one', 'done one', 3], ['two', '', 5], ['three', '', 0]]);
  // Heads recorded: at message 1 (the agent had committed already: a late record), turn ends, a sync.
  const heads = new Map([[1, C('9')], [3, C('a')], [4, C('b')], [5, C('c')], [6, C('d')], [7, C('e')]]);
  assert.equal(headBefore(heads, 1, C('0')), C('0'), 'the first message: the branch as it started, not the racy record at the message');
  assert.equal(headBefore(heads, 4, C('0')), C('a'), 'the end of the turn before');
  assert.equal(headBefore(heads, 7, C('0')), C('d'), 'a sync between turns counts');
  assert.equal(headBefore(new Map(), 4, ''), null, 'nothing recorded');
  assert.equal(headAfter(heads, turns, 1), C('a'));
  assert.equal(headAfter(heads, turns, 4), C('c'));
  assert.equal(headAfter(heads, turns, 7), null, 'the turn still runs');
  assert.equal(headAfter(new Map([[4, C('b')]]), turns, 1), C('b'), 'no record at the result: the next message’s');
  assert.equal(restartPrompt('edited', []), 'edited');
  assert.match(restartPrompt('edited', turns.slice(0, 2)), /^edited\n\n<earlier-conversation>\n[\s\S]*User:\none\n\nYou answered:\ndone one\n\n---\n\nUser:\ntwo\n<\/earlier-conversation>$/);
  assert.match(forkPrompt('next', turns.slice(0, 1), { taskId: 'T', branch: 'caic-1' }), /^<earlier-conversation>\nThis task continues task T \(branch caic-1\)[\s\S]*User:\none[\s\S]*<\/earlier-conversation>\n\nnext$/);
});

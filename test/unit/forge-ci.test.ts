// The CI watcher (one poller per SHA, cached results, backoff, refresh on webhook news; timers
// driven by the test, no sleeps), issue strings, the PR body and CI summary, and caic_forge records
// read back by the transcript and from a log's tail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HARNESSES } from '../../src/agents/index.js';
import type { CIStatus, TaskForge } from '../../src/api/index.js';
import { CIWatcher, ciSummary, parseIssueSpec, prBody, type CIWatchTimers, type ForgeRepo } from '../../src/forge/index.js';
import { Transcript } from '../../src/tasks/index.js';

const repo: ForgeRepo = { kind: 'github', baseUrl: 'https://github.com', owner: 'acme', repo: 'app' };
const status = (sha: string, state: CIStatus['state']): CIStatus => ({ state, sha, checks: state === 'none' ? [] : [{ name: 'test', state: state === 'failure' ? 'failure' : state === 'success' ? 'success' : 'pending', url: '' }], updatedAt: '2026-11-30T00:00:00.000Z' });

/** Timers the test fires: each `set` is kept with its delay until `fire`. */
function manualTimers(): CIWatchTimers & { due: { fn: () => void; ms: number }[]; fire: () => Promise<void> } {
  const due: { fn: () => void; ms: number; h: object }[] = [];
  return {
    due,
    set(fn, ms) {
      const h = {};
      due.push({ fn, ms, h });
      return h;
    },
    clear(h) {
      const i = due.findIndex((d) => d.h === h);
      if (i >= 0) due.splice(i, 1);
    },
    async fire() {
      const now = due.splice(0);
      for (const d of now) d.fn();
      await new Promise((r) => setImmediate(r));
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

test('one poller per SHA whatever the number of watchers; every watcher hears each change once; polling stops when CI is final', async () => {
  const timers = manualTimers();
  const answers: CIStatus['state'][] = ['pending', 'pending', 'failure'];
  const calls: string[] = [];
  const w = new CIWatcher(
    (_r, sha) => {
      calls.push(sha);
      return Promise.resolve(status(sha, answers.shift() ?? 'failure'));
    },
    { timers, pendingMs: 15_000 },
  );
  const heard: string[][] = [[], [], []];
  const stops = heard.map((h) => w.watch(repo, 'abc', (s) => h.push(s.state)));
  await settle();
  assert.equal(calls.length, 1, 'three watchers, one poll');
  assert.equal(timers.due.length, 1, 'one timer for the SHA');
  assert.equal(timers.due[0]!.ms, 15_000, 'pending: the next poll in 15 s');
  await timers.fire();
  await timers.fire();
  assert.equal(calls.length, 3);
  // pending (once: the second pending is no change), then failure.
  for (const h of heard) assert.deepEqual(h, ['pending', 'failure']);
  assert.equal(timers.due.length, 0, 'final: no more polls');
  assert.equal(w.cached(repo, 'abc')?.state, 'failure');
  // A late watcher gets the cached result, without a poll.
  const late: string[] = [];
  w.watch(repo, 'abc', (s) => late.push(s.state));
  await settle();
  assert.deepEqual(late, ['failure']);
  assert.equal(calls.length, 3);
  stops.forEach((s) => s());
});

test('no checks reported yet: polls back off to the idle maximum; the last watcher leaving stops the poller', async () => {
  const timers = manualTimers();
  const w = new CIWatcher((_r, sha) => Promise.resolve(status(sha, 'none')), { timers, pendingMs: 10, idleMaxMs: 40 });
  const stop = w.watch(repo, 'idle', () => {});
  await settle();
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    delays.push(timers.due[0]!.ms);
    await timers.fire();
  }
  assert.deepEqual(delays, [20, 40, 40, 40]);
  stop();
  assert.equal(timers.due.length, 0);
  assert.equal(w.active, 0);
});

test('a webhook refresh polls at once, also a SHA whose CI was final (a re-run), and tells its watchers', async () => {
  const timers = manualTimers();
  let next: CIStatus['state'] = 'failure';
  let polls = 0;
  let clock = 0;
  const w = new CIWatcher((_r, sha) => (polls++, Promise.resolve(status(sha, next))), { timers, now: () => clock });
  const heard: string[] = [];
  w.watch(repo, 'r1', (s) => heard.push(s.state));
  await settle();
  assert.deepEqual(heard, ['failure']);
  next = 'success';
  clock += 1_000;
  await w.refresh(repo, 'r1');
  assert.deepEqual(heard, ['failure', 'success']);
  assert.equal(polls, 2);
});

test('a burst of news for one SHA: one read at once, one when the gap has passed; the gap grows while news keeps coming, and resets after quiet', async () => {
  const timers = manualTimers();
  let next: CIStatus['state'] = 'pending';
  let polls = 0;
  let clock = 10_000;
  const w = new CIWatcher((_r, sha) => (polls++, Promise.resolve(status(sha, next))), { timers, now: () => clock, minGapMs: 1_000, pendingMs: 15_000 });
  const heard: string[] = [];
  w.watch(repo, 'burst', (s) => heard.push(s.state));
  await settle();
  assert.equal(polls, 1);
  assert.equal(timers.due[0]!.ms, 15_000, 'the regular poll');
  next = 'failure';
  clock += 200;
  for (let i = 0; i < 50; i++) await w.refresh(repo, 'burst');
  assert.equal(polls, 1, 'no read within the gap');
  assert.deepEqual(timers.due.map((d) => d.ms), [800], 'one read due, at the end of the gap (the regular poll gave way)');
  clock += 800;
  await timers.fire();
  assert.equal(polls, 2);
  assert.deepEqual(heard, ['pending', 'failure'], 'the news of the burst arrives');
  // News keeps coming: the next deferred read waits twice as long.
  clock += 100;
  await w.refresh(repo, 'burst');
  assert.deepEqual(timers.due.map((d) => d.ms), [1_900]);
  clock += 1_900;
  await timers.fire();
  assert.equal(polls, 3);
  // Quiet for twice the gap (now 4 s): read at once, and the gap is back to 1 s.
  clock += 8_000;
  await w.refresh(repo, 'burst');
  assert.equal(polls, 4, 'after a quiet spell: read at once');
  clock += 500;
  await w.refresh(repo, 'burst');
  assert.deepEqual(timers.due.map((d) => d.ms), [500], 'the gap is 1 s again');
});

test('the cache is bounded: SHAs nobody watches go first', async () => {
  const timers = manualTimers();
  const w = new CIWatcher((_r, sha) => Promise.resolve(status(sha, 'success')), { timers, cacheSize: 3 });
  const stop = w.watch(repo, 'kept', () => {});
  await settle();
  for (const sha of ['a', 'b', 'c', 'd', 'e']) await w.refresh(repo, sha);
  assert.equal(w.cached(repo, 'kept')?.state, 'success', 'a watched SHA stays');
  assert.equal(w.cached(repo, 'a'), null, 'the oldest unwatched went');
  assert.equal(w.cached(repo, 'e')?.state, 'success');
  stop();
});

test('issue strings: short and URL forms; hostile ones refused', () => {
  assert.deepEqual(parseIssueSpec('acme/app#12'), { owner: 'acme', repo: 'app', number: 12, host: '' });
  assert.deepEqual(parseIssueSpec('#7'), { owner: '', repo: '', number: 7, host: '' });
  assert.deepEqual(parseIssueSpec('https://github.com/acme/app/issues/3'), { owner: 'acme', repo: 'app', number: 3, host: 'github.com' });
  assert.deepEqual(parseIssueSpec('https://gitlab.example.com/g/sub/app/-/issues/9'), { owner: 'g/sub', repo: 'app', number: 9, host: 'gitlab.example.com' });
  for (const bad of [
    'acme/app#0',
    'acme/app#99999999999',
    '../../etc#1',
    'acme/..#1',
    'acme/app#1; rm -rf /',
    '-x/app#1',
    'http://github.com/acme/app/issues/3',
    'https://user:tok@github.com/acme/app/issues/3',
    'https://github.com/acme/app/issues/3?x=1',
    'https://github.com/acme/app/pull/3',
    'file:///etc/passwd',
    'acme/app#1\n#2',
  ]) {
    assert.equal(typeof parseIssueSpec(bad), 'string', `refused: ${JSON.stringify(bad)}`);
  }
});

test('PR body: result, diff stat, Fixes #N for an issue, Created by caic; CI summary starts "CI failed" and keeps logs bounded', () => {
  const body = prBody('Did the thing.', [{ path: 'a.ts', added: 3, deleted: 1, binary: false }], { kind: 'github', owner: 'acme', repo: 'app', number: 5, url: '' });
  assert.match(body, /^Did the thing\./);
  assert.match(body, /1 file changed, \+3 -1/);
  assert.match(body, /\nFixes #5\n/);
  assert.match(body, /Created by caic$/);
  assert.doesNotMatch(prBody('x', [], null), /Fixes/);
  const forge: TaskForge = { kind: 'github', owner: 'acme', repo: 'app', number: 4, url: 'https://github.com/acme/app/pull/4', state: 'open', ci: null, fixAttempts: 0 };
  const log = Array.from({ length: 500 }, (_, i) => `line ${i}`).join('\n') + '\n```\nescape';
  const text = ciSummary(forge, 'abcdef0123456789', [{ name: 'build', url: 'https://x/1', log }], true);
  assert.match(text, /^CI failed on abcdef0123 for pull request #4/);
  assert.match(text, /- build \(https:\/\/x\/1\)/);
  assert.doesNotMatch(text, /line 299\n/, 'only the last 200 lines');
  assert.match(text, /line 499/);
  assert.equal(text.split('```').length, 3, 'a fence in the log does not end the block');
});

test('caic_forge records: the transcript keeps the PR and issue, a card becomes a system event; damaged records change nothing', () => {
  const t = new Transcript(HARNESSES);
  t.ingest(JSON.stringify({ type: 'caic_meta', version: 1, id: 't1', title: 'T', prompt: 'p', repos: [], harness: 'fake', model: 'm', sudo: false, owner: '', ownerName: '', createdAt: '2026-11-01T00:00:00.000Z' }));
  const forge: TaskForge = { kind: 'github', owner: 'acme', repo: 'app', number: 4, url: 'https://github.com/acme/app/pull/4', state: 'open', ci: status('s1', 'pending'), fixAttempts: 1 };
  t.ingest(JSON.stringify({ type: 'caic_forge', issue: { kind: 'github', owner: 'acme', repo: 'app', number: 5, url: 'u' } }));
  const ev = t.ingest(JSON.stringify({ type: 'caic_forge', forge, card: 'pr', message: 'Pull request #4 opened' }));
  assert.deepEqual(t.summary.forge, forge);
  assert.equal(t.summary.issue?.number, 5);
  assert.equal(ev.length, 1);
  assert.equal(ev[0]!.kind, 'system');
  assert.equal(ev[0]!.kind === 'system' && ev[0]!.subtype, 'pr');
  // A damaged record (a number that is not one, an unknown state) keeps what was known.
  t.ingest(JSON.stringify({ type: 'caic_forge', forge: { ...forge, number: 'x', state: 'hacked' } }));
  assert.deepEqual(t.summary.forge, forge);
  assert.equal(t.ingest(JSON.stringify({ type: 'caic_forge', forge: { ...forge, ci: status('s1', 'success') } })).length, 0, 'no card: no event');
  assert.equal(t.summary.forge?.ci?.state, 'success');
});

// Review comments, restart and fork from a message, with login on (two users): real daemon, real
// Docker, real git, the fake agent committing one file per turn. The review routes' guards
// (ownership, validation, a task that cannot take input), the review reaching the agent as one
// structured input, a fork from message 2 whose branch is at turn 2's commit, and an edit-and-
// restart whose new session starts with the edited message on the branch as it was before it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { renderReview, type EventMessage, type ReviewComment, type Task } from '../../src/api/index.js';
import { SseClient } from '../helpers/sse.js';
import { githubLoginToml, startStubForge, type StubForge, type StubUser } from '../helpers/stub-forge.js';
import { signInCookie } from '../helpers/login.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { waitUntil } from '../helpers/wait.js';

type Envelope = { error: { code: string; message: string } };
const HOST = 'caic.test';

/** Signs `user` in through the stand-in GitHub login; the session cookie (name=value). */
const signIn = (url: string, stub: StubForge, user: StubUser) => signInCookie(url, HOST, stub, user);

describe('review comments, restart and fork from a message', () => {
  let stub: StubForge;
  let env: TaskEnv;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  let task: Task;
  const api = (who: Record<string, string>, method: string, path: string, body?: unknown) => env.api(method, path, body, who);
  const hostGit = (...args: string[]) => execFileSync('git', args, { cwd: join(env.root, 'proj'), stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  const events = async (id: string): Promise<EventMessage[]> => {
    const s = new SseClient(`${env.d.url}/api/v1/tasks/${id}/events`, alice);
    await s.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'history');
    s.close();
    return s.messages<EventMessage>();
  };
  /** What the fake agent received, in order (it logs each prompt). */
  const prompts = async (id: string): Promise<string[]> => {
    const r = await env.execIn(id, 'cat /home/user/.fake-agent/prompts.jsonl 2>/dev/null || true', 'user');
    return r.output.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text);
  };
  const commitOf = async (id: string, message: string) => (await env.execIn(id, `cd /home/user/src/proj && git log --format=%H --grep='^${message}$'`, 'user')).output.trim();
  const turn = async (text: string) => {
    const r = await api(alice, 'POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text } });
    assert.equal(r.status, 200, r.body);
    await waitUntil(() => env.task(task.id, alice), (t) => t.state === 'waiting' && t.result === `Committed ${text.split(' ')[1]}.txt.`, { timeoutMs: 60_000, what: `turn "${text}"` });
  };

  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({ extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(stub, ['alice', 'bob'])}` });
    alice = { host: HOST, cookie: await signIn(env.d.url, stub, { id: 601, username: 'alice' }) };
    bob = { host: HOST, cookie: await signIn(env.d.url, stub, { id: 602, username: 'bob' }) };
  });
  after(async () => {
    try {
      await env?.[Symbol.asyncDispose]();
    } finally {
      await stub?.close();
    }
  });

  test('a three-turn task, each turn a commit', async () => {
    task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_COMMIT one' } }, alice);
    await waitUntil(() => env.task(task.id, alice), (t) => t.state === 'waiting' && t.numTurns === 1, { timeoutMs: 90_000, what: 'turn 1' });
    // A slow connection to the container (a loaded machine), for the daemon's HEAD records only:
    // bash reads ~/.bashrc for commands sshd runs, and only those records run `rev-parse`. A turn's
    // end must still be recorded before the next message moves the branch (seen under load: the
    // fork took turn 3's commit for message 2).
    const hook = `case "$BASH_EXECUTION_STRING" in *"rev-parse --verify -q HEAD"*) sleep 1.5;; esac`;
    const r = await env.execIn(task.id, `{ printf '%s\n' '${hook}'; cat ~/.bashrc 2>/dev/null; } > /tmp/bashrc && mv /tmp/bashrc ~/.bashrc`, 'user');
    assert.equal(r.code, 0, r.output);
    await turn('FAKE_COMMIT two');
    await turn('FAKE_COMMIT three');
    task = await env.task(task.id, alice);
    assert.deepEqual((await prompts(task.id)).slice(0, 3), ['FAKE_COMMIT one', 'FAKE_COMMIT two', 'FAKE_COMMIT three']);
  });

  test('review guards: ownership (404), validation (400), a file outside the diff (400)', async () => {
    const base = `/api/v1/tasks/${task.id}/review`;
    const good = { file: 'two.txt', side: 'new', startLine: 1, endLine: 1, quote: 'two', body: 'Say "deux" here.' };
    const added = await api(alice, 'POST', base, good);
    assert.equal(added.status, 200, added.body);
    const c = added.json<ReviewComment>();
    // Another user's task is no task: every review route answers 404 (a valid body, so only ownership can refuse).
    for (const [method, path, body] of [
      ['GET', base, undefined],
      ['POST', base, good],
      ['PATCH', `${base}/${c.id}`, { body: 'mine' }],
      ['DELETE', `${base}/${c.id}`, undefined],
      ['POST', `${base}/send`, undefined],
      ['POST', `/api/v1/tasks/${task.id}/fork`, { eventId: 1, prompt: { text: 'x' } }],
      ['POST', `/api/v1/tasks/${task.id}/restart-from`, { eventId: 1, prompt: { text: 'x' } }],
    ] as const) {
      const r = await api(bob, method, path, body);
      assert.equal(r.status, 404, `${method} ${path} as bob: ${r.status} ${r.body}`);
    }
    const bad: [string, Record<string, unknown>][] = [
      ['end before start', { ...good, startLine: 5, endLine: 2 }],
      ['line 0', { ...good, startLine: 0 }],
      ['range too long', { ...good, startLine: 1, endLine: 501 }],
      ['parent path', { ...good, file: '../two.txt' }],
      ['absolute path', { ...good, file: '/etc/passwd' }],
      ['dot path', { ...good, file: './two.txt' }],
      ['control character', { ...good, file: 'two\n.txt' }],
      ['comment too long', { ...good, body: 'x'.repeat(8_001) }],
      ['empty comment', { ...good, body: '   ' }],
      ['quote too long', { ...good, quote: 'q'.repeat(16_001) }],
      ['not in the diff', { ...good, file: 'README.md' }],
    ];
    for (const [what, body] of bad) {
      const r = await api(alice, 'POST', base, body);
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.body}`);
      assert.equal(r.json<Envelope>().error.code, 'BAD_REQUEST', what);
    }
    assert.equal((await api(alice, 'PATCH', `${base}/${c.id}`, { body: 'y'.repeat(8_001) })).status, 400, 'an edit too long');
    // Nothing the refusals sent changed the tray.
    const list = (await api(alice, 'GET', base)).json<{ comments: ReviewComment[] }>().comments;
    assert.deepEqual(list.map((x) => [x.id, x.body]), [[c.id, good.body]]);
    assert.equal((await api(alice, 'DELETE', `${base}/${c.id}`)).status, 200);
    assert.equal((await api(alice, 'GET', base)).json<{ comments: ReviewComment[] }>().comments.length, 0);
  });

  test('comments survive a daemon restart, can be edited, and reach the agent as one structured input', async () => {
    const base = `/api/v1/tasks/${task.id}/review`;
    const one = (await api(alice, 'POST', base, { file: 'two.txt', side: 'new', startLine: 1, endLine: 1, quote: 'two', body: 'first draft' })).json<ReviewComment>();
    const other = await api(alice, 'POST', base, { file: 'three.txt', side: 'new', startLine: 1, endLine: 1, quote: 'three', body: 'Rename to 3.txt' });
    assert.equal(other.status, 200, other.body);
    await env.restart();
    await env.waitState(task.id, 'waiting', { headers: alice });
    const edited = await api(alice, 'PATCH', `${base}/${one.id}`, { body: 'Say "deux" here.' });
    assert.equal(edited.status, 200, edited.body);
    const tray = (await api(alice, 'GET', base)).json<{ comments: ReviewComment[] }>().comments;
    assert.deepEqual(tray.map((x) => [x.file, x.body]), [['two.txt', 'Say "deux" here.'], ['three.txt', 'Rename to 3.txt']]);
    const sent = await api(alice, 'POST', `${base}/send`);
    assert.equal(sent.status, 200, sent.body);
    assert.deepEqual(sent.json(), { status: 'sent', sent: 2 });
    const expected = renderReview(tray);
    const received = await waitUntil(() => prompts(task.id), (p) => p.includes(expected), { what: 'the review at the agent', timeoutMs: 30_000 });
    assert.equal(received.filter((p) => p.includes('two.txt, line 1')).length, 1, 'one input for the whole review');
    assert.match(expected, /## 1\. two\.txt, line 1 \(new version\)\n```\ntwo\n```\nSay "deux" here\./);
    assert.equal((await api(alice, 'GET', base)).json<{ comments: ReviewComment[] }>().comments.length, 0, 'the tray is empty');
    await env.waitState(task.id, 'waiting', { headers: alice });
    const review = (await events(task.id)).find((e) => e.kind === 'review');
    assert.ok(review && review.kind === 'review', 'a review event in the transcript');
    assert.deepEqual(review.comments.map((x) => x.body), ['Say "deux" here.', 'Rename to 3.txt']);
  });

  test('fork from message 2: a new task whose branch is at turn 2’s commit', async () => {
    const inputs = (await events(task.id)).filter((e) => e.kind === 'userInput');
    const second = inputs[1]!;
    assert.equal(second.text, 'FAKE_COMMIT two');
    const two = await commitOf(task.id, 'two');
    assert.match(two, /^[0-9a-f]{40}$/);
    const r = await waitUntil(
      () => api(alice, 'POST', `/api/v1/tasks/${task.id}/fork`, { eventId: second.id, prompt: { text: 'carry on from here' } }),
      (x) => x.status !== 409,
      { what: 'the fork (once turn 2’s commit is recorded)', timeoutMs: 20_000 },
    );
    assert.equal(r.status, 200, r.body);
    const fork = r.json<Task>();
    assert.notEqual(fork.id, task.id);
    const forked = await waitUntil(() => env.task(fork.id, alice), (t) => t.state === 'waiting', { what: 'the fork running', timeoutMs: 90_000 });
    const branch = forked.repos[0]!.branch;
    assert.ok(branch && branch !== task.repos[0]!.branch, `a new branch (${branch})`);
    assert.equal(hostGit('rev-parse', `refs/heads/${branch}`), two, "the host's branch is at turn 2's commit");
    const head = (await env.execIn(fork.id, 'cd /home/user/src/proj && git rev-parse HEAD && ls', 'user')).output;
    assert.ok(head.startsWith(two), `the fork's container starts at turn 2's commit: ${head}`);
    assert.match(head, /two\.txt/);
    assert.doesNotMatch(head, /three\.txt/);
    const first = (await prompts(fork.id))[0]!;
    assert.match(first, /<earlier-conversation>[\s\S]*FAKE_COMMIT one[\s\S]*FAKE_COMMIT two[\s\S]*<\/earlier-conversation>\n\ncarry on from here$/);
    assert.doesNotMatch(first, /FAKE_COMMIT three/, 'the conversation stops at the fork');
  });

  test('edit and restart from message 3: the branch goes back, the new session starts with the edited message', async () => {
    const third = (await events(task.id)).filter((e) => e.kind === 'userInput')[2]!;
    assert.equal(third.text, 'FAKE_COMMIT three');
    const two = await commitOf(task.id, 'two');
    await env.execIn(task.id, 'cd /home/user/src/proj && echo wip > wip.txt', 'user');
    const r = await api(alice, 'POST', `/api/v1/tasks/${task.id}/restart-from`, { eventId: third.id, prompt: { text: 'FAKE_COMMIT three-edited' } });
    assert.equal(r.status, 200, r.body);
    await waitUntil(() => env.task(task.id, alice), (t) => t.state === 'waiting' && t.result === 'Committed three-edited.txt.', { what: 'the restarted turn', timeoutMs: 60_000 });
    const evs = await events(task.id);
    const starts = evs.filter((e) => e.kind === 'system' && e.subtype === 'session_start');
    const last = starts[starts.length - 1]!;
    assert.equal((last as { detail: { reason: string } }).detail.reason, 'restart');
    const firstInput = evs.find((e) => e.id > last.id && e.kind === 'userInput');
    assert.ok(firstInput && firstInput.kind === 'userInput');
    assert.ok(firstInput.text.startsWith('FAKE_COMMIT three-edited\n\n<earlier-conversation>'), firstInput.text.slice(0, 200));
    const got = await prompts(task.id);
    assert.equal(got[got.length - 1], firstInput.text, 'what the agent received');
    const log = (await env.execIn(task.id, 'cd /home/user/src/proj && git log --format=%s -3 && git rev-parse HEAD~1 && ls && git stash list', 'user')).output;
    assert.match(log, /^three-edited\ntwo\none\n/, 'turn 3 was undone, the edited turn committed on top of turn 2');
    assert.ok(log.includes(two), 'the new commit sits on turn 2’s');
    assert.doesNotMatch(log, /^three\.txt$/m);
    assert.match(log, /stash@\{0\}: On caic-\d+: caic: before restarting from message/, 'uncommitted work was stashed, not lost');
  });

  test('a task that cannot take input: sending its review answers 409 and keeps the comments', async () => {
    const base = `/api/v1/tasks/${task.id}/review`;
    assert.equal((await api(alice, 'POST', base, { file: 'two.txt', side: 'new', startLine: 1, endLine: 1, quote: 'two', body: 'later' })).status, 200);
    assert.equal((await api(alice, 'POST', `/api/v1/tasks/${task.id}/stop`)).status, 200);
    const r = await api(alice, 'POST', `${base}/send`);
    assert.equal(r.status, 409, r.body);
    assert.equal(r.json<Envelope>().error.code, 'CONFLICT');
    assert.match(r.json<Envelope>().error.message, /cannot send a review to a task in state stopped/, 'refused by the input rule (canDo), before anything is tried');
    assert.equal((await api(alice, 'GET', base)).json<{ comments: ReviewComment[] }>().comments.length, 1, 'the comment stays for later');
    const restart = await api(alice, 'POST', `/api/v1/tasks/${task.id}/restart-from`, { eventId: 1, prompt: { text: 'x' } });
    assert.equal(restart.status, 409, restart.body);
  });
});

// Pull requests and CI end to end: a fake-agent task in a real container, its repository's origin on
// the forge stand-in (real git over smart HTTP, GitHub's REST routes). Sync as PR → CI fails (a check
// run with an Actions log) → the summary reaches the agent → its fix is pushed → CI green → merged.
// Also: continuing an existing branch (its commits there; a push never clobbers others' commits),
// starting from an issue (prompt, `Fixes #N`), and the guards (issue strings, another user's task).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EventMessage, Repo, SyncResp, Task } from '../../src/api/index.js';
import { actionsLog, startForgeStandin, type ForgeStandin } from '../helpers/forge-standin.js';
import { signIn } from '../helpers/login.js';
import { githubLoginToml } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { until } from '../helpers/wait.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
/** git that talks to the stand-in, which answers from this process: never a blocking call. */
const gitNet = async (cwd: string, ...args: string[]) => (await promisify(execFile)('git', args, { cwd })).stdout;
const TOKEN = 'ghp_standinToken0000000000000000000001';
/** CI polls fast here: the test waits for what it set on the stand-in, never for a fixed time. */
const FAST = { watch: { pendingMs: 100, idleMaxMs: 200 }, repoCIMs: 500 };

/** Points the root's repository at the stand-in (token in the remote URL, as a host's git would hold it). */
async function onStandin(env: TaskEnv, forge: ForgeStandin, headers: Record<string, string> = {}): Promise<string> {
  const clone = await forge.createRepo('acme', 'proj', { from: env.origin });
  const host = join(env.root, 'proj');
  const url = new URL(clone);
  url.username = 'x-access-token';
  url.password = TOKEN;
  git(host, 'remote', 'set-url', 'origin', url.toString());
  await gitNet(host, 'fetch', '-q', 'origin');
  const r = await env.api('POST', '/api/v1/server/repos/scan', undefined, headers);
  assert.equal(r.status, 200, r.body);
  const repo = r.json<Repo[]>().find((x) => x.name === 'proj');
  assert.equal(repo?.forge, 'github', JSON.stringify(repo));
  return host;
}

/** The task's history as a connecting client gets it. */
async function events(env: TaskEnv, id: string): Promise<EventMessage[]> {
  const s = env.stream(id);
  await s.waitFor((ev) => ev.some((e) => e.event === 'ready'), 30_000, 'ready');
  const out = s.messages<EventMessage>();
  s.close();
  return out;
}

describe('a task pull request: CI fails, the agent fixes it, CI passes, caic merges', { timeout: 240_000 }, () => {
  let forge: ForgeStandin;
  let env: TaskEnv;
  before(async () => {
    forge = await startForgeStandin();
    forge.addToken(TOKEN, 'alice');
    env = await taskEnv({
      extraConfig: `[github]\nurl = "${forge.url}"\napi_url = "${forge.githubApi}"\n[github.pat]\ntoken = "${TOKEN}"\n[forge]\nmax_fix_attempts = 2\n`,
      daemon: { forge: FAST },
    });
    await onStandin(env, forge);
    forge.setPermission('acme/proj', 'alice', 'write');
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
    await forge?.close();
  });

  test('sync as PR, CI failure to the agent, fix pushed, green, squash-merged', async () => {
    const prefs = await env.api('POST', '/api/v1/server/preferences', { settings: { autoFixOnCIFailure: true, autoMergeOnGreen: true } });
    assert.equal(prefs.status, 200, prefs.body);
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_CI make the work' } });
    const ready = await env.waitState(task.id, 'waiting');
    const branch = ready.repos[0]!.branch;

    const r = await env.post(task.id, 'sync', { target: 'pr' });
    assert.equal(r.status, 200, r.body);
    const sync = r.json<SyncResp>();
    assert.equal(sync.status, 'synced');
    assert.ok(sync.forge, 'the response carries the pull request');
    const pr = forge.repo('acme/proj').pulls.find((p) => p.number === sync.forge!.number)!;
    assert.equal(pr.head, branch);
    assert.equal(pr.base, 'main');
    assert.equal(pr.title, ready.title);
    assert.match(pr.body, /^Wrote CI_WORK\.md\./);
    assert.match(pr.body, /1 file changed/);
    assert.match(pr.body, /Created by caic$/);
    assert.equal(sync.forge.url, `${forge.url}/acme/proj/pull/${pr.number}`);

    // CI fails on the pushed head, with a GitHub Actions log.
    const head1 = await forge.head('acme/proj', branch);
    forge.setCheckRuns('acme/proj', head1, [
      {
        name: 'unit tests',
        status: 'completed',
        conclusion: 'failure',
        actions: { steps: [{ name: 'npm test', conclusion: 'failure' }], log: actionsLog([{ name: 'npm test', lines: ['running 3 tests'], error: 'AssertionError: expected 1 to equal 2' }]) },
      },
    ]);
    // The fix loop: the summary reaches the agent, its fix is pushed as a new head.
    const head2 = await until(async () => {
      const h = await forge.head('acme/proj', branch);
      return h !== head1 ? h : null;
    }, 'the fix pushed as a new head', 90_000, 100);
    const ev = await events(env, task.id);
    const input = ev.find((e) => e.kind === 'userInput' && e.text.startsWith('CI failed'));
    assert.ok(input && input.kind === 'userInput', 'the CI summary was sent to the agent');
    assert.match(input.text, /unit tests/);
    assert.match(input.text, /AssertionError: expected 1 to equal 2/);
    assert.ok(ev.some((e) => e.kind === 'system' && e.subtype === 'ci'), 'a CI card');
    assert.ok(ev.some((e) => e.kind === 'log' && /CI fix attempt 1 of 2/.test(e.message)), 'the attempt is in the transcript');
    assert.ok(ev.some((e) => e.kind === 'log' && /using the pat token \*\*\*\*0001/.test(e.message)), 'the token used, masked');
    assert.ok(!ev.some((e) => e.kind === 'log' && e.message.includes(TOKEN)), 'never the token itself');
    assert.match(git(forge.repo('acme/proj').path, 'show', `${head2}:CI_WORK.md`), /fix/);
    assert.equal((await env.task(task.id)).forge?.fixAttempts, 1);

    // Green: merged (squash), and the task says so.
    forge.setCheckRuns('acme/proj', head2, [{ name: 'unit tests', status: 'completed', conclusion: 'success' }]);
    const merged = await until(async () => {
      const t = await env.task(task.id);
      return t.forge?.state === 'merged' ? t : null;
    }, 'the pull request merged', 60_000, 100);
    assert.equal(merged.forge?.ci?.state, 'success');
    const done = forge.repo('acme/proj').pulls.find((p) => p.number === pr.number)!;
    assert.ok(done.merged, 'merged on the forge');
    assert.match(git(forge.repo('acme/proj').path, 'log', '-1', '--format=%s', 'main'), new RegExp(ready.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const after = await events(env, task.id);
    assert.ok(after.some((e) => e.kind === 'system' && e.subtype === 'merge'), 'a merge card');
    await until(async () => (await events(env, task.id)).some((e) => e.kind === 'userInput' && /CI passed.*squash-merged/s.test(e.text)), 'the agent told of the merge', 30_000, 200);

    // The PR survives a restart of the daemon (from the log's tail, no replay).
    await env.restart();
    const back = await env.task(task.id);
    assert.equal(back.forge?.number, pr.number);
    assert.equal(back.forge?.state, 'merged');
  });

  test('a pull request opened just before a restart, its CI never read, is watched after the restart', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_CI before a restart' } });
    const ready = await env.waitState(task.id, 'waiting');
    // Every CI read fails until the restart: the task holds the pull request and no CI.
    const ciReads = /\/commits\/[^/]+\/(check-runs|status)$/;
    forge.failNext(404, 1_000_000, 'Not Found', ciReads);
    const r = await env.post(task.id, 'sync', { target: 'pr' });
    assert.equal(r.status, 200, r.body);
    assert.equal((await env.task(task.id)).forge?.ci, null);
    await env.restart();
    forge.failNext(404, 0);
    const head = await forge.head('acme/proj', ready.repos[0]!.branch);
    forge.setCheckRuns('acme/proj', head, [{ name: 'lint', status: 'completed', conclusion: 'failure' }]);
    const back = await until(async () => {
      const t = await env.task(task.id);
      return t.forge?.ci?.state === 'failure' ? t : null;
    }, 'the CI of the pull request after the restart', 30_000, 100);
    assert.equal(back.forge?.ci?.sha, head);
  });

  test("the repositories list carries the default branch's CI, learned in the background", async () => {
    const main = await forge.head('acme/proj', 'main');
    forge.setCheckRuns('acme/proj', main, [{ name: 'build', status: 'completed', conclusion: 'success' }]);
    const repo = await until(async () => {
      const list = (await env.api('GET', '/api/v1/server/repos')).json<Repo[]>();
      const p = list.find((x) => x.name === 'proj');
      return p?.ci?.sha === main && p.ci.state === 'success' ? p : null;
    }, "the default branch's CI in the list", 30_000, 100);
    assert.equal(repo.ci?.checks[0]?.name, 'build');
  });

  test('a task continues an existing branch: its commits are there, and a push never clobbers commits pushed meanwhile', async () => {
    // Someone's branch on the forge.
    const other = join(env.dir.path, 'other');
    await gitNet(env.dir.path, 'clone', '-q', forge.cloneUrl('acme/proj'), other);
    git(other, 'checkout', '-q', '-b', 'feature-x');
    await writeFile(join(other, 'FEATURE.md'), 'feature work\n');
    git(other, 'add', '-A');
    git(other, '-c', 'user.name=o', '-c', 'user.email=o@o', 'commit', '-qm', 'feature work');
    await gitNet(other, 'push', '-q', `http://x:${TOKEN}@${new URL(forge.url).host}/acme/proj.git`, 'feature-x');
    const featureHead = git(other, 'rev-parse', 'HEAD').trim();

    const task = await env.create({ repos: [{ name: 'proj', branch: 'feature-x' }], harness: 'fake', prompt: { text: 'FAKE_CI continue' } });
    const ready = await env.waitState(task.id, 'waiting');
    assert.equal(ready.repos[0]!.branch, 'feature-x', 'no caic-N branch');
    const seen = await env.execIn(task.id, 'cat /home/user/src/proj/FEATURE.md', 'user');
    assert.equal(seen.output.trim(), 'feature work');

    const first = await env.post(task.id, 'sync', {});
    assert.equal(first.status, 200, first.body);
    assert.equal(first.json<SyncResp>().status, 'synced');
    const pushed = await forge.head('acme/proj', 'feature-x');
    assert.equal(git(forge.repo('acme/proj').path, 'rev-parse', `${pushed}~1`).trim(), featureHead, 'the task commit sits on the branch');

    // A colleague pushes to the branch; the agent changes more; caic must not overwrite their commit.
    await gitNet(other, 'pull', '-q', '--rebase=false', `http://x:${TOKEN}@${new URL(forge.url).host}/acme/proj.git`, 'feature-x');
    await writeFile(join(other, 'COLLEAGUE.md'), 'theirs\n');
    git(other, 'add', '-A');
    git(other, '-c', 'user.name=o', '-c', 'user.email=o@o', 'commit', '-qm', 'colleague');
    await gitNet(other, 'push', '-q', `http://x:${TOKEN}@${new URL(forge.url).host}/acme/proj.git`, 'feature-x');
    const theirs = git(other, 'rev-parse', 'HEAD').trim();
    await env.execIn(task.id, 'echo more >> /home/user/src/proj/CI_WORK.md', 'user');
    const second = await env.post(task.id, 'sync', {});
    assert.equal(second.status, 409, second.body);
    assert.match(second.body, /has commits caic has not seen/);
    assert.equal(await forge.head('acme/proj', 'feature-x'), theirs, "the colleague's commit stays");

    const missing = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj', branch: 'no-such-branch' }], harness: 'fake', prompt: { text: 'x' } });
    assert.equal(missing.status, 400, missing.body);
  });

  test('a task from an issue: title, body and comments are the prompt; the PR says Fixes #N; bad issues are refused and create nothing', async () => {
    const n = forge.addIssue('acme/proj', { title: 'Crash on start', body: 'FAKE_CI it crashes when started', author: 'bob', comments: [{ author: 'carol', body: 'same here on Linux' }] });
    const before = (await env.api('GET', '/api/v1/tasks')).json<Task[]>().length;
    for (const [issue, status] of [
      ['acme/proj#999', 404],
      ['other/repo#1', 400],
      ['acme/proj#1; rm -rf /', 400],
      ['https://evil.example/acme/proj/issues/1', 400],
      [`https://x:y@${new URL(forge.url).host}/acme/proj/issues/${n}`, 400],
    ] as const) {
      const r = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', issue, prompt: { text: '' } });
      assert.equal(r.status, status, `${issue}: ${r.body}`);
    }
    assert.equal((await env.api('GET', '/api/v1/tasks')).json<Task[]>().length, before, 'nothing created');

    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', issue: `acme/proj#${n}`, prompt: { text: 'Keep it small.' } });
    for (const part of ['Crash on start', 'it crashes when started', 'carol', 'same here on Linux', 'Keep it small.']) assert.ok(task.initialPrompt.includes(part), `prompt has ${part}`);
    // main moved (the merge above) since the host last fetched it: the container started from the
    // old base is replaced, and its death must not stop the task.
    await env.waitState(task.id, 'waiting');
    const r = await env.post(task.id, 'sync', { target: 'pr' });
    assert.equal(r.status, 200, r.body);
    const pr = forge.repo('acme/proj').pulls.find((p) => p.number === r.json<SyncResp>().forge!.number)!;
    assert.match(pr.body, new RegExp(`\\nFixes #${n}\\n`));
  });
});

describe("another user's task cannot be synced as a pull request", { timeout: 180_000 }, () => {
  const HOST = 'caic.test';
  let forge: ForgeStandin;
  let env: TaskEnv;
  before(async () => {
    forge = await startForgeStandin();
    env = await taskEnv({ extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(forge.stub, ['octo', 'mallory']).replace(/api_url = ".*"/, `api_url = "${forge.githubApi}"`)}` });
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
    await forge?.close();
  });

  test("mallory's sync of octo's task answers 404 and opens no pull request", async () => {
    const octo = await signIn(env.d.url, HOST, forge.stub, { id: 4242, username: 'octo', name: 'Octo Cat' });
    const mallory = await signIn(env.d.url, HOST, forge.stub, { id: 7, username: 'mallory', name: 'Mallory' });
    forge.addToken(TOKEN, 'octo');
    await onStandin(env, forge, octo);
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_CI' } }, octo);
    assert.equal(created.status, 200, created.body);
    const task = created.json<Task>();
    await env.waitState(task.id, 'waiting', { headers: octo });
    const r = await env.api('POST', `/api/v1/tasks/${task.id}/sync`, { target: 'pr' }, mallory);
    assert.equal(r.status, 404, r.body);
    assert.equal(forge.repo('acme/proj').pulls.length, 0);
    // octo may not push to acme/proj (no permission on the forge yet): a clear 409, never the token.
    const refused = await env.api('POST', `/api/v1/tasks/${task.id}/sync`, { target: 'pr' }, octo);
    assert.equal(refused.status, 409, refused.body);
    assert.match(refused.body, /pushing caic-1 to origin failed/);
    assert.ok(!refused.body.includes(TOKEN), 'no credentials in the answer');
    assert.equal(forge.repo('acme/proj').pulls.length, 0);
    assert.equal(await forge.head('acme/proj', (await env.api('GET', `/api/v1/tasks/${task.id}`, undefined, octo)).json<Task>().repos[0]!.branch), '', 'nothing pushed');
  });
});

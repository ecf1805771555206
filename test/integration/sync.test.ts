// Sync end to end: the commit of the agent's work is authored by the signed-in user (else the
// host's git identity) with the agent's summary as its message, and no host ref fetched from a
// container outlives the sync or the task. Real daemon, real Docker, the fake agent, real git.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { SyncResp, Task, UsageResp } from '../../src/api/index.js';
import { engineRuntime } from '../helpers/engine.js';
import { signIn } from '../helpers/login.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd }).toString();
/** Refs under refs/remotes/ that are not the repository's own remote: what syncs fetched from containers. */
const containerRefs = (repo: string) =>
  git(repo, 'for-each-ref', '--format=%(refname)', 'refs/remotes/')
    .split('\n')
    .filter((r) => r && !r.startsWith('refs/remotes/origin/'));

async function waitState(env: TaskEnv, id: string, want: string, headers: Record<string, string> = {}): Promise<Task> {
  for (const deadline = Date.now() + 90_000; ; await new Promise((r) => setTimeout(r, 50))) {
    const t = (await env.api('GET', `/api/v1/tasks/${id}`, undefined, headers)).json<Task>();
    if (t.state === want) return t;
    assert.notEqual(t.state, 'failed', `task failed: ${t.error}`);
    assert.ok(Date.now() < deadline, `task ${id} reached ${want} (is ${t.state})`);
  }
}

async function inContainer(env: TaskEnv, taskId: string, command: string): Promise<void> {
  const rt = await engineRuntime(env.d.configDir);
  try {
    const handle = (await rt.list()).find((c) => c.taskId === taskId)!;
    await rt.exec(handle, command);
  } finally {
    rt.close();
  }
}

describe('sync without login', () => {
  let env: TaskEnv;
  let task: Task;
  let host: string;
  before(async () => {
    env = await taskEnv();
    host = `${env.root}/proj`;
    git(host, 'config', 'user.name', 'Ada Lovelace');
    git(host, 'config', 'user.email', 'ada@example.com');
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
  });

  test("the commit is by the host's git identity, with the agent's summary as its message; no container ref stays", async () => {
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_DEMO please add notes' } });
    assert.equal(created.status, 200, created.body);
    task = created.json<Task>();
    const done = await waitState(env, task.id, 'waiting');
    assert.equal(done.result, 'Added FAKE_NOTES.md.');
    // A pull request where there is no forge is refused before anything is pushed.
    const pr = await env.api('POST', `/api/v1/tasks/${task.id}/sync`, { target: 'pr' });
    assert.equal(pr.status, 409, pr.body);
    assert.match(pr.body, /not on GitHub or GitLab/);
    assert.equal(git(env.origin, 'branch', '--list', 'caic-1').trim(), '', 'nothing pushed');
    const r = await env.api('POST', `/api/v1/tasks/${task.id}/sync`, {});
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json<SyncResp>().status, 'synced');
    const origin = env.origin;
    assert.equal(git(origin, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', 'caic-1').trim(), 'Ada Lovelace <ada@example.com>|Ada Lovelace <ada@example.com>');
    assert.equal(git(origin, 'log', '-1', '--format=%B', 'caic-1').trim(), 'Added FAKE_NOTES.md.');
    assert.deepEqual(containerRefs(host), [], 'no refs/remotes/<container>/ left after a sync');
    // Nothing the user needs went with it: the host tracks what was pushed.
    assert.equal(git(host, 'rev-parse', 'refs/remotes/origin/caic-1').trim(), git(origin, 'rev-parse', 'caic-1').trim());
  });

  test('a blocked sync and a forced one leave no container ref either', async () => {
    await inContainer(env, task.id, `cd ~/src/proj && printf 'aws_key = "%s"\\n' AKIAIOSFODNN7EXAMPLF > config.ini`);
    const blocked = (await env.api('POST', `/api/v1/tasks/${task.id}/sync`, {})).json<SyncResp>();
    assert.equal(blocked.status, 'blocked');
    assert.deepEqual(containerRefs(host), []);
    const forced = (await env.api('POST', `/api/v1/tasks/${task.id}/sync`, { force: true })).json<SyncResp>();
    assert.equal(forced.status, 'synced');
    assert.deepEqual(containerRefs(host), []);
    // The blocked sync committed config.ini (with the summary again); the forced one pushed it.
    assert.equal(git(env.origin, 'log', '-1', '--format=%an|%s', 'caic-1').trim(), 'Ada Lovelace|Added FAKE_NOTES.md.');
    assert.match(git(env.origin, 'show', 'caic-1:config.ini'), /AKIA/);
  });

  test("purge removes container refs a crash or an older caic left behind, and nothing of the user's", async () => {
    const t = (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>();
    const sha = git(host, 'rev-parse', 'refs/remotes/origin/caic-1').trim();
    git(host, 'update-ref', `refs/remotes/${t.container}/caic-1`, sha);
    git(host, 'update-ref', `refs/remotes/${t.container}/other`, sha);
    git(host, 'update-ref', 'refs/remotes/caic-proj-caic-99-0a1b2c3d/caic-99', sha); // a task purged long ago
    // The user's own remote, even one named like ours, is theirs.
    git(host, 'remote', 'add', 'caic-mirror', env.origin);
    git(host, 'update-ref', 'refs/remotes/caic-mirror/main', sha);
    git(host, 'update-ref', 'refs/remotes/upstream-gone/main', sha);
    assert.equal(containerRefs(host).length, 5);
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/purge`)).status, 200);
    assert.deepEqual(containerRefs(host), ['refs/remotes/caic-mirror/main', 'refs/remotes/upstream-gone/main'], 'no refs/remotes/<container>/ left after purge');
    assert.equal(git(host, 'rev-parse', 'refs/remotes/origin/caic-1').trim(), sha, 'the remote-tracking ref stays');
  });
});

describe('signed-in users: sync commits and usage are their own', () => {
  const HOST = 'caic.test';
  let stub: StubForge;
  let env: TaskEnv;
  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({ extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(stub, ['octo', 'mallory'])}` });
    git(`${env.root}/proj`, 'config', 'user.name', 'Host Identity');
    git(`${env.root}/proj`, 'config', 'user.email', 'host@example.com');
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test("the sync commit is by the signed-in user's profile (no-reply address without a public email)", async () => {
    const octo = await signIn(env.d.url, HOST, stub, { id: 4242, username: 'octo', name: 'Octo Cat' });
    const mallory = await signIn(env.d.url, HOST, stub, { id: 7, username: 'mallory', name: 'Mallory', email: 'mallory@example.com' });
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_DEMO' } }, octo);
    assert.equal(created.status, 200, created.body);
    const task = created.json<Task>();
    await waitState(env, task.id, 'waiting', octo);
    const r = await env.api('POST', `/api/v1/tasks/${task.id}/sync`, {}, octo);
    assert.equal(r.status, 200, r.body);
    assert.equal(git(env.origin, 'log', '-1', '--format=%an <%ae>', 'caic-1').trim(), 'Octo Cat <4242+octo@users.noreply.127.0.0.1>');

    // Usage: octo's turn is octo's; mallory has none.
    const mine = (await env.api('GET', '/api/v1/usage', undefined, octo)).json<UsageResp>();
    const theirs = (await env.api('GET', '/api/v1/usage', undefined, mallory)).json<UsageResp>();
    // Summed over the days: the run may cross midnight UTC.
    const sum = (u: UsageResp) => u.days.reduce((a, d) => ({ turns: a.turns + d.turns, costUSD: a.costUSD + d.costUSD, agentMs: a.agentMs + d.agentMs }), { turns: 0, costUSD: 0, agentMs: 0 });
    assert.equal(sum(mine).turns, 1);
    assert.ok(sum(mine).costUSD > 0 && sum(mine).agentMs > 0, JSON.stringify(sum(mine)));
    assert.deepEqual(sum(theirs), { turns: 0, costUSD: 0, agentMs: 0 });
    assert.equal((await env.api('GET', '/api/v1/usage', undefined, { host: HOST })).status, 401);
  });
});

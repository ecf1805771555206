// The GitLab client against the forge stand-in: merge requests on a nested group project, pipelines and
// their jobs, job traces trimmed, notes, members, pagination by x-next-page, errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { ForgeError, GitLabClient, type ForgeRepo } from '../../src/forge/index.js';
import { choice } from '../../src/forge/tokens.js';
import { startForgeStandin, type ForgeStandin } from '../helpers/forge-standin.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';

const execFileP = promisify(execFile);
const TOKEN = 'glpat-standinTokenForTests012345';
// Asynchronous: the stand-in answers git from this same process.
async function git(cwd: string, ...args: string[]): Promise<string> {
  const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' };
  return (await execFileP('git', args, { cwd, env })).stdout.trim();
}

describe('GitLab client on the stand-in', () => {
  let forge: ForgeStandin;
  let dir: TempDir;
  let work: string;
  let gl: GitLabClient;
  const repo: ForgeRepo = { kind: 'gitlab', baseUrl: '', owner: 'group/sub', repo: 'app' };

  before(async () => {
    forge = await startForgeStandin();
    dir = await tempDir('caic-forge-gl-');
    work = `${dir.path}/work`;
    await git(dir.path, 'init', '--quiet', '--initial-branch=main', work);
    await dir.file('work/README.md', '# app\n');
    await git(work, 'add', '.');
    await git(work, 'commit', '--quiet', '-m', 'init');
    const url = await forge.createRepo('group/sub', 'app', { from: work, kind: 'gitlab' });
    forge.addToken(TOKEN, 'dev');
    forge.setPermission('group/sub/app', 'dev', 'write');
    repo.baseUrl = forge.url;
    await git(work, 'checkout', '--quiet', '-b', 'caic-7');
    await dir.file('work/x.txt', 'x\n');
    await git(work, 'add', '.');
    await git(work, 'commit', '--quiet', '-m', 'x');
    await git(work, 'push', '--quiet', url.replace('http://', `http://oauth2:${TOKEN}@`), 'caic-7');
    gl = new GitLabClient({ url: forge.gitlabUrl, token: choice(TOKEN, 'pat') });
  });
  after(async () => {
    await forge.close();
    await dir[Symbol.asyncDispose]();
  });

  test('merge requests on a nested group: create, find, update, a duplicate is a 409', async () => {
    const mr = await gl.createPullRequest(repo, { head: 'caic-7', base: 'main', title: 'Add x', body: 'Created by caic' });
    assert.equal(mr.number, 1);
    assert.equal(mr.state, 'open');
    assert.equal(mr.headSha, await git(work, 'rev-parse', 'HEAD'));
    assert.match(mr.url, /\/group\/sub\/app\/-\/merge_requests\/1$/);
    assert.ok(forge.requests.some((r) => r.path.startsWith('/api/v4/projects/group%2Fsub%2Fapp/merge_requests') && r.token === TOKEN));
    assert.equal((await gl.findPullRequest(repo, 'caic-7'))?.number, 1);
    assert.equal(await gl.findPullRequest(repo, 'other'), null);
    assert.equal((await gl.updatePullRequest(repo, 1, { body: 'new body' })).body, 'new body');
    await assert.rejects(gl.createPullRequest(repo, { head: 'caic-7', base: 'main', title: 'again', body: '' }), (e: unknown) => {
      assert.ok(e instanceof ForgeError);
      assert.equal(e.status, 409);
      assert.match(e.message, /already exists/);
      assert.ok(!e.message.includes(TOKEN));
      return true;
    });
    await assert.rejects(gl.getPullRequest(repo, 99), (e: unknown) => e instanceof ForgeError && e.status === 404);
    assert.equal(await gl.branchHead(repo, 'caic-7'), await git(work, 'rev-parse', 'HEAD'));
    assert.equal(await gl.branchHead(repo, 'gone'), '');
  });

  test('pipeline status from the latest pipeline\'s jobs; failures carry traces trimmed to 200 lines', async () => {
    const sha = await git(work, 'rev-parse', 'HEAD');
    assert.equal((await gl.ciStatus(repo, sha)).state, 'none');
    forge.setPipelines('group/sub/app', sha, [{ status: 'running', jobs: [{ name: 'build', status: 'success' }, { name: 'test', status: 'running' }] }]);
    let st = await gl.ciStatus(repo, sha);
    assert.equal(st.state, 'pending');
    assert.deepEqual(st.checks.map((c) => [c.name, c.state]), [['build', 'success'], ['test', 'pending']]);

    const trace = [
      '\x1b[0KRunning with gitlab-runner 17.0.0\x1b[0;m',
      'section_start:1700000000:step_script\r\x1b[0K\x1b[0K\x1b[36;1mExecuting "step_script" stage\x1b[0;m',
      ...Array.from({ length: 400 }, (_, i) => `\x1b[31mFAIL\x1b[0m case ${i}`),
      'section_end:1700000001:step_script\r\x1b[0K\x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m',
    ].join('\n');
    const lintJobs = Array.from({ length: 120 }, (_, i) => ({ name: `lint-${i}`, status: 'success' as const }));
    forge.setPipelines('group/sub/app', sha, [
      { status: 'failed', jobs: [...lintJobs, { name: 'test', status: 'failed', trace }, { name: 'flaky', status: 'failed', allowFailure: true, trace: 'meh' }] },
    ]);
    const before = forge.requests.length;
    st = await gl.ciStatus(repo, sha);
    assert.equal(st.state, 'failure');
    assert.equal(st.checks.length, 122, 'jobs across pages');
    assert.equal(forge.requests.slice(before).filter((r) => r.path.includes('/jobs')).length, 2, 'followed x-next-page/link');
    assert.equal(st.checks.find((c) => c.name === 'flaky')?.state, 'neutral', 'allowed to fail');
    const failures = await gl.ciFailures(repo, sha);
    assert.deepEqual(failures.map((f) => f.name), ['test']);
    const lines = failures[0]!.log.split('\n');
    assert.equal(lines.length, 200);
    assert.equal(lines.at(-1), 'ERROR: Job failed: exit code 1');
    assert.equal(lines.at(-2), 'FAIL case 399');
    assert.ok(!failures[0]!.log.includes('\x1b'), 'no escape sequences');
    assert.ok(!failures[0]!.log.includes('section_'), 'no section markers');

    forge.setPipelines('group/sub/app', sha, [{ status: 'success', jobs: [{ name: 'build', status: 'success' }] }]);
    assert.equal((await gl.ciStatus(repo, sha)).state, 'success');
  });

  test('issues with notes across pages; notes posted on issues and merge requests', async () => {
    const n = forge.addIssue('group/sub/app', { title: 'Bug', body: 'Broken', author: 'rep', comments: Array.from({ length: 25 }, (_, i) => ({ author: 'c', body: `note ${i}` })) });
    const issue = await gl.getIssue(repo, n);
    assert.equal(issue.title, 'Bug');
    assert.equal(issue.comments.length, 25);
    assert.deepEqual([issue.comments[0]?.body, issue.comments.at(-1)?.body], ['note 0', 'note 24'], 'oldest first');
    // Issue iids and merge request iids overlap: issue #1 and !1 both exist.
    assert.equal(n, 1);
    await gl.comment(repo, 1, 'on issue #1', 'issue');
    assert.equal(forge.comments('group/sub/app', 1, 'issue').at(-1)?.body, 'on issue #1');
    assert.equal(forge.comments('group/sub/app', 1, 'pull').length, 0);
    await gl.comment(repo, 1, 'on !1', 'pull');
    assert.equal(forge.comments('group/sub/app', 1, 'pull').at(-1)?.body, 'on !1');
    const two = forge.addIssue('group/sub/app', { title: 'Issue two' });
    await gl.comment(repo, two, 'on the issue');
    assert.equal(forge.comments('group/sub/app', two, 'issue').at(-1)?.body, 'on the issue', 'no such merge request: the issue');
  });

  test('write access is Developer or above', async () => {
    assert.equal(await gl.hasWriteAccess(repo, 'dev'), true);
    forge.setPermission('group/sub/app', 'guest', 'read');
    assert.equal(await gl.hasWriteAccess(repo, 'guest'), false);
    assert.equal(await gl.hasWriteAccess(repo, 'stranger'), false);
  });

  test('squash merge moves main; merging again is refused', async () => {
    const res = await gl.mergePullRequest(repo, 1, { title: 'Add x', message: 'body' });
    assert.deepEqual(res, { merged: true, message: 'Merge request merged' });
    assert.equal((await gl.getPullRequest(repo, 1)).state, 'merged');
    const again = await gl.mergePullRequest(repo, 1, { title: 'Add x', message: '' });
    assert.equal(again.merged, false);
    const bad = new GitLabClient({ url: forge.gitlabUrl, token: choice('glpat-revoked-0123456789', 'pat') });
    await assert.rejects(bad.getPullRequest(repo, 1), (e: unknown) => e instanceof ForgeError && e.status === 401 && !e.message.includes('revoked'));
  });

  test('a GitLab that never answers: a ForgeError (status 0) at the call\'s deadline', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const slow = new GitLabClient({ url: `http://127.0.0.1:${port}`, token: choice(TOKEN, 'pat'), timeoutMs: 200 });
      await assert.rejects(slow.getPullRequest(repo, 1), (e: unknown) => e instanceof ForgeError && e.status === 0 && /timed out/.test(e.message) && !e.message.includes(TOKEN));
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

// The GitHub client against the forge stand-in: real git pushes over smart HTTP, pull requests, CI from
// check runs and statuses, Actions logs trimmed to the failing step, pagination, rate limits, errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ForgeError, GitHubClient, type ForgeRepo } from '../../src/forge/index.js';
import { createLogger } from '../../src/log/index.js';
import { choice } from '../../src/forge/tokens.js';
import { actionsLog, startForgeStandin, type ForgeStandin } from '../helpers/forge-standin.js';
import { LogCapture } from '../helpers/log-capture.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';

const TOKEN = 'ghp_standinTokenForTests0123456789abcd';

const execFileP = promisify(execFile);
// Asynchronous: the stand-in answers git from this same process.
async function git(cwd: string, ...args: string[]): Promise<string> {
  const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' };
  return (await execFileP('git', args, { cwd, env })).stdout.trim();
}

/** A local repository with one commit on main, pushed to the stand-in as acme/widget. */
async function seed(forge: ForgeStandin, dir: TempDir, fullName = 'acme/widget'): Promise<{ work: string; url: string }> {
  const work = `${dir.path}/${fullName.replace('/', '-')}`;
  await git(dir.path, 'init', '--quiet', '--initial-branch=main', work);
  await dir.file(`${fullName.replace('/', '-')}/README.md`, '# widget\n');
  await git(work, 'add', '.');
  await git(work, 'commit', '--quiet', '-m', 'init');
  const [owner, repo] = fullName.split('/') as [string, string];
  const url = await forge.createRepo(owner, repo, { from: work });
  return { work, url };
}

const authed = (url: string, token = TOKEN) => url.replace('http://', `http://x-access-token:${token}@`);

describe('GitHub client on the stand-in', () => {
  let forge: ForgeStandin;
  let dir: TempDir;
  let work: string;
  let url: string;
  let gh: GitHubClient;
  const repo: ForgeRepo = { kind: 'github', baseUrl: '', owner: 'acme', repo: 'widget' };

  before(async () => {
    forge = await startForgeStandin();
    dir = await tempDir('caic-forge-gh-');
    ({ work, url } = await seed(forge, dir));
    forge.addToken(TOKEN, 'dev');
    forge.setPermission('acme/widget', 'dev', 'write');
    repo.baseUrl = forge.url;
    gh = new GitHubClient({ apiUrl: forge.githubApi, token: choice(TOKEN, 'pat') });
  });
  after(async () => {
    await forge.close();
    await dir[Symbol.asyncDispose]();
  });

  test('git pushes need a token; a push moves the open pull request head', async () => {
    await git(work, 'checkout', '--quiet', '-b', 'caic-1');
    await dir.file('acme-widget/a.txt', 'a\n');
    await git(work, 'add', '.');
    await git(work, 'commit', '--quiet', '-m', 'a');
    await assert.rejects(git(work, 'push', '--quiet', url, 'caic-1'), /could not read Username/);
    await assert.rejects(git(work, 'push', '--quiet', authed(url, 'ghp_wrong_token_0000000000'), 'caic-1'), /Authentication failed|401/);
    await git(work, 'push', '--quiet', authed(url), 'caic-1');
    assert.equal(await forge.head('acme/widget', 'caic-1'), await git(work, 'rev-parse', 'HEAD'));
    // Fetching a public repository needs nothing.
    const clone = `${dir.path}/clone`;
    await git(dir.path, 'clone', '--quiet', url, clone);
    assert.equal(await git(clone, 'rev-parse', 'origin/caic-1'), await git(work, 'rev-parse', 'HEAD'));

    const pr = await gh.createPullRequest(repo, { head: 'caic-1', base: 'main', title: 'Add a', body: 'Created by caic' });
    assert.equal(pr.number, 1);
    assert.equal(pr.state, 'open');
    assert.equal(pr.headSha, await git(work, 'rev-parse', 'HEAD'));
    assert.match(pr.url, /\/acme\/widget\/pull\/1$/);

    await dir.file('acme-widget/b.txt', 'b\n');
    await git(work, 'add', '.');
    await git(work, 'commit', '--quiet', '-m', 'b');
    await git(work, 'push', '--quiet', authed(url), 'caic-1');
    const found = await gh.findPullRequest(repo, 'caic-1');
    assert.equal(found?.number, 1);
    assert.equal(found?.headSha, await git(work, 'rev-parse', 'HEAD'), 'synchronize: the PR follows its branch');
    assert.equal(await gh.findPullRequest(repo, 'nope'), null);
    assert.equal(await gh.branchHead(repo, 'caic-1'), await git(work, 'rev-parse', 'HEAD'));
    assert.equal(await gh.branchHead(repo, 'nope'), '');

    const updated = await gh.updatePullRequest(repo, 1, { title: 'Add a and b' });
    assert.equal(updated.title, 'Add a and b');
    assert.equal((await gh.getPullRequest(repo, 1)).title, 'Add a and b');
  });

  test('a second pull request for the same branch is a 422 ForgeError; a missing one a 404', async () => {
    await assert.rejects(gh.createPullRequest(repo, { head: 'caic-1', base: 'main', title: 'again', body: '' }), (e: unknown) => {
      assert.ok(e instanceof ForgeError);
      assert.equal(e.status, 422);
      assert.match(e.message, /already exists/);
      assert.ok(!e.message.includes(TOKEN));
      return true;
    });
    await assert.rejects(gh.getPullRequest(repo, 999), (e: unknown) => e instanceof ForgeError && e.status === 404);
  });

  test('CI status mixes check runs (across pages) and commit statuses', async () => {
    const sha = await forge.head('acme/widget', 'caic-1');
    assert.equal((await gh.ciStatus(repo, sha)).state, 'none');
    const runs = Array.from({ length: 130 }, (_, i) => ({ name: `lint-${i}`, conclusion: 'success' as const }));
    forge.setCheckRuns('acme/widget', sha, runs);
    forge.setStatuses('acme/widget', sha, [{ context: 'ci/jenkins', state: 'pending', targetUrl: 'https://jenkins.example/1' }]);
    const before = forge.requests.length;
    let st = await gh.ciStatus(repo, sha);
    assert.equal(st.checks.length, 131, 'all 130 check runs (two pages) and the status');
    assert.ok(forge.requests.slice(before).filter((r) => r.path.includes('/check-runs')).length >= 2, 'paginated');
    assert.equal(st.state, 'pending');
    forge.setStatuses('acme/widget', sha, [{ context: 'ci/jenkins', state: 'success' }]);
    st = await gh.ciStatus(repo, sha);
    assert.equal(st.state, 'success');
    forge.setStatuses('acme/widget', sha, [{ context: 'ci/jenkins', state: 'error', description: 'Build broke' }]);
    st = await gh.ciStatus(repo, sha);
    assert.equal(st.state, 'failure');
    assert.deepEqual(
      st.checks.find((c) => c.name === 'ci/jenkins'),
      { name: 'ci/jenkins', state: 'failure', url: '' },
    );
  });

  test('CI failures carry the failing Actions step log, trimmed to its last 200 lines', async () => {
    const sha = await forge.head('acme/widget', 'caic-1');
    const testLines = Array.from({ length: 500 }, (_, i) => `test line ${i}`);
    forge.setCheckRuns('acme/widget', sha, [
      { name: 'build', conclusion: 'success', actions: { steps: [{ name: 'Build', conclusion: 'success' }], log: actionsLog([{ name: 'npm run build', lines: ['ok'] }]) } },
      {
        name: 'test',
        conclusion: 'failure',
        actions: {
          steps: [
            { name: 'Set up job', conclusion: 'success' },
            { name: 'Run tests', conclusion: 'failure' },
            { name: 'Post checkout', conclusion: 'success' },
          ],
          log: actionsLog([
            { name: 'actions/checkout@v4', lines: ['checkout noise'] },
            { name: 'npm test', lines: testLines, error: 'Process completed with exit code 1.' },
            { name: 'cleanup', lines: ['post step noise'] },
          ]),
        },
      },
      { name: 'external', conclusion: 'failure', summary: '3 tests failed' },
    ]);
    forge.setStatuses('acme/widget', sha, []);
    const failures = await gh.ciFailures(repo, sha);
    assert.deepEqual(failures.map((f) => f.name).sort(), ['external', 'test']);
    assert.equal(failures.find((f) => f.name === 'external')?.log, '3 tests failed', 'a non-Actions check gives its summary');
    const log = failures.find((f) => f.name === 'test')!.log.split('\n');
    assert.equal(log.length, 200);
    assert.equal(log.at(-1), '##[error]Process completed with exit code 1.');
    assert.equal(log.at(-2), 'test line 499');
    assert.ok(!log.some((l) => l.includes('noise')), 'only the failing step');
    assert.ok(!/^\d{4}-/.test(log[0]!), 'timestamps dropped');
    assert.ok(forge.requests.some((r) => r.path.startsWith('/_raw-logs/')), 'the log came through GitHub\'s redirect');
    assert.equal((await gh.ciStatus(repo, sha)).state, 'failure');
  });

  test('a 403 secondary rate limit is waited out and the call succeeds', async () => {
    // The client logs the wait; with no masker, what it logs must hold no token of its own accord.
    const capture = new LogCapture();
    const { logger } = createLogger({ level: 'trace', destination: capture });
    const logged = new GitHubClient({ apiUrl: forge.githubApi, token: choice(TOKEN, 'pat'), logger });
    forge.secondaryRateLimitOnce(1);
    const before = forge.requests.length;
    const pr = await logged.getPullRequest(repo, 1);
    assert.equal(capture.find('GitHub secondary rate limit: waiting').length, 1);
    assert.ok(!capture.text.includes(TOKEN.slice(4)), 'no token in the log');
    assert.equal(pr.number, 1);
    const calls = forge.requests.slice(before).filter((r) => r.path.endsWith('/pulls/1'));
    assert.deepEqual(calls.map((r) => r.status), [403, 200]);
  });

  test('issues with their comments; comments posted back', async () => {
    const n = forge.addIssue('acme/widget', { title: 'Crash on start', body: 'It crashes.', author: 'reporter', comments: Array.from({ length: 105 }, (_, i) => ({ author: 'c', body: `comment ${i}` })) });
    const issue = await gh.getIssue(repo, n);
    assert.equal(issue.title, 'Crash on start');
    assert.equal(issue.author, 'reporter');
    assert.equal(issue.comments.length, 105, 'both pages');
    assert.equal(issue.comments.at(-1)?.body, 'comment 104');
    await gh.comment(repo, n, 'caic task completed');
    assert.equal(forge.comments('acme/widget', n).at(-1)?.body, 'caic task completed');
    assert.equal(forge.requests.at(-1)?.token, TOKEN);
    await assert.rejects(gh.getIssue(repo, 4242), (e: unknown) => e instanceof ForgeError && e.status === 404);
  });

  test('write access from the collaborator permission', async () => {
    assert.equal(await gh.hasWriteAccess(repo, 'dev'), true);
    assert.equal(await gh.hasWriteAccess(repo, 'acme'), true);
    assert.equal(await gh.hasWriteAccess(repo, 'stranger'), false);
    forge.setPermission('acme/widget', 'triager', 'triage');
    assert.equal(await gh.hasWriteAccess(repo, 'triager'), false);
    forge.setPermission('acme/widget', 'keeper', 'maintain');
    assert.equal(await gh.hasWriteAccess(repo, 'keeper'), true);
  });

  test('squash merge; a refused merge is merged:false; bad credentials a 401 without the token', async () => {
    const pr = await gh.getPullRequest(repo, 1);
    forge.repo('acme/widget').pulls[0]!.unmergeable = 'Pull Request is not mergeable';
    const refused = await gh.mergePullRequest(repo, 1, { title: 'Add a and b', message: 'done' });
    assert.equal(refused.merged, false);
    assert.match(refused.message, /not mergeable/);
    forge.repo('acme/widget').pulls[0]!.unmergeable = null;
    const ok = await gh.mergePullRequest(repo, 1, { title: 'Add a and b', message: 'done' });
    assert.equal(ok.merged, true);
    const main = await forge.head('acme/widget', 'main');
    const clone = `${dir.path}/clone`;
    await git(clone, 'fetch', '--quiet', 'origin');
    assert.equal(await git(clone, 'log', '-1', '--format=%s', main), 'Add a and b');
    assert.equal(await git(clone, 'rev-parse', `${main}^{tree}`), await git(clone, 'rev-parse', `${pr.headSha}^{tree}`));
    assert.equal((await gh.getPullRequest(repo, 1)).state, 'merged');

    const bad = new GitHubClient({ apiUrl: forge.githubApi, token: choice('ghp_revoked_0123456789abcdef', 'pat') });
    await assert.rejects(bad.getPullRequest(repo, 1), (e: unknown) => {
      assert.ok(e instanceof ForgeError);
      assert.equal(e.status, 401);
      assert.ok(!e.message.includes('ghp_revoked'));
      return true;
    });
  });

  test('a forge that echoes the token in its error: the ForgeError does not carry it', async () => {
    forge.failNext(400, 1, `Bad request from token ${TOKEN}`);
    await assert.rejects(gh.getPullRequest(repo, 1), (e: unknown) => {
      assert.ok(e instanceof ForgeError);
      assert.equal(e.status, 400);
      assert.match(e.message, /Bad request from token \*\*\*\*/);
      assert.ok(!e.message.includes(TOKEN));
      return true;
    });
  });

  test('a forge that never answers: the call ends with a ForgeError (status 0) after its deadline', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const slow = new GitHubClient({ apiUrl: `http://127.0.0.1:${port}/api`, token: choice(TOKEN, 'pat'), timeoutMs: 200 });
      await assert.rejects(slow.branchHead(repo, 'main'), (e: unknown) => e instanceof ForgeError && e.status === 0 && /timed out/.test(e.message));
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('an unreachable forge is a ForgeError with status 0', async () => {
    const gone = new GitHubClient({ apiUrl: 'http://127.0.0.1:1/api', token: choice(TOKEN, 'pat') });
    await assert.rejects(gone.branchHead(repo, 'main'), (e: unknown) => e instanceof ForgeError && e.status === 0 && !e.message.includes(TOKEN));
  });
});

// Repository discovery under the root (kept current by directory mtimes), rescans, and clone refusals.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RepoRegistry, TaskError } from '../../src/tasks/index.js';
import { publicRemoteUrl } from '../../src/tasks/repos.js';
import { RepoTree } from '../../src/tasks/repo-tree.js';
import { userPathError } from '../../src/tasks/user-path.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** A repository with one commit at `path` (parents created). */
async function makeRepo(path: string, branch = 'main'): Promise<void> {
  await mkdir(path, { recursive: true });
  git(path, 'init', '-q', '-b', branch);
  await writeFile(join(path, 'README.md'), '# r\n');
  git(path, 'add', '-A');
  git(path, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'initial');
}

/** Sets a directory's mtime an hour back, so listing it is not within the racy window. */
const age = (dir: string) => utimes(dir, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));

const names = (r: RepoRegistry) => r.list().map((x) => x.name);

async function refusal(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TaskError, `a TaskError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

describe('discovery', () => {
  test('repositories up to three levels down; hidden, dependency folders and repositories themselves are not searched', async () => {
    await using dir = await tempDir();
    const root = dir.path;
    await makeRepo(join(root, 'top'));
    await makeRepo(join(root, 'a', 'b', 'deep'));
    await makeRepo(join(root, 'a', 'b', 'c', 'too-deep'));
    await makeRepo(join(root, '.hidden', 'r'));
    await makeRepo(join(root, 'node_modules', 'r'));
    await makeRepo(join(root, 'top', 'nested'));
    const repos = new RepoRegistry(root);
    await repos.scan();
    assert.deepEqual(names(repos), ['a/b/deep', 'top']);
    const top = repos.get('top');
    assert.deepEqual([top.baseBranch, top.remote, top.settled, top.path], ['main', '', true, join(root, 'top')]);
  });

  test('the root itself may be the repository: it is named after its directory', async () => {
    await using dir = await tempDir();
    const root = join(dir.path, 'myproject');
    await makeRepo(root);
    const repos = new RepoRegistry(root);
    await repos.scan();
    assert.deepEqual(names(repos), ['myproject']);
    assert.equal(repos.get('myproject').path, root);
  });

  test('a changed scan finds repositories added, nested or initialised in place, and drops removed ones', async () => {
    await using dir = await tempDir();
    const root = join(dir.path, 'root');
    await makeRepo(join(root, 'one'));
    await mkdir(join(root, 'group', 'plain'), { recursive: true });
    const repos = new RepoRegistry(root);
    await repos.scan();
    assert.deepEqual(names(repos), ['one']);

    await makeRepo(join(root, 'two'));
    await makeRepo(join(root, 'new', 'deeper'));
    await repos.scan('changed');
    assert.deepEqual(names(repos), ['new/deeper', 'one', 'two']);

    await makeRepo(join(root, 'group', 'plain')); // `git init` in a directory that was already searched
    await rm(join(root, 'one'), { recursive: true });
    await repos.scan('changed');
    assert.deepEqual(names(repos), ['group/plain', 'new/deeper', 'two']);
  });

  test('a root that does not exist yet is watched until it does', async () => {
    await using dir = await tempDir();
    const root = join(dir.path, 'later');
    const repos = new RepoRegistry(root);
    await repos.scan();
    assert.deepEqual(names(repos), []);
    await makeRepo(join(root, 'r'));
    await repos.scan('changed');
    assert.deepEqual(names(repos), ['r']);
  });

  test('a changed scan reads only new repositories; a full scan reads every one again', async () => {
    await using dir = await tempDir();
    const root = dir.path;
    await makeRepo(join(root, 'r'));
    const repos = new RepoRegistry(root);
    await repos.scan();
    const first = repos.get('r');
    git(join(root, 'r'), 'branch', '-m', 'main', 'trunk');
    await repos.scan('changed');
    assert.equal(repos.get('r'), first, 'a settled repository is not read again by the background check');
    await repos.scan('full');
    assert.equal(repos.get('r').baseBranch, 'trunk');
  });

  test('a repository without a commit yet is read again until it has one', async () => {
    await using dir = await tempDir();
    const root = dir.path;
    const path = join(root, 'fresh');
    await mkdir(path);
    git(path, 'init', '-q', '-b', 'main');
    const repos = new RepoRegistry(root);
    await repos.scan();
    assert.equal(repos.get('fresh').settled, false);
    await writeFile(join(path, 'a.txt'), 'a\n');
    git(path, 'add', '-A');
    git(path, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'first');
    await repos.scan('changed');
    assert.equal(repos.get('fresh').settled, true);
  });

  test('only directories whose mtime moved are listed again; a directory listed within the racy window is listed again anyway', async () => {
    await using dir = await tempDir();
    const root = join(dir.path, 'root');
    await mkdir(join(root, 'group'), { recursive: true });
    await age(join(root, 'group'));
    await age(root);
    const tree = new RepoTree(root);
    await tree.rescan();
    assert.equal(tree.watched, 2);
    // A repository appears, but the directory's mtime is put back: an mtime-driven update cannot see it.
    const before = await stat(join(root, 'group'));
    await makeRepo(join(root, 'group', 'hidden-by-mtime'));
    await utimes(join(root, 'group'), before.atime, before.mtime);
    await tree.update();
    assert.deepEqual(tree.repos(), []);

    // The same with a directory modified just before it was listed: its mtime is not trusted.
    const racy = join(dir.path, 'racy');
    await mkdir(join(racy, 'group'), { recursive: true });
    const now = new Date(); // whole milliseconds, so that putting the mtime back below is exact
    await utimes(join(racy, 'group'), now, now);
    const fresh = new RepoTree(racy);
    await fresh.rescan();
    const listedAt = await stat(join(racy, 'group'));
    await makeRepo(join(racy, 'group', 'r'));
    await utimes(join(racy, 'group'), listedAt.atime, listedAt.mtime);
    await fresh.update();
    assert.deepEqual(fresh.repos(), [join(racy, 'group', 'r')]);
  });

  test('watch() finds a new repository by itself', async () => {
    await using dir = await tempDir();
    const repos = new RepoRegistry(dir.path);
    await repos.scan();
    const stop = repos.watch(20);
    try {
      await makeRepo(join(dir.path, 'appears'));
      await until(() => names(repos).includes('appears'), 'the background check to find the repository', 10_000);
      assert.deepEqual(names(repos), ['appears']);
    } finally {
      stop();
    }
  });

  test('a scan asked for during another one runs after it, shared by every caller meanwhile', async () => {
    await using dir = await tempDir();
    await makeRepo(join(dir.path, 'r'));
    const repos = new RepoRegistry(dir.path);
    const first = repos.scan();
    const second = repos.scan('changed');
    const third = repos.scan('full');
    assert.notEqual(first, second, 'the running scan may have listed a directory before the caller changed it');
    assert.equal(second, third, 'one queued scan for both callers');
    await Promise.all([first, second]);
    assert.deepEqual(names(repos), ['r']);
  });
});

describe('clone', () => {
  test('file:// is refused unless local sources are allowed; other URL forms are refused always', async () => {
    await using dir = await tempDir();
    const origin = join(dir.path, 'origin');
    await makeRepo(origin);
    const root = join(dir.path, 'root');
    const repos = new RepoRegistry(root);
    await refusal(repos.clone({ url: `file://${origin}` }), 'FORBIDDEN', /allow_local_clone/);
    await refusal(repos.clone({ url: origin }), 'BAD_REQUEST', /url must be/);
    await refusal(repos.clone({ url: `git@x/..${origin}:y`, path: 'scp' }), 'BAD_REQUEST', /url must be/);
    await refusal(repos.clone({ url: `ext::sh -c touch% /tmp/pwned`, path: 'ext' }), 'BAD_REQUEST', /url must be/);

    const allowed = new RepoRegistry(root, { allowLocalClone: true });
    await allowed.scan();
    const info = await allowed.clone({ url: `file://${origin}`, path: 'copy' });
    assert.deepEqual([info.name, info.baseBranch, info.settled], ['copy', 'main', true]);
    assert.deepEqual(names(allowed), ['copy'], 'listed at once');
  });

  test('git itself refuses the local disk: a URL rewritten to file:// by git config is not fetched', async (t) => {
    await using dir = await tempDir();
    const origin = join(dir.path, 'origin');
    await makeRepo(origin);
    // What a user's ~/.gitconfig could say; passed through the environment for this test only.
    const saved = { ...process.env };
    t.after(() => {
      for (const k of ['GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0']) delete process.env[k];
      Object.assign(process.env, saved);
    });
    Object.assign(process.env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `url.file://${origin}.insteadOf`, GIT_CONFIG_VALUE_0: 'https://forge.invalid/o/r' });
    const repos = new RepoRegistry(join(dir.path, 'root'));
    await refusal(repos.clone({ url: 'https://forge.invalid/o/r' }), 'BAD_REQUEST', /transport 'file' not allowed/);
    await assert.rejects(stat(join(dir.path, 'root', 'r')), /ENOENT/, 'nothing left behind');
  });

  test('a failed clone into a new nested path leaves none of the directories git made for it', async () => {
    await using dir = await tempDir();
    const root = join(dir.path, 'root');
    await mkdir(join(root, 'org', 'other'), { recursive: true });
    const repos = new RepoRegistry(root);
    // Nothing listens on port 1: git fails once it has made the target and its parents.
    await refusal(repos.clone({ url: 'https://127.0.0.1:1/o/r.git', path: 'org/team/r' }), 'BAD_REQUEST', /clone failed/);
    await assert.rejects(stat(join(root, 'org', 'team')), /ENOENT/, 'the directory made for the clone is gone');
    assert.ok((await stat(join(root, 'org', 'other'))).isDirectory(), 'what was there before stays');
    await refusal(repos.clone({ url: 'https://127.0.0.1:1/o/r.git', path: 'new/r' }), 'BAD_REQUEST', /clone failed/);
    await assert.rejects(stat(join(root, 'new')), /ENOENT/);
  });

  test('targets the search would not find, or that lead elsewhere, are refused before git runs', async () => {
    await using dir = await tempDir();
    const root = join(dir.path, 'root');
    await makeRepo(join(root, 'existing'));
    await mkdir(join(dir.path, 'outside'));
    await symlink(join(dir.path, 'outside'), join(root, 'link'));
    await writeFile(join(root, 'file.txt'), 'x');
    const repos = new RepoRegistry(root, { allowLocalClone: true });
    const url = 'https://forge.invalid/o/r.git';
    await refusal(repos.clone({ url, path: 'a/b/c/d' }), 'BAD_REQUEST', /at most 3 levels/);
    await refusal(repos.clone({ url, path: 'node_modules/r' }), 'BAD_REQUEST', /not searched/);
    await refusal(repos.clone({ url, path: 'x/.hidden' }), 'BAD_REQUEST', /not searched/);
    await refusal(repos.clone({ url, path: 'existing' }), 'CONFLICT', /already exists/);
    await refusal(repos.clone({ url, path: 'existing/sub' }), 'CONFLICT', /inside the repository existing/);
    await refusal(repos.clone({ url, path: 'link/r' }), 'BAD_REQUEST', /symbolic link/);
    await refusal(repos.clone({ url, path: 'file.txt/r' }), 'BAD_REQUEST', /not a directory/);
    await refusal(repos.clone({ url: `https://forge.invalid/o/${'n'.repeat(256)}` }), 'BAD_REQUEST', /name too long/);
    await refusal(repos.clone({ url, path: 'p'.repeat(256) }), 'BAD_REQUEST', /name too long/);
  });
});

test('file-system errors on user paths map to refusals; other errors pass through', () => {
  const errno = (code: string) => Object.assign(new Error(`${code}: message with /host/path`), { code });
  const cases: [string, string][] = [
    ['ENAMETOOLONG', 'BAD_REQUEST'],
    ['ENOTDIR', 'BAD_REQUEST'],
    ['ELOOP', 'BAD_REQUEST'],
    ['ENOENT', 'NOT_FOUND'],
    ['EEXIST', 'CONFLICT'],
    ['EACCES', 'FORBIDDEN'],
    ['ENOSPC', 'SERVICE_UNAVAILABLE'],
  ];
  for (const [code, want] of cases) {
    const mapped = userPathError(errno(code), 'path "x"');
    assert.ok(mapped instanceof TaskError, code);
    assert.equal(mapped.code, want, code);
    assert.match(mapped.message, /^path "x": /);
    assert.doesNotMatch(mapped.message, /\/host\/path/, 'the host path is not echoed');
  }
  const io = errno('EIO');
  assert.equal(userPathError(io, 'x'), io, 'an I/O error is ours: it stays a 500');
  const plain = new Error('no errno');
  assert.equal(userPathError(plain, 'x'), plain);
});

test('credentials written into a remote URL never reach the repository list', async () => {
  await using dir = await tempDir('caic-repos-');
  const path = join(dir.path, 'r');
  await makeRepo(path);
  git(path, 'remote', 'add', 'origin', 'https://someone:ghp_secretvalue123@github.com/o/r.git');
  const r = new RepoRegistry(dir.path);
  await r.scan();
  const [repo] = r.list();
  assert.equal(repo?.remoteURL, 'https://github.com/o/r.git');
  assert.equal(repo?.forge, 'github');
  assert.equal(publicRemoteUrl('git@github.com:o/r.git'), 'git@github.com:o/r.git');
  assert.equal(publicRemoteUrl('ssh://git:pw@host:22/x'), 'ssh://host:22/x');
  assert.equal(publicRemoteUrl('https://tok@[bad/x'), 'https://[bad/x');
});

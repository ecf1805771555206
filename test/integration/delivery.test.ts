// Repository delivery into a container (host pack + Docker archive + index inside): refs, content,
// ownership, what must never go in, awkward trees, and failures that say what failed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EventMessage, Task } from '../../src/api/index.js';
import type { ContainerHandle, PushSpec } from '../../src/containers/index.js';
import { KEEP_PER_REPO } from '../../src/containers/repo-image.js';
import { removeRepoImages, testRuntime, type TestRuntime } from '../helpers/containers.js';
import { dockerCli, engineDocker, unsupportedOn } from '../helpers/engine.js';
import { SseClient } from '../helpers/sse.js';
import { taskEnv } from '../helpers/task-env.js';
import { waitUntil } from '../helpers/wait.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
const gitIn = (cwd: string, input: string, ...args: string[]) => execFileSync('git', args, { cwd, input }).toString().trim();
const commit = (cwd: string, msg: string) => git(cwd, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', msg);

async function newRepo(dir: string, name: string): Promise<string> {
  const repo = join(dir, name);
  await mkdir(repo, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  return repo;
}

/** Over SSH into a running container, or as an image a new container starts from. */
const WAYS = ['over SSH', 'as an image'] as const;
/** Podman makes no repository images (its load needs every layer in the archive): they go in over SSH there. */
const NO_REPO_IMAGES = "Podman's image load needs every layer in the archive, so caic makes no repository images there (they go in over SSH)";
const wayUnsupported = (way: (typeof WAYS)[number]) => way === 'as an image' && unsupportedOn(['podman', 'podman-rootless'], NO_REPO_IMAGES);

describe('repository delivery', () => {
  let t: TestRuntime;
  let h: ContainerHandle;
  /** The container the current test looks into. */
  let cur: ContainerHandle;
  const sh = async (cmd: string) => {
    const r = await t.rt.exec(cur, cmd);
    assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
    return r.stdout;
  };
  const deliver = async (way: (typeof WAYS)[number], spec: PushSpec): Promise<ContainerHandle> => {
    if (way === 'over SSH') {
      await t.rt.pushRepo(h, spec);
      return h;
    }
    const img = await t.rt.repoImage(spec, { build: true });
    assert.ok(img?.built, 'a new image');
    const c = await t.launch({ image: img.image, files: img.place }).finally(() => img.release());
    if (img.prepare) {
      const r = await t.rt.exec(c, img.prepare);
      assert.equal(r.code, 0, r.stderr);
    }
    return c;
  };
  before(async () => {
    t = await testRuntime();
    h = await t.launch();
    cur = h;
  });
  after(() => t[Symbol.asyncDispose]());

  for (const way of WAYS) {
    test(`branch, upstream, caic.base, origin/<base>, history and a work tree as checkout writes it (${way})`, { skip: wayUnsupported(way) }, async () => {
      const repo = await newRepo(join(t.dir.path, way.replace(/ /g, '-')), 'content');
      const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(70)}.txt`;
      await mkdir(join(repo, long, '..'), { recursive: true });
      await mkdir(join(repo, 'dir', 'sub'), { recursive: true });
      await writeFile(join(repo, 'README.md'), '# content\n');
      await writeFile(join(repo, 'target.txt'), 'the target\n');
      await writeFile(join(repo, 'run.sh'), '#!/bin/sh\necho run\n');
      await chmod(join(repo, 'run.sh'), 0o755);
      await symlink('target.txt', join(repo, 'link'));
      await writeFile(join(repo, 'dir', 'sub', 'é ü.txt'), 'unicode name\n');
      await writeFile(join(repo, long), 'a long path\n');
      await writeFile(join(repo, 'empty'), '');
      await writeFile(join(repo, 'blob.bin'), randomBytes(3000));
      git(repo, 'add', '-A');
      git(repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'first');
      const base = git(repo, 'rev-parse', 'HEAD').trim();
      await writeFile(join(repo, 'README.md'), '# content\n\nmore\n');
      await writeFile(join(repo, 'dir', 'added.txt'), 'added\n');
      git(repo, 'add', '-A');
      commit(repo, 'second');
      git(repo, 'branch', 'caic-3');
      const tip = git(repo, 'rev-parse', 'HEAD').trim();
      git(repo, 'reset', '-q', '--hard', base); // main is the base; the task branch is one ahead

      cur = await deliver(way, { hostRepo: repo, name: 'content', branch: 'caic-3', baseBranch: 'main', baseRef: base, originUrl: 'https://example.com/o/content "x".git' });
      const cd = 'cd ~/src/content && ';
      assert.equal(await sh(`${cd}git rev-parse --abbrev-ref HEAD @{upstream} && git rev-parse HEAD origin/main && git config caic.base && git remote get-url origin`),
        `caic-3\norigin/main\n${tip}\n${base}\n${base}\nhttps://example.com/o/content "x".git\n`);
      assert.equal(await sh(`${cd}git status --porcelain --untracked-files=all`), '', 'a clean work tree');
      assert.equal(await sh(`${cd}git log --format=%H`), git(repo, 'log', '--format=%H', tip));
      assert.equal(await sh(`${cd}git for-each-ref --format='%(refname)'`), 'refs/heads/caic-3\nrefs/remotes/origin/main\n');
      await sh(`${cd}git fsck --full --strict --no-dangling`);
      // The index is what checkout would have written: every path, mode and blob.
      const index = `${repo}.index`;
      execFileSync('git', ['read-tree', tip], { cwd: repo, env: { ...process.env, GIT_INDEX_FILE: index } });
      assert.equal(await sh(`${cd}git ls-files -s`), execFileSync('git', ['ls-files', '-s'], { cwd: repo, env: { ...process.env, GIT_INDEX_FILE: index } }).toString());
      assert.equal(await sh(`${cd}stat -c '%a' run.sh README.md && readlink link && cat link && cat 'dir/sub/é ü.txt' ${long}`), '755\n644\ntarget.txt\nthe target\nunicode name\na long path\n');
      assert.equal(await sh(`${cd}sha256sum blob.bin | cut -d' ' -f1`), `${createHash('sha256').update(await readFile(join(repo, 'blob.bin'))).digest('hex')}\n`);
      const diff = await t.rt.diff(cur, 'content');
      assert.deepEqual(diff.stat.map((s) => s.path).sort(), ['README.md', 'dir/added.txt'], 'the diff base is caic.base');
      await sh(`${cd}echo change >> README.md && git commit -qam 'inside' && git status --porcelain`);
    });

    test(`everything belongs to the user with checkout modes; nothing of the host .git goes in (${way})`, { skip: wayUnsupported(way) }, async () => {
      const repo = await newRepo(join(t.dir.path, way.replace(/ /g, '-')), 'private');
      const secret = `SECRET${randomBytes(6).toString('hex')}`;
      await writeFile(join(repo, 'app.js'), 'console.log(1)\n');
      git(repo, 'add', '-A');
      commit(repo, 'app');
      git(repo, 'checkout', '-qb', 'other');
      await writeFile(join(repo, 'leak.txt'), `${secret}\n`);
      git(repo, 'add', '-A');
      commit(repo, 'not for the container');
      const leakBlob = git(repo, 'rev-parse', 'HEAD:leak.txt').trim();
      git(repo, 'checkout', '-q', 'main');
      git(repo, 'tag', 'v1');
      git(repo, 'branch', 'caic-1');
      // Host-only things: a hook, credentials and headers in the config, attributes, a stash-like ref.
      await writeFile(join(repo, '.git', 'hooks', 'post-checkout'), `#!/bin/sh\ntouch /tmp/hook-ran-${secret}\n`);
      await chmod(join(repo, '.git', 'hooks', 'post-checkout'), 0o755);
      git(repo, 'config', 'credential.helper', `store --file=/tmp/${secret}`);
      git(repo, 'config', 'http.extraHeader', `Authorization: Bearer ${secret}`);
      await writeFile(join(repo, '.git', 'info', 'attributes'), `* ${secret}\n`);
      git(repo, 'update-ref', 'refs/caic-private/x', 'other');

      cur = await deliver(way, { hostRepo: repo, name: 'private', branch: 'caic-1', baseBranch: 'main', baseRef: 'main', originUrl: `https://someone:${secret}@example.com/o/private.git` });
      const cd = 'cd ~/src/private && ';
      assert.equal(await sh(`find ~/src/private \\( ! -user user -o ! -group user \\) -print`), '', 'owned by user:user');
      assert.equal(await sh(`find ~/src/private -type d ! -perm 755 -print`), '');
      assert.equal(await sh(`${cd}find . -path ./.git -prune -o -type f ! -perm 644 -print`), '');
      assert.equal(await sh(`${cd}find .git/objects/pack -type f ! -perm 444 -print`), '');
      assert.equal(await sh(`${cd}ls -A .git/hooks`), '', 'no hooks');
      assert.equal((await t.rt.exec(cur, `grep -rl ${secret} ~/src/private /tmp || true`)).stdout, '', 'no secret anywhere, no hook ran');
      assert.equal(await sh(`${cd}git for-each-ref --format='%(refname)'`), 'refs/heads/caic-1\nrefs/remotes/origin/main\n', 'no tags, no other refs');
      assert.notEqual((await t.rt.exec(cur, `${cd}git cat-file -e ${leakBlob}`)).code, 0, 'objects of other branches stay on the host');
      const config = await sh(`${cd}git config --local --list`);
      assert.doesNotMatch(config, /credential|extraheader/i);
      assert.equal(await sh(`${cd}git remote get-url origin`), 'https://example.com/o/private.git\n', 'no user or token in the origin URL');
    });

    test(`submodules, LFS pointers, attributes that change checkout, and a large file (${way})`, { skip: wayUnsupported(way) }, async () => {
      const repo = await newRepo(join(t.dir.path, way.replace(/ /g, '-')), 'awkward');
      const lfsPointer = 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n';
      await writeFile(join(repo, '.gitattributes'), '*.psd filter=lfs diff=lfs merge=lfs -text\ncrlf.txt text eol=crlf\nident.txt ident\n*.keep export-ignore\n');
      await writeFile(join(repo, 'art.psd'), lfsPointer);
      await writeFile(join(repo, 'crlf.txt'), 'one\ntwo\n');
      await writeFile(join(repo, 'ident.txt'), 'id: $Id$\n');
      await writeFile(join(repo, 'stays.keep'), 'export-ignore has no say here\n');
      const large = randomBytes(6 * 1024 * 1024); // streamed: above the size read whole
      await writeFile(join(repo, 'large.raw'), large);
      await writeFile(join(repo, '.gitmodules'), '[submodule "lib"]\n\tpath = lib\n\turl = https://example.com/lib.git\n');
      git(repo, 'add', '-A');
      const subCommit = 'a'.repeat(40);
      git(repo, 'update-index', '--add', '--cacheinfo', `160000,${subCommit},lib`);
      commit(repo, 'awkward');
      git(repo, 'branch', 'caic-1');
      const identBlob = git(repo, 'rev-parse', 'HEAD:ident.txt').trim();

      cur = await deliver(way, { hostRepo: repo, name: 'awkward', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' });
      const cd = 'cd ~/src/awkward && ';
      assert.equal(await sh(`${cd}git status --porcelain --untracked-files=all`), '');
      assert.equal(await sh(`${cd}find lib | sort && git submodule status`), `lib\n-${subCommit} lib\n`, 'an empty, uninitialised submodule');
      assert.equal(await sh(`${cd}cat art.psd`), lfsPointer, 'the pointer, as checkout without git-lfs writes it');
      assert.equal(await sh(`${cd}od -An -c crlf.txt | tr -s ' '`), ' o n e \\r \\n t w o \\r \\n\n', 'eol=crlf applied');
      assert.equal(await sh(`${cd}cat ident.txt`), `id: $Id: ${identBlob} $\n`, 'ident applied');
      assert.equal(await sh(`${cd}cat stays.keep`), 'export-ignore has no say here\n');
      assert.equal(await sh(`${cd}sha256sum large.raw | cut -d' ' -f1`), `${createHash('sha256').update(large).digest('hex')}\n`);
    });

    test(`names an image layer reads as whiteouts are files like any other (${way})`, { skip: wayUnsupported(way) }, async () => {
      const repo = await newRepo(join(t.dir.path, way.replace(/ /g, '-')), 'whiteouts');
      // In a layer `.wh.kept` would delete its sibling `kept`, `.wh..wh..opq` hide its directory's
      // other files, and `.wh.dir/` be no directory at all.
      await mkdir(join(repo, 'sub'));
      await mkdir(join(repo, '.wh.dir'));
      const files: Record<string, string> = { kept: 'kept\n', '.wh.kept': 'a whiteout name\n', 'sub/.wh..wh..opq': 'opaque name\n', 'sub/other': 'other\n', '.wh.dir/inner': 'inner\n' };
      for (const [name, content] of Object.entries(files)) await writeFile(join(repo, name), content);
      git(repo, 'add', '-A');
      commit(repo, 'whiteouts');
      git(repo, 'branch', 'caic-1');

      cur = await deliver(way, { hostRepo: repo, name: 'whiteouts', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' });
      const cd = 'cd ~/src/whiteouts && ';
      assert.equal(await sh(`${cd}git status --porcelain --untracked-files=all`), '');
      const names = Object.keys(files).sort();
      assert.equal(await sh(`${cd}for f in ${names.map((n) => `'${n}'`).join(' ')}; do cat "$f"; done`), names.map((n) => files[n]).join(''));
    });
  }

  test('trees git would not check out are refused, and nothing lands outside the repository', async () => {
    const repo = await newRepo(t.dir.path, 'hostile');
    cur = h;
    const blob = gitIn(repo, 'pwned\n', 'hash-object', '-w', '--stdin');
    const target = gitIn(repo, '/tmp/caic-escape', 'hash-object', '-w', '--stdin');
    const deliver = async (tree: string, name: string) => {
      const c = gitIn(repo, '', '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit-tree', tree, '-m', name);
      git(repo, 'update-ref', `refs/heads/${name}`, c);
      return t.rt.pushRepo(h, { hostRepo: repo, name, branch: name, baseBranch: name, baseRef: c });
    };
    const dotGit = gitIn(repo, `100644 blob ${blob}\thooks\n`, 'mktree');
    await assert.rejects(deliver(gitIn(repo, `040000 tree ${dotGit}\t.git\n100644 blob ${blob}\tok\n`, 'mktree'), 'dotgit'), /refusing to deliver .*"\.git\/hooks", which git itself would not check out/);
    await assert.rejects(deliver(gitIn(repo, `040000 tree ${dotGit}\t.GIT\n`, 'mktree'), 'dotgit2'), /"\.GIT\/hooks"/);
    await assert.rejects(deliver(gitIn(repo, `100644 blob ${blob}\t..\n`, 'mktree'), 'dotdot'), /refusing to deliver .*"\.\."/);
    // A symlink and a directory of the same name: the file below must not follow the link.
    const inner = gitIn(repo, `100644 blob ${blob}\tpwned\n`, 'mktree');
    await assert.rejects(deliver(gitIn(repo, `120000 blob ${target}\tesc\n040000 tree ${inner}\tesc\n`, 'mktree'), 'twice'), /refusing to deliver .*"esc\/pwned" lies below the file or symlink "esc"/);
    assert.equal((await t.rt.exec(h, 'ls -A /tmp/caic-escape 2>&1; ls ~/src/dotgit ~/src/dotdot 2>&1 | grep -c "No such file"')).stdout, 'ls: cannot access \'/tmp/caic-escape\': No such file or directory\n2\n');
  });

  test('a failed delivery says what failed and never hangs', { timeout: 120_000 }, async () => {
    cur = h;
    const repo = await newRepo(t.dir.path, 'fails');
    await writeFile(join(repo, 'a.txt'), 'a\n');
    await writeFile(join(repo, 'big.raw'), randomBytes(4 * 1024 * 1024)); // more than the pipes between git and the archive hold
    git(repo, 'add', '-A');
    commit(repo, 'a');
    git(repo, 'branch', 'caic-1');
    await assert.rejects(t.rt.pushRepo(h, { hostRepo: repo, name: 'fails', branch: 'caic-1', baseBranch: 'main', baseRef: 'no-such-ref' }), /git rev-parse in .*fails failed: .*no-such-ref/);
    await assert.rejects(t.rt.pushRepo(h, { hostRepo: repo, name: 'fails', branch: 'caic-9', baseBranch: 'main' }), /git rev-parse in .*failed/);
    // The snapshot on the host vanishes (a temp cleaner) before the archive is read: the command
    // ends with that error instead of leaving tar waiting for the rest.
    const scratch = join(t.dir.path, 'tmp-cut');
    await mkdir(scratch);
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
    let pkg;
    try {
      pkg = await t.rt.packRepo({ hostRepo: repo, name: 'cut', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' });
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
    for (const d of await readdir(scratch)) await rm(join(scratch, d, 'body.tar'));
    await assert.rejects(t.rt.deliverRepo(h, pkg), /cannot deliver the repository to caic-.*ENOENT/);
    await pkg.dispose();
    await assert.rejects(t.rt.deliverRepo(h, pkg), /already disposed/);
    // Delivered once; a second delivery to the same directory is refused, never merged into it.
    await t.rt.pushRepo(h, { hostRepo: repo, name: 'fails', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' });
    await assert.rejects(t.rt.pushRepo(h, { hostRepo: repo, name: 'fails', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' }), /cannot deliver the repository to caic-.*File exists/);
    assert.equal(await sh('cd ~/src/fails && git status --porcelain && git rev-parse --abbrev-ref HEAD'), 'caic-1\n');
    // The refused archive was never read to its end: its git process must not linger.
    const gitChildren = () => {
      try {
        return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'git']).toString().trim();
      } catch {
        return ''; // pgrep exits 1 when nothing matches
      }
    };
    let lingering = gitChildren();
    for (let i = 0; i < 100 && lingering; i++) {
      await new Promise((r) => setTimeout(r, 50));
      lingering = gitChildren();
    }
    assert.equal(lingering, '', 'no git process left behind');
    // A container that is not running.
    await assert.rejects(t.rt.pushRepo({ ...h, id: `${h.id}-stopped`, state: 'exited', sshPort: 0 }, { hostRepo: repo, name: 'fails2', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' }), /is not running/);
  });

  test('tasks from the same commit share one snapshot; a daemon that exits leaves none behind', async () => {
    cur = h;
    const repo = await newRepo(t.dir.path, 'shared');
    await writeFile(join(repo, 'a.txt'), 'a\n');
    git(repo, 'add', '-A');
    commit(repo, 'a');
    git(repo, 'branch', 'caic-1');
    git(repo, 'branch', 'caic-2');
    const scratch = join(t.dir.path, 'tmp-shared');
    await mkdir(scratch);
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
    try {
      const [one, two] = await Promise.all(['caic-1', 'caic-2'].map((branch) => t.rt.packRepo({ hostRepo: repo, name: branch, branch, baseBranch: 'main', baseRef: 'main' })));
      assert.equal((await readdir(scratch)).length, 1, 'one snapshot for both');
      await Promise.all([t.rt.deliverRepo(h, one!), t.rt.deliverRepo(h, two!)]);
      assert.equal(await sh('cd ~/src/caic-1 && git rev-parse --abbrev-ref HEAD && cd ~/src/caic-2 && git rev-parse --abbrev-ref HEAD && git status --porcelain'), 'caic-1\ncaic-2\n');
      await one!.dispose();
      await two!.dispose();
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
    // A process that packs and exits (kept snapshots included) removes its snapshots.
    const child = join(t.dir.path, 'tmp-child');
    await mkdir(child);
    const module = new URL('../../src/containers/repo-delivery.js', import.meta.url).href;
    const script = `const m = await import(${JSON.stringify(module)}); const p = await m.prepareRepo({ hostRepo: ${JSON.stringify(repo)}, dir: '/x', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' }); if ((await import('node:fs')).readdirSync(process.env.TMPDIR).length !== 1) process.exit(3); await p.dispose();`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TMPDIR: child } });
    assert.deepEqual(await readdir(child), []);
  });

  test('files placed with the host key belong to the user, directories included; paths outside home are refused', async () => {
    const withFiles = await t.launch({ files: [{ path: '/home/user/.caic/bin/tool-1.mjs', content: 'export {}\n', mode: 0o644 }, { path: '/home/user/.caic/bin/other.txt', content: 'x', mode: 0o600 }] });
    const r = await t.rt.exec(withFiles, 'stat -c "%U %a %n" ~/.caic ~/.caic/bin ~/.caic/bin/tool-1.mjs ~/.caic/bin/other.txt && cat ~/.caic/bin/tool-1.mjs && mkdir ~/.caic/sessions');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'user 755 /home/user/.caic\nuser 755 /home/user/.caic/bin\nuser 644 /home/user/.caic/bin/tool-1.mjs\nuser 600 /home/user/.caic/bin/other.txt\nexport {}\n');
    for (const path of ['/etc/cron.d/x', '/home/user/../root/x', '/home/userx/y']) {
      await assert.rejects(t.launch({ files: [{ path, content: 'x', mode: 0o644 }] }), /files go under \/home\/user/);
    }
  });
});

describe('repository delivery in a task start', () => {
  test('a repository that cannot be packed fails the task with the reason, and its container goes', async () => {
    await using env = await taskEnv({ files: 3 });
    // Corrupt one object of the repository: the branch is created, packing its objects fails.
    const repo = join(env.root, 'proj');
    const sha = git(repo, 'rev-parse', 'HEAD:file1.txt').trim();
    // Every object loose (a local clone has them so already), then one blob's file replaced by garbage.
    execFileSync('sh', ['-c', 'mkdir ../packs && for p in .git/objects/pack/*.pack; do [ -f "$p" ] || continue; mv "$p" ../packs/ && git unpack-objects -q < "../packs/${p##*/}"; done'], { cwd: repo });
    const loose = join(repo, '.git', 'objects', sha.slice(0, 2), sha.slice(2));
    await rm(loose);
    await writeFile(loose, 'not zlib');
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    assert.equal(created.status, 200, created.body);
    const task = created.json<Task>();
    const sse = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`);
    try {
      await sse.waitFor((ev) => ev.some((e) => (e.data as EventMessage | undefined)?.kind === 'error'), 60_000, 'the setup error');
      const error = sse.messages<EventMessage>().find((e) => e.kind === 'error') as { message?: string } | undefined;
      assert.match(String(error?.message), /git pack-objects in .*proj failed/);
      let state = '';
      for (let i = 0; i < 200 && state !== 'failed'; i++) {
        state = (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>().state;
        if (state !== 'failed') await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(state, 'failed');
      // The container is removed right after the state is recorded.
      const docker = engineDocker();
      let left = -1;
      for (let i = 0; i < 200 && left !== 0; i++) {
        left = (await docker.listContainers({ all: true, filters: { label: [`caic=${task.id}`] } })).length;
        if (left) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(left, 0, 'the container was removed');
    } finally {
      sse.close();
    }
  });
});

describe('repository images in task starts', () => {
  test('the first task from a commit takes the repository over SSH and makes the image; the next starts from it', { skip: unsupportedOn(['podman', 'podman-rootless'], NO_REPO_IMAGES) }, async () => {
    await using env = await taskEnv({ files: 20 });
    const phases = async (id: string) => {
      const sse = new SseClient(`${env.d.url}/api/v1/tasks/${id}/events`);
      try {
        await sse.waitFor((ev) => ev.some((e) => (e.data as EventMessage | undefined)?.kind === 'result'), 60_000, 'the agent to answer');
        return sse.messages<EventMessage>().flatMap((e) => (e.kind === 'log' && e.phase ? [`${e.phase}: ${e.message ?? ''}`] : []));
      } finally {
        sse.close();
      }
    };
    const first = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    const one = await phases(first.id);
    assert.ok(one.some((p) => /^image: no repository image of \w+ yet/.test(p)), one.join('\n'));
    assert.ok(one.some((p) => p.startsWith('push: ')), 'delivered over SSH');
    const images = () => engineDocker().listImages({ filters: { label: [`caic.repo.path=${join(env.root, 'proj')}`] } });
    await waitUntil(images, (l) => l.length === 1, { what: 'the image made after the first task started' });
    const second = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    const two = await phases(second.id);
    assert.ok(two.some((p) => /^image: repository image found \(21 files/.test(p)), two.join('\n'));
    assert.ok(!two.some((p) => p.startsWith('push: ')), 'nothing over SSH');
    for (const [t, branch] of [[first, 'caic-1'], [second, 'caic-2']] as const) {
      const r = await env.execIn(t.id, 'cd ~/src/proj && git rev-parse --abbrev-ref HEAD && git status --porcelain && ls | wc -l', 'user');
      assert.equal(r.output, `${branch}\n21\n`);
    }
  });
});

describe('repository images', { skip: unsupportedOn(['podman', 'podman-rootless'], NO_REPO_IMAGES) }, () => {
  let t: TestRuntime;
  before(async () => {
    t = await testRuntime();
  });
  after(() => t[Symbol.asyncDispose]());
  const sh = async (c: ContainerHandle, cmd: string) => {
    const r = await t.rt.exec(c, cmd);
    assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
    return r.stdout;
  };
  const repoImages = async (repo: string) => (await t.docker.listImages({ filters: { label: ['caic.repo.path'] } })).filter((i) => i.Labels?.['caic.repo.path'] === repo);

  test('a container from the image creates none of the repository files; a commit is loaded once, another gets its own', async () => {
    const repo = await newRepo(t.dir.path, 'many');
    for (let i = 0; i < 200; i++) await writeFile(join(repo, `f${i}.txt`), `${i}\n`);
    git(repo, 'add', '-A');
    commit(repo, 'many');
    const spec = (branch: string): PushSpec => ({ hostRepo: repo, name: 'many', branch, baseBranch: 'main', baseRef: 'main', branchRef: 'main' });
    const [one, two] = await Promise.all([t.rt.repoImage(spec('caic-1'), { build: true }), t.rt.repoImage(spec('caic-2'), { build: true })]);
    assert.ok(one && two);
    assert.equal(one.image, two.image, 'one image for the commit');
    assert.deepEqual([one.built, two.built].sort(), [false, true], 'loaded once, by the first');
    assert.equal((await repoImages(repo)).length, 1);
    const c = await t.launch({ image: two.image, files: two.place });
    assert.equal(await sh(c, 'cd ~/src/many && git rev-parse --abbrev-ref HEAD && git status --porcelain && ls | wc -l'), 'caic-2\n200\n');
    // What the container's own layer holds under the repository: only the task's own files.
    const all = ((await t.docker.getContainer(c.id).changes()) ?? []) as { Path: string; Kind: number }[];
    const changes = all.filter((x) => x.Path.startsWith('/home/user/src/'));
    assert.deepEqual(changes.filter((x) => x.Kind === 1).map((x) => x.Path).sort(), ['/home/user/src/many/.git/HEAD', '/home/user/src/many/.git/config', '/home/user/src/many/.git/packed-refs']);
    assert.equal(await t.rt.repoImage(spec('caic-3'), { build: false }).then((r) => r?.image), one.image, 'found without loading');
    await writeFile(join(repo, 'f0.txt'), 'changed\n');
    git(repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'next');
    assert.equal(await t.rt.repoImage(spec('caic-4'), { build: false }), null, 'a new commit has none yet');
    const next = await t.rt.repoImage(spec('caic-4'), { build: true });
    assert.ok(next?.built && next.image !== one.image);
  });

  test("the directories above keep the image's owner and mode; what the image held at that path stays hidden", async () => {
    const tag = `caic-test-parent:${randomBytes(4).toString('hex')}`;
    const dockerfile = 'FROM caic-agent:latest\nRUN chmod 0750 /home/user && install -d -o user -g user /home/user/src/hidden && echo stale > /home/user/src/hidden/stale\n';
    dockerCli(['build', '-q', '-t', tag, '-'], { input: dockerfile, stdio: ['pipe', 'ignore', 'pipe'] });
    try {
      const repo = await newRepo(t.dir.path, 'hidden');
      await writeFile(join(repo, 'fresh'), 'fresh\n');
      git(repo, 'add', '-A');
      commit(repo, 'fresh');
      const img = await t.rt.repoImage({ hostRepo: repo, name: 'hidden', branch: 'caic-1', baseBranch: 'main', baseRef: 'main', branchRef: 'main' }, { build: true, image: tag });
      assert.ok(img);
      const c = await t.launch({ image: img.image, files: img.place });
      assert.equal(await sh(c, 'stat -c "%a %U %G" /home /home/user /home/user/src && ls -A ~/src/hidden'), '755 root root\n750 user user\n755 user user\n.git\nfresh\n');
    } finally {
      await removeRepoImages(t.docker, t.dir.path);
      await t.docker.getImage(tag).remove({ force: true }).catch(() => undefined);
    }
  });

  test('older images of a repository go as new ones come; one a container uses, or a task holds, stays', async () => {
    const repo = await newRepo(t.dir.path, 'evict');
    const images: string[] = [];
    const build = async () => {
      git(repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', `c${images.length}`);
      const img = await t.rt.repoImage({ hostRepo: repo, name: 'evict', branch: 'caic-1', baseBranch: 'main', baseRef: 'main', branchRef: 'main' }, { build: true });
      images.push(img!.image);
      return img!;
    };
    const tags = async () => (await repoImages(repo)).flatMap((i) => i.RepoTags ?? []).sort();
    // The oldest is in use by a container: never removed under it.
    const first = await build();
    await t.launch({ image: first.image });
    first.release();
    // The second is handed out and not released: a task about to create its container from it.
    const held = await build();
    for (let i = 0; i <= KEEP_PER_REPO; i++) (await build()).release();
    let want = [images[0]!, images[1]!, ...images.slice(-KEEP_PER_REPO)].sort();
    assert.deepEqual(await waitUntil(tags, (got) => JSON.stringify(got) === JSON.stringify(want), { what: 'the older images removed' }), want);
    // Released, it goes with the next one.
    held.release();
    (await build()).release();
    want = [images[0]!, ...images.slice(-KEEP_PER_REPO)].sort();
    assert.deepEqual(await waitUntil(tags, (got) => JSON.stringify(got) === JSON.stringify(want), { what: 'the released image removed' }), want);
  });

  test('the images of a repository deleted from the host go with the next image made; others stay', async () => {
    const spec = (repo: string, name: string) => ({ hostRepo: repo, name, branch: 'caic-1', baseBranch: 'main', baseRef: 'main', branchRef: 'main' });
    const made = async (name: string) => {
      const repo = await newRepo(t.dir.path, name);
      git(repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'first');
      return repo;
    };
    const gone = await made('deleted-later');
    const kept = await made('kept');
    (await t.rt.repoImage(spec(gone, 'deleted-later'), { build: true }))!.release();
    (await t.rt.repoImage(spec(kept, 'kept'), { build: true }))!.release();
    await rm(gone, { recursive: true, force: true });
    const other = await made('next');
    (await t.rt.repoImage(spec(other, 'next'), { build: true }))!.release();
    await waitUntil(async () => (await repoImages(gone)).length, (n) => n === 0, { what: 'the deleted repository’s image removed' });
    assert.equal((await repoImages(kept)).length, 1, 'a repository still on the host keeps its image');
  });

});

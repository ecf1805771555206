// Repository delivery without a git transport: the host writes a tar of a new repository (one pack
// of the task's commits with its index, refs and config written here, the work tree from the
// commit's blobs), Docker unpacks it into the container, and one command inside builds the index.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack, type Pack } from 'tar-stream';
import { shellQuote } from './env-file.js';
import { ContainerError } from './errors.js';
import { git } from './git.js';

export interface RepoDeliverySpec {
  /** Host repository (absolute path). */
  hostRepo: string;
  /** Absolute directory inside the container, e.g. /home/user/src/proj; must not exist yet. */
  dir: string;
  /** Task branch: created at `branchRef`'s commit and checked out. */
  branch: string;
  /** Commit-ish on the host for the branch (default `refs/heads/<branch>`). */
  branchRef?: string;
  /** Base branch: its commit becomes `origin/<baseBranch>`, the upstream and `caic.base`. */
  baseBranch: string;
  baseRef: string;
  /** Set as `remote.origin.url` (https form, no credentials). */
  originUrl?: string;
  /** Owner of everything delivered (the container's user). */
  uid: number;
  gid: number;
}

/** What the host prepared; deliver it with `tar()` and `finishCommand`, then `dispose()`. */
export interface RepoPackage {
  readonly branchSha: string;
  readonly baseSha: string;
  /** Files of the work tree in the archive. */
  readonly files: number;
  /** The tar for putArchive (extraction root `/`); may be read once. */
  tar(): Readable;
  /** The shell command that finishes the repository inside (index), and what it reads on stdin. */
  readonly finishCommand: string;
  readonly finishStdin: Buffer;
  dispose(): Promise<void>;
}

interface TreeEntry {
  /** 100644, 100755, 120000 (symlink) or 160000 (submodule). */
  mode: string;
  sha: string;
  path: string;
}

/** Attributes under which checkout writes bytes other than the blob's (or runs a filter). */
const CONVERTING_ATTRS = ['eol', 'ident', 'working-tree-encoding', 'filter'];
const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true });
const DEFAULT_EXCLUDE = `# git ls-files --others --exclude-from=.git/info/exclude
# Lines that start with '#' are comments.
`;

/** Git's own refusal list for checked-out paths: a tree entry that could write into .git or escape. */
function badComponent(c: string): boolean {
  return c === '' || c === '.' || c === '..' || c.toLowerCase() === '.git';
}

/** Value for .git/config: quoted, with the two characters git escapes; no control characters. */
function configValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(v)) throw new ContainerError(`invalid value for the repository config: ${JSON.stringify(v)}`);
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `git ls-tree -r -z --full-tree` records: `<mode> <type> <sha>\t<path>\0`, paths as raw bytes. */
function parseTree(out: Buffer): { entries: TreeEntry[]; undecodable: Buffer[] } {
  const entries: TreeEntry[] = [];
  const undecodable: Buffer[] = [];
  let from = 0;
  while (from < out.length) {
    let end = out.indexOf(0, from);
    if (end < 0) end = out.length;
    const tab = out.indexOf(9, from);
    if (tab < 0 || tab > end) throw new ContainerError('unexpected output from git ls-tree');
    const [mode, , sha] = out.toString('latin1', from, tab).split(' ');
    const raw = out.subarray(tab + 1, end);
    from = end + 1;
    let path: string;
    try {
      path = FATAL_UTF8.decode(raw);
    } catch {
      // The tar header would not carry these bytes faithfully: checked out inside instead.
      undecodable.push(Buffer.from(raw));
      continue;
    }
    entries.push({ mode: mode!, sha: sha!, path });
  }
  return { entries, undecodable };
}

/** Paths whose checkout applies a conversion or filter, judged by the commit's own .gitattributes. */
async function convertedPaths(hostRepo: string, sha: string, paths: string[], tmp: string): Promise<Set<string>> {
  const env = { ...process.env, GIT_INDEX_FILE: join(tmp, 'index') };
  await git(hostRepo, ['read-tree', sha], env);
  // The host's own attribute files (core.attributesFile, info/attributes) can only add paths, never hide one.
  const out = await gitBuffer(hostRepo, ['-c', 'core.attributesFile=/dev/null', 'check-attr', '--cached', '-z', '--stdin', ...CONVERTING_ATTRS], env, Buffer.from(paths.map((p) => `${p}\0`).join('')));
  const fields = out.toString('utf8').split('\0');
  const found = new Set<string>();
  for (let i = 0; i + 2 < fields.length; i += 3) {
    const [path, attr, value] = [fields[i]!, fields[i + 1]!, fields[i + 2]!];
    if (value === 'unspecified' || value === 'unset') continue;
    if (attr === 'eol' && value !== 'crlf') continue;
    found.add(path);
  }
  return found;
}

function gitBuffer(cwd: string, args: string[], env: NodeJS.ProcessEnv, stdin?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e) => reject(new ContainerError(`git ${args[0]} in ${cwd} failed: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new ContainerError(`git ${args.find((a) => !a.startsWith('-') && !a.includes('='))} in ${cwd} failed: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
    child.stdin.on('error', () => undefined); // a failing git closes its stdin early; the exit code tells
    child.stdin.end(stdin ?? Buffer.alloc(0));
  });
}

/**
 * Host side: resolves both commits, packs every object they reach (pack + index, as git writes
 * them into a repository), lists the tree, and finds paths the container must check out itself.
 */
export async function prepareRepo(spec: RepoDeliverySpec): Promise<RepoPackage> {
  const tmp = await mkdtemp(join(tmpdir(), 'caic-repo-'));
  try {
    // Both are commit-ish names of ours (a validated branch, a commit id): never options.
    const [branchSha, baseSha] = (await git(spec.hostRepo, ['rev-parse', `${spec.branchRef ?? `refs/heads/${spec.branch}`}^{commit}`, `${spec.baseRef}^{commit}`])).trim().split('\n') as [string, string];
    const [packHash, tree] = await Promise.all([
      gitBuffer(spec.hostRepo, ['pack-objects', '--revs', '--quiet', '--delta-base-offset', join(tmp, 'pack')], process.env, Buffer.from(`${branchSha}\n${baseSha}\n`)),
      gitBuffer(spec.hostRepo, ['ls-tree', '-r', '-z', '--full-tree', branchSha], process.env),
    ]);
    const hash = packHash.toString().trim();
    const packFiles = (await readdir(tmp)).filter((f) => f.startsWith(`pack-${hash}.`)).sort();
    const sizes = await Promise.all(packFiles.map(async (f) => (await stat(join(tmp, f))).size));
    const { entries, undecodable } = parseTree(tree);
    for (const e of entries) {
      if (e.path.split('/').some(badComponent)) throw new ContainerError(`refusing to deliver ${spec.hostRepo}: the tree holds the path "${e.path}", which git itself would not check out`);
    }
    const inside: Buffer[] = [...undecodable];
    let skip = new Set<string>();
    if (entries.some((e) => e.path === '.gitattributes' || e.path.endsWith('/.gitattributes'))) {
      skip = await convertedPaths(spec.hostRepo, branchSha, entries.filter((e) => e.mode !== '160000').map((e) => e.path), tmp);
      for (const p of skip) inside.push(Buffer.from(p));
    }
    const work = entries.filter((e) => !skip.has(e.path));
    // The index from HEAD, then stat data from the files Docker wrote (no reflog entry, no ORIG_HEAD).
    const finish = ['set -e', `cd ${shellQuote(spec.dir)}`, 'git read-tree HEAD'];
    if (inside.length) finish.push('git checkout-index -f -z --stdin');
    finish.push('git update-index -q --refresh >/dev/null');
    return {
      branchSha,
      baseSha,
      files: work.filter((e) => e.mode !== '160000').length,
      finishCommand: finish.join('\n'),
      finishStdin: Buffer.concat(inside.map((p) => Buffer.concat([p, Buffer.from([0])]))),
      tar: () => Readable.from(writeTar(spec, { branchSha, baseSha, tmp, packFiles, sizes, work }), { objectMode: false }),
      dispose: () => rm(tmp, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

interface TarPlan {
  branchSha: string;
  baseSha: string;
  tmp: string;
  packFiles: string[];
  sizes: number[];
  work: TreeEntry[];
}

/** The archive: .git first (written here, nothing copied from the host's .git), then the work tree. */
function writeTar(spec: RepoDeliverySpec, plan: TarPlan): AsyncIterable<Buffer> {
  const p = pack();
  const mtime = new Date();
  const owner = { uid: spec.uid, gid: spec.gid, uname: 'user', gname: 'user', mtime };
  const root = spec.dir.replace(/^\/+/, '').replace(/\/+$/, '');
  const add = (header: Parameters<Pack['entry']>[0], content?: string | Buffer) =>
    new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content === undefined) p.entry({ ...owner, ...header }, cb);
      else p.entry({ ...owner, ...header }, content, cb);
    });
  const dir = (path: string) => add({ name: `${root}${path ? `/${path}` : ''}`, type: 'directory', mode: 0o755 });
  const file = (path: string, content: string | Buffer, mode = 0o644) => add({ name: `${root}/${path}`, mode }, content);

  const produce = async () => {
    const { branch, baseBranch } = spec;
    await dir('');
    for (const d of ['.git', '.git/hooks', '.git/info', '.git/objects', '.git/objects/info', '.git/objects/pack', '.git/refs', '.git/refs/heads', '.git/refs/tags']) await dir(d);
    await file('.git/HEAD', `ref: refs/heads/${branch}\n`);
    const config = [
      '[core]',
      '\trepositoryformatversion = 0',
      '\tfilemode = true',
      '\tbare = false',
      '\tlogallrefupdates = true',
      '[remote "origin"]',
      ...(spec.originUrl ? [`\turl = ${configValue(spec.originUrl)}`] : []),
      '\tfetch = +refs/heads/*:refs/remotes/origin/*',
      `[branch ${configValue(branch)}]`,
      '\tremote = origin',
      `\tmerge = ${configValue(`refs/heads/${baseBranch}`)}`,
      '[caic]',
      `\tbase = ${plan.baseSha}`,
      '',
    ];
    await file('.git/config', config.join('\n'));
    const refs = [`${plan.branchSha} refs/heads/${branch}`, `${plan.baseSha} refs/remotes/origin/${baseBranch}`].sort((a, b) => (a.slice(41) < b.slice(41) ? -1 : 1));
    await file('.git/packed-refs', `# pack-refs with: peeled fully-peeled sorted \n${refs.join('\n')}\n`);
    await file('.git/description', 'Unnamed repository; edit this file to name it for gitweb.\n');
    await file('.git/info/exclude', DEFAULT_EXCLUDE);
    for (const [i, f] of plan.packFiles.entries()) {
      await streamEntry(p, { ...owner, name: `${root}/.git/objects/pack/${f}`, mode: 0o444, size: plan.sizes[i]! }, createReadStream(join(plan.tmp, f)));
    }
    await writeWorkTree(spec, plan.work, root, owner, p, dir);
    p.finalize();
  };
  produce().catch((err: unknown) => p.destroy(err instanceof Error ? err : new Error(String(err))));
  return p as unknown as AsyncIterable<Buffer>;
}

/** Streams one tar entry's content from `source` with backpressure. */
async function streamEntry(p: Pack, header: Parameters<Pack['entry']>[0], source: AsyncIterable<Buffer>): Promise<void> {
  let sink!: ReturnType<Pack['entry']>;
  const done = new Promise<void>((resolve, reject) => {
    sink = p.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  // A failure reaches the archive's reader through the pack; the entry's own error is that one again.
  done.catch(() => undefined);
  (sink as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  for await (const chunk of source) if (!sink.write(chunk)) await once(sink as unknown as NodeJS.EventEmitter, 'drain');
  (sink as unknown as NodeJS.WritableStream).end();
  await done;
}

/**
 * The work tree as checkout writes it (blobs as they are, executable bits, symlinks, an empty
 * directory per submodule), owned by the container's user. Blobs stream from one `git cat-file`.
 */
async function writeWorkTree(
  spec: RepoDeliverySpec,
  work: TreeEntry[],
  root: string,
  owner: { uid: number; gid: number; uname: string; gname: string; mtime: Date },
  p: Pack,
  dir: (path: string) => Promise<void>,
): Promise<void> {
  const dirs = new Set<string>(['']);
  /** Paths written as files or symlinks: nothing may go below them (a symlink must not redirect a later entry). */
  const leaves = new Set<string>();
  const ensureParents = async (path: string) => {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (leaves.has(d)) throw new ContainerError(`refusing to deliver ${spec.hostRepo}: "${path}" lies below the file or symlink "${d}"`);
      if (!dirs.has(d)) {
        dirs.add(d);
        await dir(d);
      }
    }
    if (leaves.has(path) || dirs.has(path)) throw new ContainerError(`refusing to deliver ${spec.hostRepo}: the tree holds "${path}" twice`);
  };
  const blobs = work.filter((e) => e.mode !== '160000');
  const cat = blobs.length ? catFile(spec.hostRepo, blobs.map((e) => e.sha)) : null;
  try {
    for (const e of work) {
      await ensureParents(e.path);
      const name = `${root}/${e.path}`;
      if (e.mode === '160000') {
        dirs.add(e.path);
        await dir(e.path);
        continue;
      }
      leaves.add(e.path);
      const size = await cat!.next(e.sha);
      if (e.mode === '120000') {
        const target = await cat!.readAll(size);
        await new Promise<void>((resolve, reject) =>
          p.entry({ ...owner, name, type: 'symlink', linkname: target.toString('utf8'), mode: 0o777 }, (err) => (err ? reject(err) : resolve())),
        );
      } else {
        await streamEntry(p, { ...owner, name, mode: e.mode === '100755' ? 0o755 : 0o644, size }, cat!.body(size));
      }
    }
    await cat?.close();
  } finally {
    cat?.kill();
  }
}

/** One `git cat-file --batch` for every blob, read in the order asked. */
function catFile(cwd: string, shas: string[]) {
  const child: ChildProcessWithoutNullStreams = spawn('git', ['cat-file', '--batch', '--buffer'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  child.on('error', () => undefined);
  child.stdin.on('error', () => undefined);
  child.stdin.end(shas.map((s) => `${s}\n`).join(''));
  const it = child.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let buf: Buffer = Buffer.alloc(0);
  const fill = async (): Promise<void> => {
    const r = await it.next();
    if (r.done) {
      const code = await exited;
      throw new ContainerError(`git cat-file in ${cwd} ended early (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
    buf = buf.length ? Buffer.concat([buf, r.value]) : r.value;
  };
  return {
    /** Reads the header of the next object; returns its size. */
    async next(sha: string): Promise<number> {
      let nl: number;
      while ((nl = buf.indexOf(10)) < 0) await fill();
      const header = buf.toString('latin1', 0, nl);
      buf = buf.subarray(nl + 1);
      const m = /^([0-9a-f]+) blob (\d+)$/.exec(header);
      if (!m || m[1] !== sha) throw new ContainerError(`git cat-file in ${cwd}: expected blob ${sha}, got "${header}"`);
      return Number(m[2]);
    },
    /** The object's bytes in pieces, then its trailing newline consumed. */
    async *body(size: number): AsyncGenerator<Buffer> {
      let left = size;
      while (left > 0) {
        if (!buf.length) await fill();
        const piece = buf.subarray(0, Math.min(left, buf.length));
        buf = buf.subarray(piece.length);
        left -= piece.length;
        yield piece;
      }
      while (!buf.length) await fill();
      buf = buf.subarray(1);
    },
    async readAll(size: number): Promise<Buffer> {
      const parts: Buffer[] = [];
      for await (const c of this.body(size)) parts.push(c);
      return Buffer.concat(parts);
    },
    async close(): Promise<void> {
      const code = await exited;
      if (code !== 0) throw new ContainerError(`git cat-file in ${cwd} failed (exit ${code}): ${stderr.trim()}`);
    },
    kill(): void {
      if (child.exitCode === null) child.kill();
    },
  };
}

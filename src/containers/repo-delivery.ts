// Repository delivery without a git transport. The host reads, once per commit, one pack of the
// commits' objects with its index and the work tree from their blobs, and writes them as a tar:
// - as an image layer (buildRepoLayer): the repository under /home/user/src/<name> with its index,
//   loaded once per commit as an image that task containers start from (repo-image.ts); each task
//   adds only its own few files (HEAD, config, refs: repoHeadFiles) with the host key;
// - as the body of an archive that one SSH command unpacks into a running container (prepareRepo),
//   after a few files written here: the way when no image can be made.
// Nothing is copied from the host's .git. Tasks started from the same commit share the snapshot.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
}

/** What the host prepared: run `command` in the container with `tar()` on its stdin, then `dispose()`. */
export interface RepoPackage {
  readonly branchSha: string;
  readonly baseSha: string;
  /** Files of the work tree in the archive. */
  readonly files: number;
  /** The archive, paths relative to the repository directory; one reader per call. */
  tar(): Readable;
  /** Creates the directory (refusing one that exists), unpacks stdin as the user, builds the index. */
  readonly command: string;
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
/** In .git while the delivery runs: the paths `git checkout-index` writes inside. */
const CHECKOUT_LIST = 'caic-checkout';
/** Blobs up to this size are read whole; larger ones stream. */
const WHOLE_BLOB = 1024 * 1024;
/** The prefix of whiteout entries in an image layer (the OCI image spec's, and overlayfs's in Docker). */
const WHITEOUT = '.wh.';
/** uid and gid of `user` in the agent image. */
const USER_ID = 1000;
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

/** A snapshot stays this long after its last package is disposed (the next task from the same commit). */
const KEEP_MS = 60_000;
/** The two zero blocks that end a tar. */
const END_OF_TAR = 1024;

interface Snapshot {
  dir: string;
  /** Tar entries of the pack and the work tree, ending with the end-of-archive blocks. */
  body: string;
  files: number;
  users: number;
  timer?: NodeJS.Timeout;
}

const snapshots = new Map<string, Promise<Snapshot>>();
const live = new Set<string>();
// Snapshots hold repository content: never left in the temporary directory by a daemon that exits.
process.once('exit', () => {
  for (const dir of live) rmSync(dir, { recursive: true, force: true });
});

async function acquire(hostRepo: string, branchSha: string, baseSha: string): Promise<{ snap: Snapshot; release: () => void }> {
  const key = `${hostRepo}\0${branchSha}\0${baseSha}`;
  const start = () => {
    const p = buildSnapshot(hostRepo, branchSha, baseSha);
    snapshots.set(key, p);
    // A failed build is not kept: the next task tries again.
    p.catch(() => snapshots.get(key) === p && snapshots.delete(key));
    return p;
  };
  let pending = snapshots.get(key) ?? start();
  let snap = await pending;
  // A kept snapshot whose file went away (a temporary-directory cleaner) is built again.
  if (!(await stat(snap.body).then(() => true, () => false))) {
    if (snapshots.get(key) === pending) {
      snapshots.delete(key);
      live.delete(snap.dir);
      void rm(snap.dir, { recursive: true, force: true });
    }
    pending = snapshots.get(key) ?? start();
    snap = await pending;
  }
  snap.users++;
  clearTimeout(snap.timer);
  let released = false;
  return {
    snap,
    release: () => {
      if (released) return;
      released = true;
      if (--snap.users > 0) return;
      snap.timer = setTimeout(() => {
        if (snap.users > 0 || snapshots.get(key) !== pending) return;
        snapshots.delete(key);
        live.delete(snap.dir);
        void rm(snap.dir, { recursive: true, force: true });
      }, KEEP_MS);
      snap.timer.unref();
    },
  };
}

/** What a snapshot is made of: the pack files in `dir`, the tree entries tar carries, paths git writes inside. */
interface Collected {
  packFiles: string[];
  work: TreeEntry[];
  inside: Buffer[];
}

/**
 * Packs every object the two commits reach (pack + index, as git writes them into a repository),
 * lists the tree, and finds paths the container must check out itself.
 */
async function collect(hostRepo: string, branchSha: string, baseSha: string, dir: string): Promise<Collected> {
  const [packHash, tree] = await Promise.all([
    gitBuffer(hostRepo, ['pack-objects', '--revs', '--quiet', '--delta-base-offset', join(dir, 'pack')], process.env, Buffer.from(`${branchSha}\n${baseSha}\n`)),
    gitBuffer(hostRepo, ['ls-tree', '-r', '-z', '--full-tree', branchSha], process.env),
  ]);
  const hash = packHash.toString().trim();
  const packFiles = (await readdir(dir)).filter((f) => f.startsWith(`pack-${hash}.`)).sort();
  const { entries, undecodable } = parseTree(tree);
  for (const e of entries) {
    if (e.path.split('/').some(badComponent)) throw new ContainerError(`refusing to deliver ${hostRepo}: the tree holds the path "${e.path}", which git itself would not check out`);
  }
  const inside: Buffer[] = [...undecodable];
  let skip = new Set<string>();
  if (entries.some((e) => e.path === '.gitattributes' || e.path.endsWith('/.gitattributes'))) {
    skip = await convertedPaths(hostRepo, branchSha, entries.filter((e) => e.mode !== '160000').map((e) => e.path), dir);
    for (const p of skip) inside.push(Buffer.from(p));
  }
  return { packFiles, work: entries.filter((e) => !skip.has(e.path)), inside };
}

/** Writes the snapshot's SSH archive body; the pack files are not needed after that. */
async function buildSnapshot(hostRepo: string, branchSha: string, baseSha: string): Promise<Snapshot> {
  const dir = await mkdtemp(join(tmpdir(), 'caic-repo-'));
  live.add(dir);
  try {
    const { packFiles, work, inside } = await collect(hostRepo, branchSha, baseSha, dir);
    const body = join(dir, 'body.tar');
    await pipeline(Readable.from(writeBody(hostRepo, dir, packFiles, work, inside, { prefix: '', owner: null, lead: [] })), createWriteStream(body, { mode: 0o600 }));
    // The pack is in the body now; its own files are not needed any more.
    await Promise.all(packFiles.map((f) => rm(join(dir, f), { force: true })));
    return { dir, body, files: work.filter((e) => e.mode !== '160000').length, users: 0 };
  } catch (err) {
    live.delete(dir);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A directory above the repository as the image has it, so the layer keeps its owner and mode. */
export interface ParentDir {
  /** Path relative to /, without a trailing slash: `home`, `home/user`, `home/user/src`. */
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

/** An image layer holding one repository state, written to a private temporary file. */
export interface RepoLayer {
  path: string;
  /** `sha256:<hex>` of the uncompressed tar: the layer's DiffID. */
  diffId: string;
  size: number;
  files: number;
  /** Some paths are left to `git checkout-index` in the container (checkoutInsideCommand). */
  checkoutInside: boolean;
  dispose(): Promise<void>;
}

/**
 * The repository as an image layer: `dir` (e.g. /home/user/src/proj, opaque: nothing of a lower
 * layer shows through) with the work tree, the pack, the index (built from the commit on the host,
 * without stat data: git compares the files' contents on first use, as after `git read-tree`), and
 * `.git` without HEAD, config and refs, which each task adds (repoHeadFiles). Everything belongs to
 * the user; `parents` are the image's own directories above `dir`, written unchanged.
 */
export async function buildRepoLayer(spec: { hostRepo: string; dir: string; branchSha: string; baseSha: string; parents: ParentDir[] }): Promise<RepoLayer> {
  const tmp = await mkdtemp(join(tmpdir(), 'caic-layer-'));
  live.add(tmp);
  const dispose = async () => {
    live.delete(tmp);
    await rm(tmp, { recursive: true, force: true });
  };
  try {
    const collected = await collect(spec.hostRepo, spec.branchSha, spec.baseSha, tmp);
    const { packFiles } = collected;
    // A name that starts with `.wh.` is a whiteout in a layer (the engine would delete a sibling, or
    // hide a directory's lower content, instead of creating it): git checks such paths out inside.
    const whiteout = (e: TreeEntry) => e.path.split('/').some((c) => c.startsWith(WHITEOUT));
    const work = collected.work.filter((e) => !whiteout(e));
    const inside = [...collected.inside, ...collected.work.filter(whiteout).map((e) => Buffer.from(e.path))];
    const index = join(tmp, 'index');
    // Index format 2 with its checksum: whatever the host's git prefers, the container's older git reads it.
    await gitBuffer(spec.hostRepo, ['-c', 'index.version=2', '-c', 'index.skipHash=false', '-c', 'core.splitIndex=false', '-c', 'core.sparseCheckout=false', 'read-tree', spec.branchSha], { ...process.env, GIT_INDEX_FILE: index });
    const prefix = `${spec.dir.replace(/^\/+/, '')}/`;
    const mtime = new Date();
    const lead: LeadEntry[] = [
      ...spec.parents.map((d) => ({ name: `${d.path}/`, dir: true as const, mode: d.mode, uid: d.uid, gid: d.gid, mtime })),
      { name: prefix, dir: true, mode: 0o755, uid: USER_ID, gid: USER_ID, mtime },
      // An opaque directory: what a lower layer may hold at this path stays hidden.
      { name: `${prefix}.wh..wh..opq`, content: Buffer.alloc(0), mode: 0o644, uid: USER_ID, gid: USER_ID, mtime },
      ...GIT_DIRS.map((d) => ({ name: `${prefix}${d}/`, dir: true as const, mode: 0o755, uid: USER_ID, gid: USER_ID, mtime })),
      ...STATIC_GIT_FILES.map((f) => ({ name: `${prefix}${f.name}`, content: Buffer.from(f.content), mode: 0o644, uid: USER_ID, gid: USER_ID, mtime })),
      { name: `${prefix}.git/index`, file: index, mode: 0o644, uid: USER_ID, gid: USER_ID, mtime },
    ];
    const path = join(tmp, 'layer.tar');
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    const result = { checkoutInside: false };
    await pipeline(Readable.from(writeBody(spec.hostRepo, tmp, packFiles, work, inside, { prefix, owner: USER_ID, lead, result })), tap, createWriteStream(path, { mode: 0o600 }));
    await Promise.all([...packFiles.map((f) => rm(join(tmp, f), { force: true })), rm(index, { force: true })]);
    return { path, diffId: `sha256:${hash.digest('hex')}`, size, files: collected.work.filter((e) => e.mode !== '160000').length, checkoutInside: result.checkoutInside, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** Run in the repository before the agent starts, when the layer left paths to git (checkoutInside). */
export function checkoutInsideCommand(dir: string): string {
  const d = shellQuote(dir);
  return `cd ${d} && if [ -f .git/${CHECKOUT_LIST} ]; then git checkout-index -f -z --stdin < .git/${CHECKOUT_LIST} && rm -f .git/${CHECKOUT_LIST}; fi`;
}

/** Both commits as ids: ids pass as they are, names are looked up. */
export async function resolveCommits(hostRepo: string, branchRef: string, baseRef: string): Promise<[string, string]> {
  if ([branchRef, baseRef].every((r) => /^[0-9a-f]{40}$/.test(r))) return [branchRef, baseRef];
  // Both are names of ours (a validated branch, a commit-ish the caller checked): never options.
  return (await git(hostRepo, ['rev-parse', `${branchRef}^{commit}`, `${baseRef}^{commit}`])).trim().split('\n') as [string, string];
}

/** A task's own files of its repository (HEAD, config, refs), placed with the host key before the start. */
export function repoHeadFiles(spec: RepoDeliverySpec, branchSha: string, baseSha: string): { path: string; content: string; mode: number }[] {
  return headFiles(spec, branchSha, baseSha).map((f) => ({ path: `${spec.dir}/${f.name}`, content: f.content, mode: 0o644 }));
}

/** Host side of one task's delivery: the commits resolved, the snapshot built (or shared). */
export async function prepareRepo(spec: RepoDeliverySpec): Promise<RepoPackage> {
  const [branchSha, baseSha] = await resolveCommits(spec.hostRepo, spec.branchRef ?? `refs/heads/${spec.branch}`, spec.baseRef);
  const head = await headTar(spec, branchSha, baseSha);
  const { snap, release } = await acquire(spec.hostRepo, branchSha, baseSha);
  const dir = shellQuote(spec.dir);
  // mkdir without -p: a directory that exists already is an error, never merged into. The index
  // comes from HEAD, its stat data from the files tar wrote (no reflog entry, no ORIG_HEAD).
  const command = [
    'set -e',
    `mkdir -p -- "$(dirname -- ${dir})"`,
    `mkdir -- ${dir}`,
    `tar -x -f - -C ${dir}`,
    `cd ${dir}`,
    'git read-tree HEAD',
    `if [ -f .git/${CHECKOUT_LIST} ]; then git checkout-index -f -z --stdin < .git/${CHECKOUT_LIST}; rm -f .git/${CHECKOUT_LIST}; fi`,
    'git update-index -q --refresh >/dev/null',
  ].join('\n');
  let disposed = false;
  return {
    branchSha,
    baseSha,
    files: snap.files,
    command,
    tar: () => {
      if (disposed) throw new ContainerError('this repository package was already disposed');
      return Readable.from(concat(head, snap.body));
    },
    dispose: () => {
      disposed = true;
      release();
      return Promise.resolve();
    },
  };
}

async function* concat(head: Buffer, body: string): AsyncGenerator<Buffer> {
  yield head;
  yield* createReadStream(body, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>;
}

/** The .git directories a repository needs before its first use. */
const GIT_DIRS = ['.git', '.git/hooks', '.git/info', '.git/objects', '.git/objects/info', '.git/objects/pack', '.git/refs', '.git/refs/heads', '.git/refs/tags'];
/** Files of .git that are the same in every repository. */
const STATIC_GIT_FILES = [
  { name: '.git/description', content: 'Unnamed repository; edit this file to name it for gitweb.\n' },
  { name: '.git/info/exclude', content: DEFAULT_EXCLUDE },
];

/** The files of .git that belong to one task: HEAD on its branch, config with upstream, origin and caic.base, the refs. */
function headFiles(spec: RepoDeliverySpec, branchSha: string, baseSha: string): { name: string; content: string }[] {
  const { branch, baseBranch } = spec;
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
    `\tbase = ${baseSha}`,
    '',
  ].join('\n');
  const refs = [`${branchSha} refs/heads/${branch}`, `${baseSha} refs/remotes/origin/${baseBranch}`].sort((a, b) => (a.slice(41) < b.slice(41) ? -1 : 1));
  return [
    { name: '.git/HEAD', content: `ref: refs/heads/${branch}\n` },
    { name: '.git/config', content: config },
    { name: '.git/packed-refs', content: `# pack-refs with: peeled fully-peeled sorted \n${refs.join('\n')}\n` },
  ];
}

/** The task's own entries (directories of .git, HEAD, config, refs), without the end-of-archive blocks. */
async function headTar(spec: RepoDeliverySpec, branchSha: string, baseSha: string): Promise<Buffer> {
  const entries: ArchiveFile[] = [
    ...GIT_DIRS.map((name) => ({ name, dir: true as const })),
    ...headFiles(spec, branchSha, baseSha),
    ...STATIC_GIT_FILES,
  ];
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  const mtime = new Date();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if ('dir' in e) p.entry({ name: e.name, type: 'directory', mode: 0o755, mtime }, cb);
      else p.entry({ name: e.name, mode: 0o644, mtime }, e.content, cb);
    });
  }
  p.finalize();
  await ended;
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.length - END_OF_TAR);
}

type ArchiveFile = { name: string; dir: true } | { name: string; content: string };

/** An entry written before the snapshot's own: a directory, content, or a file's bytes. */
type LeadEntry = { name: string; mode: number; uid: number; gid: number; mtime: Date } & ({ dir: true } | { content: Buffer } | { file: string });

interface BodyOptions {
  /** Prepended to every path of the snapshot (`home/user/src/proj/` for a layer; '' for the SSH body). */
  prefix: string;
  /** Owner of every entry of the snapshot; null: root's (tar run as the user makes them the user's). */
  owner: number | null;
  lead: LeadEntry[];
  /** Set when paths were left to `git checkout-index` inside. */
  result?: { checkoutInside: boolean };
}

/** The snapshot's entries: the lead, the pack, the work tree, the list of paths checked out inside; then the end. */
async function* writeBody(hostRepo: string, dir: string, packFiles: string[], work: TreeEntry[], inside: Buffer[], opts: BodyOptions): AsyncGenerator<Buffer> {
  const p = pack();
  let failure: Error | undefined;
  p.on('error', (err: Error) => (failure ??= err));
  const mtime = new Date();
  const owner = opts.owner === null ? {} : { uid: opts.owner, gid: opts.owner };
  const out = outOf(p, (h) => ({ ...h, name: `${opts.prefix}${h.name}`, ...owner }));
  const produce = async () => {
    for (const e of opts.lead) {
      const h = { name: e.name, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
      if ('dir' in e) await out.raw({ ...h, type: 'directory' });
      else if ('content' in e) await out.raw(h, e.content);
      else await streamEntry(p, { ...h, size: (await stat(e.file)).size }, createReadStream(e.file));
    }
    for (const f of packFiles) {
      const { size } = await stat(join(dir, f));
      await out.stream({ mtime, name: `.git/objects/pack/${f}`, mode: 0o444, size }, createReadStream(join(dir, f)));
    }
    const later = await writeWorkTree(hostRepo, work, mtime, out);
    const list = Buffer.concat([...inside, ...later].flatMap((x) => [x, Buffer.from([0])]));
    if (list.length) await out.entry({ name: `.git/${CHECKOUT_LIST}`, mode: 0o644, mtime }, list);
    if (opts.result) opts.result.checkoutInside = list.length > 0;
    p.finalize();
  };
  const producing = produce().catch((err: unknown) => {
    failure ??= err instanceof Error ? err : new Error(String(err));
    p.destroy(failure);
  });
  try {
    for await (const chunk of p as unknown as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    throw failure ?? err;
  }
  await producing;
  if (failure) throw failure;
}

type Header = Parameters<Pack['entry']>[0];

/** Where the snapshot's entries go: a tar pack, each header passed through `map` (prefix, owner). */
interface Out {
  entry(header: Header, content?: Buffer): Promise<void>;
  stream(header: Header, source: AsyncIterable<Buffer>): Promise<void>;
  /** An entry as it is, without `map`. */
  raw(header: Header, content?: Buffer): Promise<void>;
}

function outOf(p: Pack, map: (h: Header) => Header): Out {
  const raw = (header: Header, content?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content) p.entry(header, content, cb);
      else p.entry(header, cb);
    });
  return { raw, entry: (h, content) => raw(map(h), content), stream: (h, source) => streamEntry(p, map(h), source) };
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
 * directory per submodule). Blobs come from one `git cat-file`. Returns paths left to checkout
 * inside (a symlink whose target a tar header cannot carry).
 */
async function writeWorkTree(hostRepo: string, work: TreeEntry[], mtime: Date, out: Out): Promise<Buffer[]> {
  const later: Buffer[] = [];
  const dirs = new Set<string>(['']);
  /** Paths written as files or symlinks: nothing may go below them (a symlink must not redirect a later entry). */
  const leaves = new Set<string>();
  const ensureParents = async (path: string) => {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (leaves.has(d)) throw new ContainerError(`refusing to deliver ${hostRepo}: "${path}" lies below the file or symlink "${d}"`);
      if (!dirs.has(d)) {
        dirs.add(d);
        await dir(d);
      }
    }
    if (leaves.has(path) || dirs.has(path)) throw new ContainerError(`refusing to deliver ${hostRepo}: the tree holds "${path}" twice`);
  };
  const dir = (name: string) => out.entry({ name, type: 'directory', mode: 0o755, mtime });
  const entry = (header: Header, content?: Buffer) => out.entry(header, content);
  const blobs = work.filter((e) => e.mode !== '160000');
  const cat = blobs.length ? catFile(hostRepo, blobs.map((e) => e.sha)) : null;
  try {
    for (const e of work) {
      await ensureParents(e.path);
      if (e.mode === '160000') {
        dirs.add(e.path);
        await dir(e.path);
        continue;
      }
      leaves.add(e.path);
      const size = await cat!.next(e.sha);
      const mode = e.mode === '100755' ? 0o755 : 0o644;
      if (e.mode === '120000') {
        const target = await cat!.readAll(size);
        let linkname: string;
        try {
          linkname = FATAL_UTF8.decode(target);
        } catch {
          later.push(Buffer.from(e.path));
          continue;
        }
        await entry({ name: e.path, type: 'symlink', linkname, mode: 0o777, mtime });
      } else if (size <= WHOLE_BLOB) {
        await entry({ name: e.path, mode, mtime }, await cat!.readAll(size));
      } else {
        await out.stream({ name: e.path, mode, size, mtime }, cat!.body(size));
      }
    }
    await cat?.close();
  } finally {
    cat?.kill();
  }
  return later;
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
    /** The object's bytes in one buffer (small objects), then its trailing newline consumed. */
    async readAll(size: number): Promise<Buffer> {
      while (buf.length <= size) await fill();
      const out = buf.subarray(0, size);
      buf = buf.subarray(size + 1);
      return out;
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

// Repositories under [core] root: discovery kept current without a restart, default branch and remote, cloning, branch allocation.
import { execFile } from 'node:child_process';
import { lstat, mkdir, realpath, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import type { Repo } from '../api/index.js';
import { TaskError } from './errors.js';
import { isSearchedName, MAX_DEPTH, RepoTree } from './repo-tree.js';
import { SerialQueue } from './serial.js';
import { onUserPath, userPathError } from './user-path.js';

const execFileP = promisify(execFile);
/** How often the daemon looks for repositories added or removed under the root. */
export const REPO_POLL_MS = 5_000;
/** The poll uses at most this share of one core: a slow check (a huge tree) is spaced out in proportion. */
const POLL_DUTY = 0.01;
const DESCRIBE_CONCURRENCY = 8;

export interface RepoInfo extends Repo {
  /** Absolute path on the host. */
  path: string;
  /** HEAD resolves to a commit. Until then (an empty or half-cloned repository) it is read again on each update. */
  settled: boolean;
}

export async function git(cwd: string, args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await execFileP('git', args, {
      cwd,
      timeout: timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
      // Nobody can answer a prompt in a daemon: no password prompt, and ssh fails on an unknown
      // host key or a passphrase instead of waiting for the timeout.
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes', ...env },
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`git ${args[0]}: ${(e.stderr ?? e.message).trim().split('\n').slice(-2).join(' | ')}`, { cause: err });
  }
}

/**
 * A remote URL as the API shows it: credentials written into it (`https://user:token@host/…`) are
 * left out, since every signed-in user can list repositories.
 */
export function publicRemoteUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    // Not parseable as a URL but shaped like one: drop everything up to the last @ of the authority.
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1');
  }
}

/** The forge of a remote URL; the daemon injects the forge module's parser (`RepoRegistryOptions.classifyForge`), this guess stays for callers without one. */
function forgeOf(url: string): Repo['forge'] {
  if (/github\.com[:/]/i.test(url)) return 'github';
  if (/gitlab/i.test(url)) return 'gitlab';
  return '';
}

/** The remote to use: the one `main`/`master` tracks, else the only one, else `origin`. */
async function defaultRemote(path: string): Promise<string> {
  const remotes = (await git(path, ['remote'])).split('\n').filter(Boolean);
  for (const b of ['main', 'master']) {
    const r = (await git(path, ['config', '--get', `branch.${b}.remote`]).catch(() => '')).trim();
    if (r && remotes.includes(r)) return r;
  }
  if (remotes.length === 1) return remotes[0]!;
  return remotes.includes('origin') ? 'origin' : '';
}

async function defaultBranch(path: string, remote: string): Promise<string> {
  if (remote) {
    const head = (await git(path, ['symbolic-ref', '--short', `refs/remotes/${remote}/HEAD`]).catch(() => '')).trim();
    if (head) return head.slice(remote.length + 1);
  }
  for (const b of ['main', 'master']) {
    const refs = [`refs/heads/${b}`, ...(remote ? [`refs/remotes/${remote}/${b}`] : [])];
    for (const ref of refs) if (await git(path, ['rev-parse', '--verify', '--quiet', ref]).then(() => true, () => false)) return b;
  }
  return (await git(path, ['symbolic-ref', '--short', 'HEAD']).catch(() => 'main')).trim() || 'main';
}

/** Reads what the UI shows of a repository. The root itself may be the repository: it is then named after its directory. */
export async function describeRepo(root: string, path: string, classifyForge: (remoteURL: string) => Repo['forge'] = forgeOf): Promise<RepoInfo> {
  const remote = await defaultRemote(path);
  const remoteURL = publicRemoteUrl(remote ? (await git(path, ['remote', 'get-url', remote]).catch(() => '')).trim() : '');
  return {
    name: relative(root, path).split(sep).join('/') || basename(path),
    path,
    baseBranch: await defaultBranch(path, remote),
    remote,
    remoteURL,
    forge: classifyForge(remoteURL),
    // Interim (issue 11): the forge workstream fills the default branch's CI.
    ci: null,
    settled: await git(path, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']).then(
      () => true,
      () => false,
    ),
  };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface RepoRegistryOptions {
  /** `[core] allow_local_clone`: clone from file:// URLs (this server's own disk). */
  allowLocalClone?: boolean;
  /** Which configured forge a remote URL is on ('' for none); tasks cannot import forge, so it is given. */
  classifyForge?: (remoteURL: string) => Repo['forge'];
  /** Clock for the tree's racy-mtime rule (tests). */
  now?: () => number;
}

export class RepoRegistry {
  private repos = new Map<string, RepoInfo>();
  /** Work per repository (branch numbering, syncs) runs in order without blocking other repositories. */
  private readonly locks = new Map<string, SerialQueue>();
  private readonly lastBranch = new Map<string, number>();
  private readonly tree: RepoTree;
  private scanned = false;
  private fullWanted = false;
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(
    readonly root: string,
    private readonly opts: RepoRegistryOptions = {},
  ) {
    this.tree = new RepoTree(root, opts.now);
  }

  /** Directories the background check stats each time (see RepoTree). */
  get watchedDirs(): number {
    return this.tree.watched;
  }

  /**
   * Looks for repositories again. `full` searches every directory and reads every repository again
   * (what a user asks for); `changed` lists only directories whose mtime moved and reads only new or
   * unsettled repositories (the background check, and after a clone). A call made during a scan
   * gets one more scan after it, shared with every other caller meanwhile, so it sees every change
   * made before it called.
   */
  scan(mode: 'full' | 'changed' = 'full'): Promise<void> {
    if (mode === 'full') this.fullWanted = true;
    if (!this.running) return this.startScan();
    this.queued ??= this.running.then(() => {
      this.queued = null;
      return this.startScan();
    });
    return this.queued;
  }

  private startScan(): Promise<void> {
    const full = this.fullWanted || !this.scanned;
    this.fullWanted = false;
    const run: Promise<void> = this.runScan(full).finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  private async runScan(full: boolean): Promise<void> {
    if (full) await this.tree.rescan();
    else await this.tree.update();
    this.scanned = true;
    const known = new Map([...this.repos.values()].map((r) => [r.path, r]));
    const infos = await mapLimit(this.tree.repos(), DESCRIBE_CONCURRENCY, (path) => {
      const cached = known.get(path);
      if (cached?.settled && !full) return Promise.resolve(cached);
      return describeRepo(this.root, path, this.opts.classifyForge).catch(() => null);
    });
    this.repos = new Map(infos.filter((r): r is RepoInfo => r !== null).map((r) => [r.name, r]));
  }

  /**
   * Keeps the list current without a restart: a `changed` scan every `intervalMs` (one stat per
   * searched directory when nothing changed), spaced out further when a check is slow. Returns a
   * function that stops it.
   */
  watch(intervalMs = REPO_POLL_MS): () => void {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const schedule = (ms: number) => {
      timer = setTimeout(() => void tick(), ms);
      timer.unref();
    };
    const tick = async () => {
      const started = performance.now();
      await this.scan('changed');
      if (!stopped) schedule(Math.max(intervalMs, (performance.now() - started) / POLL_DUTY));
    };
    schedule(intervalMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  list(): RepoInfo[] {
    return [...this.repos.values()];
  }

  get(name: string): RepoInfo {
    const repo = this.repos.get(name);
    if (!repo) throw new TaskError('NOT_FOUND', `unknown repository "${name}"`);
    return repo;
  }

  lock(name: string): SerialQueue {
    return this.locks.get(name) ?? this.locks.set(name, new SerialQueue()).get(name)!;
  }

  async branches(name: string): Promise<{ name: string; remote: string }[]> {
    const repo = this.get(name);
    const out = await git(repo.path, ['for-each-ref', '--format=%(refname)', 'refs/heads', 'refs/remotes']);
    return out
      .split('\n')
      .filter((r) => r && !r.endsWith('/HEAD'))
      .map((ref) => {
        if (ref.startsWith('refs/heads/')) return { name: ref.slice('refs/heads/'.length), remote: '' };
        const [remote, ...rest] = ref.slice('refs/remotes/'.length).split('/');
        return { name: rest.join('/'), remote: remote ?? '' };
      });
  }

  /** Reserves the next `caic-N`: one more than any existing local or remote caic branch. */
  nextBranch(name: string): Promise<string> {
    const repo = this.get(name);
    return this.lock(name).run(async () => {
      const refs = await git(repo.path, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/caic-*', 'refs/remotes/*/caic-*']);
      let max = this.lastBranch.get(name) ?? 0;
      for (const ref of refs.split('\n')) {
        const m = /(?:^|\/)caic-(\d+)$/.exec(ref);
        if (m) max = Math.max(max, Number(m[1]));
      }
      this.lastBranch.set(name, max + 1);
      return `caic-${max + 1}`;
    });
  }

  /**
   * Creates the task branch at the freshest base: `<remote>/<base>` after a fetch when the remote
   * answers, else the local branch. Returns the commit it starts from.
   */
  async createBranch(name: string, branch: string, baseBranch: string): Promise<{ baseCommit: string; fetched: boolean }> {
    const repo = this.get(name);
    let fetched = false;
    if (repo.remote) {
      fetched = await git(repo.path, ['fetch', '--quiet', repo.remote, baseBranch], 60_000).then(() => true, () => false);
    }
    const sha = await this.baseCommit(name, baseBranch);
    if (!sha) throw new TaskError('BAD_REQUEST', `branch "${baseBranch}" does not exist in ${name}`);
    await git(repo.path, ['branch', '--no-track', branch, sha]);
    return { baseCommit: sha, fetched };
  }

  /**
   * The commit a task branch would start from as the host has it now (no fetch): `<remote>/<base>`,
   * else the local branch; null when neither exists. A task start guesses with it while the fetch runs.
   */
  async baseCommit(name: string, baseBranch: string): Promise<string | null> {
    const repo = this.get(name);
    const candidates = [...(repo.remote ? [`refs/remotes/${repo.remote}/${baseBranch}`] : []), `refs/heads/${baseBranch}`];
    for (const ref of candidates) {
      const sha = (await git(repo.path, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => '')).trim();
      if (sha) return sha;
    }
    return null;
  }

  /**
   * Clones into the root. The target must be a new directory the search finds (inside the root, at
   * most MAX_DEPTH levels down, not hidden, not inside another repository, not behind a symbolic
   * link out of the root). Local sources (file://) only with `[core] allow_local_clone`; git itself
   * is told which transports it may use, so no URL form reaches the local disk otherwise. A
   * failed clone leaves nothing.
   */
  async clone(req: { url: string; path?: string; depth?: number }): Promise<RepoInfo> {
    const url = req.url.trim();
    if (!/^(https?:\/\/|ssh:\/\/|git@[^:/]+:|file:\/\/)/i.test(url)) {
      throw new TaskError('BAD_REQUEST', 'url must be an https://, ssh:// or git@host: URL');
    }
    const allowLocal = this.opts.allowLocalClone === true;
    if (/^file:/i.test(url) && !allowLocal) {
      throw new TaskError('FORBIDDEN', 'cloning from this server\'s own disk (file://) is off; set [core] allow_local_clone = true to allow it');
    }
    const derived = url.replace(/\/+$/, '').replace(/\.git$/, '').split(/[/:]/).pop() ?? '';
    if (!req.path && !/^[A-Za-z0-9._-]+$/.test(derived)) throw new TaskError('BAD_REQUEST', 'cannot derive a directory name from the URL; give a path');
    const label = `path "${req.path ?? derived}"`;
    const target = resolve(this.root, req.path ?? derived);
    const rel = relative(this.root, target);
    if (!rel || rel.startsWith('..') || isAbsolute(rel)) throw new TaskError('BAD_REQUEST', 'path must stay inside the root');
    const parts = rel.split(sep);
    if (parts.length > MAX_DEPTH) throw new TaskError('BAD_REQUEST', `${label}: repositories are looked for at most ${MAX_DEPTH} levels under the root`);
    if (!parts.every(isSearchedName)) {
      throw new TaskError('BAD_REQUEST', `${label}: hidden directories and build or dependency folders (node_modules, dist, ...) are not searched for repositories`);
    }
    const existing = await this.checkTarget(target, parts, label);
    const depth = req.depth ?? 1;
    const transports = ['http', 'https', 'ssh', ...(allowLocal ? ['file'] : [])].join(':');
    await onUserPath(label, () => mkdir(this.root, { recursive: true }));
    try {
      await git(this.root, ['clone', '--quiet', ...(depth > 0 ? ['--depth', String(depth)] : []), '--', url, target], 10 * 60_000, {
        GIT_ALLOW_PROTOCOL: transports,
      });
    } catch (err) {
      await rm(target, { recursive: true, force: true }).catch(() => undefined);
      // git made the directories leading to the target too: those it left empty go as well (only
      // empty ones: a clone next to this one may be filling a sibling meanwhile).
      for (let dir = dirname(target); dir !== existing && dir.startsWith(`${existing}${sep}`); dir = dirname(dir)) {
        if (!(await rmdir(dir).then(() => true, () => false))) break;
      }
      throw new TaskError('BAD_REQUEST', `clone failed: ${(err as Error).message}`);
    }
    await this.scan('changed');
    const info = this.list().find((r) => r.path === target);
    if (!info) throw new Error(`cloned ${rel}, but the search did not find it`);
    return info;
  }

  /**
   * The clone target must not exist, nor be inside a repository, nor lead out of the root through a
   * symbolic link. Returns the deepest directory on the way that exists already.
   */
  private async checkTarget(target: string, parts: string[], label: string): Promise<string> {
    const exists = (p: string) =>
      lstat(p).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return false;
          throw userPathError(err, label);
        },
      );
    let deepest = this.root;
    for (let i = 0; i < parts.length; i++) {
      const dir = join(this.root, ...parts.slice(0, i));
      if (i > 0 && !(await exists(dir))) break;
      deepest = dir;
      if (await exists(join(dir, '.git'))) throw new TaskError('CONFLICT', `${label}: inside the repository ${i === 0 ? 'at the root' : parts.slice(0, i).join('/')}`);
    }
    if (await exists(target)) throw new TaskError('CONFLICT', `${label}: already exists`);
    const [realRoot, realDeepest] = await Promise.all([realpath(this.root).catch(() => this.root), realpath(deepest).catch(() => deepest)]);
    const inside = relative(realRoot, realDeepest);
    if (inside.startsWith('..') || isAbsolute(inside)) throw new TaskError('BAD_REQUEST', `${label}: leads out of the root through a symbolic link`);
    return deepest;
  }
}

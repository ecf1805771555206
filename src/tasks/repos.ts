// Repositories under [core] root: discovery, default branch and remote, cloning, branch allocation.
import { execFile } from 'node:child_process';
import { lstat, readdir, rm, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import type { Repo } from '../api/index.js';
import { TaskError } from './errors.js';
import { SerialQueue } from './serial.js';

const execFileP = promisify(execFile);
const MAX_DEPTH = 3;
const SKIP = new Set(['node_modules', 'vendor', 'target', 'dist', 'build', '.cache']);

export interface RepoInfo extends Repo {
  /** Absolute path on the host. */
  path: string;
}

export async function git(cwd: string, args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await execFileP('git', args, { cwd, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`git ${args[0]}: ${(e.stderr ?? e.message).trim().split('\n').slice(-2).join(' | ')}`, { cause: err });
  }
}

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

export async function describeRepo(root: string, path: string): Promise<RepoInfo> {
  const remote = await defaultRemote(path);
  const remoteURL = remote ? (await git(path, ['remote', 'get-url', remote]).catch(() => '')).trim() : '';
  return {
    name: relative(root, path).split(sep).join('/') || '.',
    path,
    baseBranch: await defaultBranch(path, remote),
    remote,
    remoteURL,
    forge: forgeOf(remoteURL),
  };
}

/** Git repositories up to three levels under root (a repository's own subdirectories are not searched). */
export async function discoverRepos(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number) => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.name === '.git')) {
      found.push(dir);
      return;
    }
    if (depth >= MAX_DEPTH) return;
    await Promise.all(
      entries.filter((e) => e.isDirectory() && !e.name.startsWith('.') && !SKIP.has(e.name)).map((e) => walk(join(dir, e.name), depth + 1)),
    );
  };
  await walk(root, 0);
  return found.sort();
}

export class RepoRegistry {
  private repos = new Map<string, RepoInfo>();
  /** Work per repository (branch numbering, syncs) runs in order without blocking other repositories. */
  private readonly locks = new Map<string, SerialQueue>();
  private readonly lastBranch = new Map<string, number>();

  constructor(readonly root: string) {}

  async scan(): Promise<void> {
    const paths = await discoverRepos(this.root);
    const infos = await Promise.all(paths.map((p) => describeRepo(this.root, p).catch(() => null)));
    this.repos = new Map(infos.filter((r): r is RepoInfo => r !== null).map((r) => [r.name, r]));
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
    const candidates = [...(repo.remote ? [`refs/remotes/${repo.remote}/${baseBranch}`] : []), `refs/heads/${baseBranch}`];
    for (const ref of candidates) {
      const sha = (await git(repo.path, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => '')).trim();
      if (sha) {
        await git(repo.path, ['branch', '--no-track', branch, sha]);
        return { baseCommit: sha, fetched };
      }
    }
    throw new TaskError('BAD_REQUEST', `branch "${baseBranch}" does not exist in ${name}`);
  }

  /** Clones into the root; the target must stay inside it and must not exist. A failed clone leaves nothing. */
  async clone(req: { url: string; path?: string; depth?: number }): Promise<RepoInfo> {
    const url = req.url.trim();
    if (!/^(https?:\/\/|ssh:\/\/|git@[^:]+:|file:\/\/)/.test(url)) {
      throw new TaskError('BAD_REQUEST', 'url must be an https://, ssh://, git@host: or file:// URL');
    }
    const derived = url.replace(/\/+$/, '').replace(/\.git$/, '').split(/[/:]/).pop() ?? '';
    const target = resolve(this.root, req.path ?? derived);
    if (!req.path && !/^[A-Za-z0-9._-]+$/.test(derived)) throw new TaskError('BAD_REQUEST', 'cannot derive a directory name from the URL; give a path');
    const rel = relative(this.root, target);
    if (!rel || rel.startsWith('..') || resolve(this.root, rel) !== target) throw new TaskError('BAD_REQUEST', 'path must stay inside the root');
    if (await lstat(target).then(() => true, () => false)) throw new TaskError('CONFLICT', `${rel} already exists`);
    const depth = req.depth ?? 1;
    try {
      await git(this.root, ['clone', '--quiet', ...(depth > 0 ? ['--depth', String(depth)] : []), '--', url, target], 10 * 60_000);
    } catch (err) {
      await rm(target, { recursive: true, force: true });
      throw new TaskError('BAD_REQUEST', `clone failed: ${(err as Error).message}`);
    }
    await stat(target);
    const info = await describeRepo(this.root, target);
    this.repos.set(info.name, info);
    return info;
  }
}

// Where the git repositories under a root are, kept current by re-listing only directories whose mtime changed.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Repositories are looked for this many levels under the root (a repository's own tree is never entered). */
export const MAX_DEPTH = 3;
const SKIP = new Set(['node_modules', 'vendor', 'target', 'dist', 'build', '.cache']);
/**
 * A directory modified this recently may change again within the file system's timestamp
 * granularity without its mtime moving: it is listed again on the next update.
 */
const RACY_MS = 2_000;

/** True for a directory name the search descends into (hidden and build/dependency folders are not searched). */
export function isSearchedName(name: string): boolean {
  return !name.startsWith('.') && !SKIP.has(name);
}

interface Listed {
  depth: number;
  /** NaN: missing or racy, so the next update lists it again. */
  mtimeMs: number;
  repo: boolean;
  /** Searched subdirectories (empty for repositories and at the maximum depth). */
  subdirs: string[];
}

/**
 * The directories the search visits, each with the mtime it had when listed. A directory's mtime
 * moves when an entry is added, removed or renamed in it, so `update()` finds new and removed
 * repositories with one `stat` per visited directory, and lists again only those that changed.
 * Repositories are not watched: edits inside them never cost a listing.
 */
export class RepoTree {
  private readonly dirs = new Map<string, Listed>();

  constructor(
    readonly root: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Directories that `update()` checks (its cost: one stat each). */
  get watched(): number {
    let n = 0;
    for (const d of this.dirs.values()) if (!d.repo) n++;
    return n;
  }

  /** Absolute paths of the repositories found, sorted. */
  repos(): string[] {
    return [...this.dirs].filter(([, d]) => d.repo).map(([p]) => p).sort();
  }

  /** Forgets everything and searches the whole tree. */
  async rescan(): Promise<void> {
    this.dirs.clear();
    await this.list(this.root, 0);
  }

  /** Lists again only the directories that changed since they were listed. */
  async update(): Promise<void> {
    for (const [dir, rec] of [...this.dirs]) {
      // Skipped: repositories, and directories dropped while their parent was listed again.
      if (rec.repo || this.dirs.get(dir) !== rec) continue;
      const st = await stat(dir).catch(() => null);
      if (st?.isDirectory() && st.mtimeMs === rec.mtimeMs) continue;
      await this.relist(dir, rec);
    }
  }

  private async read(dir: string, depth: number): Promise<Omit<Listed, 'depth'> | null> {
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) return null;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => null);
    if (!entries) return null;
    const age = this.now() - st.mtimeMs;
    const mtimeMs = age < RACY_MS ? Number.NaN : st.mtimeMs;
    if (entries.some((e) => e.name === '.git')) return { mtimeMs, repo: true, subdirs: [] };
    const subdirs = depth < MAX_DEPTH ? entries.filter((e) => e.isDirectory() && isSearchedName(e.name)).map((e) => join(dir, e.name)) : [];
    return { mtimeMs, repo: false, subdirs };
  }

  private async list(dir: string, depth: number): Promise<void> {
    const found = await this.read(dir, depth);
    if (!found) {
      // The root is kept even while it is missing, so that its creation is noticed.
      if (dir === this.root) this.dirs.set(dir, { depth, mtimeMs: Number.NaN, repo: false, subdirs: [] });
      return;
    }
    this.dirs.set(dir, { depth, ...found });
    await Promise.all(found.subdirs.map((sub) => this.list(sub, depth + 1)));
  }

  private async relist(dir: string, old: Listed): Promise<void> {
    const found = await this.read(dir, old.depth);
    if (!found) {
      this.drop(dir);
      if (dir === this.root) this.dirs.set(dir, { depth: 0, mtimeMs: Number.NaN, repo: false, subdirs: [] });
      return;
    }
    const keep = new Set(found.subdirs);
    for (const sub of old.subdirs) if (!keep.has(sub)) this.drop(sub);
    this.dirs.set(dir, { depth: old.depth, ...found });
    await Promise.all(found.subdirs.filter((sub) => !this.dirs.has(sub)).map((sub) => this.list(sub, old.depth + 1)));
  }

  private drop(dir: string): void {
    const rec = this.dirs.get(dir);
    if (!rec) return;
    this.dirs.delete(dir);
    for (const sub of rec.subdirs) this.drop(sub);
  }
}

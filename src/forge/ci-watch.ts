// Watches the CI of commits: one poller per (repository, SHA) whatever the number of watchers,
// every 15 s while checks run, backing off while nothing is reported, stopped once the result is
// final; results cached per SHA (bounded); a webhook's news refreshes at once.
import type { CIStatus } from '../api/index.js';
import type { ForgeRepo } from './types.js';

export interface CIWatchTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface CIWatchOptions {
  /** Between polls while checks are pending (15 s). */
  pendingMs?: number;
  /** The longest wait between polls while no check is reported (backing off from pendingMs). */
  idleMaxMs?: number;
  /** Results kept for SHAs nobody watches any more. */
  cacheSize?: number;
  /**
   * The least time between two reads of one SHA's CI (1 s). News that comes sooner (GitHub sends a
   * check_run delivery per check, created and completed, often dozens in a burst) is read once,
   * when the gap has passed: a burst costs two reads, not one per delivery. While news keeps
   * coming, the gap doubles with each deferred read, up to pendingMs (never later than polling
   * would learn it); after a quiet spell twice the gap it is back to minGapMs. This also keeps a
   * busy SHA within the forge's API rate limit.
   */
  minGapMs?: number;
  /** Injected by tests, which then fire polls themselves. */
  timers?: CIWatchTimers;
  now?: () => number;
  onError?: (repo: ForgeRepo, sha: string, err: unknown) => void;
}

export type CIListener = (status: CIStatus) => void;

const TERMINAL = new Set<CIStatus['state']>(['success', 'failure']);
export const isTerminal = (s: CIStatus | null | undefined): boolean => !!s && TERMINAL.has(s.state);

interface Entry {
  repo: ForgeRepo;
  sha: string;
  listeners: Set<CIListener>;
  status: CIStatus | null;
  timer: unknown;
  delay: number;
  polling: Promise<void> | null;
  /** A refresh came while a poll ran: poll again when it ends (the news may postdate its answer). */
  again: boolean;
  /** When the last poll started (ms); -Infinity before the first. */
  polledAt: number;
  /** The least time before the next read on news (minGapMs, doubling while news keeps coming). */
  gap: number;
  /** When the scheduled timer fires (ms). */
  timerDue: number;
}

const defaultTimers: CIWatchTimers = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export const ciKey = (repo: ForgeRepo, sha: string): string => `${repo.kind}|${repo.baseUrl}|${repo.owner}/${repo.repo}|${sha}`;

/** Same status for a watcher: the time it was learned aside. */
const sameStatus = (a: CIStatus | null, b: CIStatus): boolean => !!a && a.state === b.state && JSON.stringify(a.checks) === JSON.stringify(b.checks);

export class CIWatcher {
  private readonly entries = new Map<string, Entry>();
  private readonly pendingMs: number;
  private readonly idleMaxMs: number;
  private readonly cacheSize: number;
  private readonly timers: CIWatchTimers;
  private readonly minGapMs: number;
  private readonly now: () => number;
  private closed = false;
  /** Polls made (for tests and the benchmark: one poller per SHA shows here). */
  polls = 0;

  constructor(
    private readonly fetchStatus: (repo: ForgeRepo, sha: string) => Promise<CIStatus>,
    private readonly opts: CIWatchOptions = {},
  ) {
    this.pendingMs = opts.pendingMs ?? 15_000;
    this.idleMaxMs = opts.idleMaxMs ?? 5 * 60_000;
    this.cacheSize = opts.cacheSize ?? 1_000;
    this.timers = opts.timers ?? defaultTimers;
    this.minGapMs = opts.minGapMs ?? 1_000;
    this.now = opts.now ?? Date.now;
  }

  /** The last status known for a SHA (no forge call). */
  cached(repo: ForgeRepo, sha: string): CIStatus | null {
    return this.entries.get(ciKey(repo, sha))?.status ?? null;
  }

  /** Number of SHAs with a poll scheduled or running. */
  get active(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.timer !== null || e.polling) n++;
    return n;
  }

  /**
   * Calls `listener` with each new status of `sha` (the cached one first, when known). Returns the
   * function that stops watching; the poller stops when its last watcher leaves or CI is final.
   */
  watch(repo: ForgeRepo, sha: string, listener: CIListener): () => void {
    const e = this.entry(repo, sha);
    e.listeners.add(listener);
    if (e.status) {
      const s = e.status;
      queueMicrotask(() => e.listeners.has(listener) && listener(s));
    }
    if (!isTerminal(e.status) && e.timer === null && !e.polling) void this.poll(e);
    return () => {
      e.listeners.delete(listener);
      if (e.listeners.size === 0) this.stopTimer(e);
    };
  }

  /**
   * News from a webhook (or a push): poll now, whether or not anyone watches — or, when the SHA was
   * read less than minGapMs ago, once that gap has passed (the news is never dropped).
   */
  refresh(repo: ForgeRepo, sha: string): Promise<void> {
    const e = this.entry(repo, sha);
    if (e.polling) {
      e.again = true;
      return e.polling;
    }
    return this.pollSoon(e);
  }

  /** Polls now, or at the end of the gap after the last poll (replacing a later timer). */
  private pollSoon(e: Entry): Promise<void> {
    const since = this.now() - e.polledAt;
    if (since >= e.gap) {
      if (since >= 2 * e.gap) e.gap = this.minGapMs;
      this.stopTimer(e);
      return this.poll(e);
    }
    const wait = e.gap - since;
    // A poll due sooner (a deferred read already) stands; a later one (the regular poll) gives way.
    if (e.timer === null || e.timerDue > this.now() + wait) {
      this.setTimer(e, wait, () => {
        e.gap = Math.min(e.gap * 2, Math.max(this.pendingMs, this.minGapMs));
      });
    }
    return Promise.resolve();
  }

  private setTimer(e: Entry, ms: number, before?: () => void): void {
    this.stopTimer(e);
    e.timerDue = this.now() + ms;
    e.timer = this.timers.set(() => {
      e.timer = null;
      before?.();
      void this.poll(e);
    }, ms);
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) this.stopTimer(e);
  }

  private entry(repo: ForgeRepo, sha: string): Entry {
    const key = ciKey(repo, sha);
    let e = this.entries.get(key);
    if (e) {
      // Most recently used last: eviction takes the oldest first.
      this.entries.delete(key);
      this.entries.set(key, e);
      return e;
    }
    e = { repo, sha, listeners: new Set(), status: null, timer: null, delay: this.pendingMs, polling: null, again: false, polledAt: -Infinity, gap: this.minGapMs, timerDue: 0 };
    this.entries.set(key, e);
    this.evict();
    return e;
  }

  private evict(): void {
    if (this.entries.size <= this.cacheSize) return;
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.cacheSize) break;
      if (e.listeners.size || e.polling || e.timer !== null) continue;
      this.entries.delete(key);
    }
  }

  private stopTimer(e: Entry): void {
    if (e.timer !== null) this.timers.clear(e.timer);
    e.timer = null;
  }

  private poll(e: Entry): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.polls++;
    e.polledAt = this.now();
    e.polling = (async () => {
      try {
        const status = await this.fetchStatus(e.repo, e.sha);
        const changed = !sameStatus(e.status, status);
        e.status = status;
        // Pending: checks are running, poll at the base rate. None yet: back off (a repository
        // without CI would otherwise be asked every 15 s forever).
        e.delay = status.state === 'pending' ? this.pendingMs : Math.min(e.delay * 2, this.idleMaxMs);
        if (changed) for (const l of [...e.listeners]) l(status);
      } catch (err) {
        e.delay = Math.min(e.delay * 2, this.idleMaxMs);
        this.opts.onError?.(e.repo, e.sha, err);
      } finally {
        e.polling = null;
      }
      if (e.again) {
        e.again = false;
        return this.pollSoon(e);
      }
      this.schedule(e);
    })();
    return e.polling;
  }

  private schedule(e: Entry): void {
    this.stopTimer(e);
    if (this.closed || e.listeners.size === 0 || isTerminal(e.status)) return;
    this.setTimer(e, e.delay);
  }
}

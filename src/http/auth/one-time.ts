// A bounded in-memory map of one-time values with a lifetime: OAuth states and the app's hand-off codes.

/**
 * `take` returns a value at most once and never after its lifetime. Memory is bounded: at
 * capacity the oldest entry goes (a flood of sign-in starts can evict pending ones, never grow
 * the process). Entries live in memory only, so a restart forgets them all.
 */
export class OneTimeStore<T> {
  /** Insertion order is expiry order: every entry gets the same lifetime. */
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(
    private readonly opts: { ttlMs: number; capacity: number; now?: () => number },
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  get size(): number {
    return this.entries.size;
  }

  put(key: string, value: T): void {
    const now = this.now();
    for (const [k, e] of this.entries) {
      if (e.expiresAt > now && this.entries.size < this.opts.capacity) break;
      this.entries.delete(k);
    }
    this.entries.set(key, { value, expiresAt: now + this.opts.ttlMs });
  }

  /** The value once, if it exists and has not expired; the key is gone afterwards either way. */
  take(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    return entry.expiresAt > this.now() ? entry.value : undefined;
  }
}

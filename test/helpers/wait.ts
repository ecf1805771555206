// Waiting in tests: every wait has a deadline, and a wait that runs out fails with what it waited
// for (and what it last saw), never falls through.
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 30_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** How often to look again (default 50 ms): a polling interval, not a sleep that stands for an event. */
  intervalMs?: number;
  /** What is awaited, for the failure message. */
  what: string;
}

/**
 * Looks at `probe` until `accept` holds for what it returns; returns that value. Throws when the
 * deadline passes, with the last value seen (or the last error `probe` threw).
 */
export async function waitUntil<T>(probe: () => T | Promise<T>, accept: (value: T) => boolean, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: { value: T } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) {
      const seen = last === undefined ? 'nothing' : 'error' in last ? `error ${String((last.error as Error)?.message ?? last.error)}` : JSON.stringify(last.value)?.slice(0, 1_000);
      throw new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${opts.what}; last saw ${seen}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

/** Resolves with the promise's value, or fails when it does not settle within the deadline. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

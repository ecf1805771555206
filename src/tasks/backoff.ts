// Retrying with exponential backoff until a deadline, for the background work that reconnects a
// task to its agent; stops early when the work is no longer wanted.

export interface BackoffOptions {
  /** Give up after this long (counted from the first attempt). */
  deadlineMs: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Checked before every attempt: false ends the loop quietly. */
  wanted: () => boolean;
  signal?: AbortSignal;
}

export type BackoffResult = { ok: true } | { ok: false; reason: 'unwanted' } | { ok: false; reason: 'deadline'; error: unknown };

/** Runs `attempt` until it resolves, the deadline passes (with its last error) or it is no longer wanted. */
export async function withBackoff(attempt: () => Promise<void>, opts: BackoffOptions): Promise<BackoffResult> {
  const deadline = Date.now() + opts.deadlineMs;
  let delay = opts.firstDelayMs ?? 100;
  for (;;) {
    if (!opts.wanted() || opts.signal?.aborted) return { ok: false, reason: 'unwanted' };
    let error: unknown;
    try {
      await attempt();
      return { ok: true };
    } catch (err) {
      error = err;
    }
    if (Date.now() + delay > deadline) return { ok: false, reason: 'deadline', error };
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delay);
      function done() {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', done);
        resolve();
      }
      opts.signal?.addEventListener('abort', done, { once: true });
    });
    delay = Math.min(opts.maxDelayMs ?? 5_000, delay * 2);
  }
}

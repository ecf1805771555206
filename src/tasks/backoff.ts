// Waiting in the background work: retrying with exponential backoff until a deadline (what
// reconnects a task to its agent, stopping early when no longer wanted), and a bounded wait.

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

/** Waits for `work` (its failure included) or `ms`, whichever comes first; the timer never outlives it. */
export async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.then(noop, noop), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

const noop = () => undefined;

// Rounds: a job run over the live tasks every interval, never two rounds at once (a slow round skips a beat rather than piling up).

export class Rounds {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  /** Listeners of each finished round (tests wait on them, not on time). */
  readonly done = new Set<() => void>();

  /** `round` must not throw for one task's failure; a rejection of the whole round is dropped. */
  constructor(
    private readonly intervalMs: number,
    private readonly round: () => Promise<void>,
  ) {}

  /** Starts the interval (not with an interval of 0: off). */
  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the interval; resolves when a round under way ends. */
  close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }

  /** One round now, or the one under way. */
  tick(): Promise<void> {
    this.running ??= this.round()
      .catch(() => undefined)
      .finally(() => {
        this.running = null;
        for (const fn of this.done) fn();
      });
    return this.running;
  }
}

// Agent usage per UTC day: what each turn result added (cost, tokens, agent time), kept per task as
// its log is written, and summed per day and per week for GET /api/v1/usage.
import type { Usage, UsagePeriod, UsageResp } from '../api/index.js';

/** One task's activity on one UTC day. */
export interface UsageDay {
  /** YYYY-MM-DD (UTC). */
  day: string;
  costUSD: number;
  tokens: Usage;
  agentMs: number;
  turns: number;
}

export const DAYS = 14;
export const WEEKS = 8;
const DAY_MS = 86_400_000;

const zero = (): Usage => ({ inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 });
const round = (usd: number) => Math.round(usd * 1e6) / 1e6;
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/** The UTC day of an ISO-8601 time ('' when it is not one). */
export function utcDay(iso: string): string {
  return /^\d{4}-\d{2}-\d{2}T/.test(iso) ? iso.slice(0, 10) : '';
}

/** Adds one turn's numbers to a per-day map. */
export function addUsage(days: Map<string, UsageDay>, day: string, add: Omit<UsageDay, 'day'>): void {
  if (!day) return;
  let d = days.get(day);
  if (!d) days.set(day, (d = { day, costUSD: 0, tokens: zero(), agentMs: 0, turns: 0 }));
  d.costUSD = round(d.costUSD + num(add.costUSD));
  // Counts stay whole numbers whatever a trailer says: the API's schema takes integers only.
  for (const k of Object.keys(d.tokens) as (keyof Usage)[]) d.tokens[k] += Math.floor(num(add.tokens[k]));
  d.agentMs += num(add.agentMs);
  d.turns += Math.floor(num(add.turns));
}

/**
 * Per-day usage as a log's trailer stores it, checked field by field (a log is a file anyone with
 * the cache directory can edit): null when absent or malformed, so the caller replays instead.
 */
export function parseUsageDays(v: unknown): UsageDay[] | null {
  if (!Array.isArray(v)) return null;
  const out = new Map<string, UsageDay>();
  for (const e of v as Record<string, unknown>[]) {
    const day = typeof e?.day === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(e.day) ? e.day : '';
    if (!day) return null;
    const t = (e.tokens ?? {}) as Record<string, unknown>;
    addUsage(out, day, {
      costUSD: num(e.costUSD),
      agentMs: num(e.agentMs),
      turns: num(e.turns),
      tokens: { inputTokens: num(t.inputTokens), outputTokens: num(t.outputTokens), cacheCreationInputTokens: num(t.cacheCreationInputTokens), cacheReadInputTokens: num(t.cacheReadInputTokens) },
    });
  }
  return [...out.values()];
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Sums each task's days into the last 14 days and the last 8 weeks (Monday to Sunday, UTC), oldest first. */
export function aggregateUsage(tasks: Iterable<readonly UsageDay[]>, now: Date): UsageResp {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const monday = today - ((now.getUTCDay() + 6) % 7) * DAY_MS;
  const period = (start: number): UsagePeriod => ({ start: iso(start), costUSD: 0, tokens: zero(), agentMs: 0, turns: 0, tasks: 0 });
  const days = Array.from({ length: DAYS }, (_, i) => period(today - (DAYS - 1 - i) * DAY_MS));
  const weeks = Array.from({ length: WEEKS }, (_, i) => period(monday - (WEEKS - 1 - i) * 7 * DAY_MS));
  const dayIndex = new Map(days.map((p, i) => [p.start, i]));
  const firstWeek = monday - (WEEKS - 1) * 7 * DAY_MS;
  for (const task of tasks) {
    const touched = new Set<UsagePeriod>();
    for (const d of task) {
      const ms = Date.parse(`${d.day}T00:00:00Z`);
      if (!(ms >= firstWeek && ms <= today)) continue;
      const w = weeks[Math.floor((ms - firstWeek) / (7 * DAY_MS))]!;
      const di = dayIndex.get(d.day);
      for (const p of di === undefined ? [w] : [w, days[di]!]) {
        p.costUSD += d.costUSD;
        for (const k of Object.keys(p.tokens) as (keyof Usage)[]) p.tokens[k] += d.tokens[k];
        p.agentMs += d.agentMs;
        p.turns += d.turns;
        touched.add(p);
      }
    }
    for (const p of touched) p.tasks += 1;
  }
  for (const p of [...days, ...weeks]) p.costUSD = round(p.costUSD);
  return { days, weeks };
}

/**
 * Per-task days for tasks whose log says nothing about usage (finished before the trailer carried
 * it): each log is replayed once, a few at a time, and only its days are kept. Such a log gets no
 * more results (a task that runs again has a live transcript, which the caller asks first).
 */
export class UsageReplayCache {
  private readonly done = new Map<string, UsageDay[]>();
  private readonly pending = new Map<string, Promise<UsageDay[]>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly replay: (taskId: string) => Promise<UsageDay[]>,
    private readonly concurrency = 4,
  ) {}

  daysOf(taskId: string): Promise<UsageDay[]> {
    const hit = this.done.get(taskId);
    if (hit) return Promise.resolve(hit);
    let p = this.pending.get(taskId);
    if (!p) {
      p = this.limited(() => this.replay(taskId))
        .then((days) => (this.done.set(taskId, days), days))
        .catch(() => [] as UsageDay[])
        .finally(() => this.pending.delete(taskId));
      this.pending.set(taskId, p);
    }
    return p;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

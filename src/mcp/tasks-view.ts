// How MCP shows tasks: per-caller task numbers, active-first pages with cursors, summaries, size caps.
import type { McpTaskSummary, Task, TaskState } from '../api/index.js';

/** States a task rests in when nobody needs to look at it. */
const RESTING: ReadonlySet<TaskState> = new Set(['stopped', 'purged', 'failed', 'crashed']);

/** Lists cap at 256 KiB of JSON, text at 32 KiB (as the reference server). */
export const LIST_CAP_BYTES = 256 * 1024;
export const TEXT_CAP_BYTES = 32 * 1024;

/**
 * A task's number for one caller: its place among the caller's tasks in creation order (ids are
 * k-sortable), from 1. Tasks are never removed (purged ones stay listed), so a number keeps
 * pointing at the same task, across daemon restarts too.
 */
export function numbered(tasks: readonly Task[]): Map<string, number> {
  return new Map(tasks.map((t, i) => [t.id, i + 1]));
}

export function summary(t: Task, taskNumber: number): McpTaskSummary {
  const repo = t.repos[0];
  let additions = 0;
  let deletions = 0;
  for (const f of t.diffStat) {
    additions += f.added;
    deletions += f.deleted;
  }
  return {
    taskNumber,
    id: t.id,
    title: t.title,
    state: t.state,
    harness: t.harness,
    model: t.model,
    repo: repo?.name ?? '',
    branch: repo?.branch ?? '',
    changedFiles: t.diffStat.length,
    additions,
    deletions,
    costUSD: t.costUSD,
    durationMs: t.durationMs,
    numTurns: t.numTurns,
    error: cutText(t.error, 2048).text,
    createdAt: t.createdAt,
  };
}

/** At least the JSON size of a summary: its text fields at their worst escaping (6 bytes per UTF-16 unit), plus the rest. */
const upperBound = (s: McpTaskSummary) => 6 * (s.title.length + s.error.length + s.repo.length + s.branch.length + s.model.length + s.id.length) + 512;

/** Sort key: active tasks first, newest first within each group; unique (the id breaks ties). */
const keyOf = (t: Task) => `${RESTING.has(t.state) ? 1 : 0}:${t.id}`;
function compare(a: Task, b: Task): number {
  const ga = RESTING.has(a.state) ? 1 : 0;
  const gb = RESTING.has(b.state) ? 1 : 0;
  if (ga !== gb) return ga - gb;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

const encodeCursor = (s: string) => Buffer.from(s).toString('base64url');
function decodeCursor(c: string): { group: number; id: string } | null {
  const m = /^([01]):([0-9a-z]{1,40})$/.exec(Buffer.from(c, 'base64url').toString());
  return m ? { group: Number(m[1]), id: m[2]! } : null;
}

export class CursorError extends Error {}

/**
 * One page of tasks after `cursor`. The cursor names the last task shown (its group and id), so a
 * task that changes group between pages is shown at most twice and never skipped silently.
 */
export function tasksPage(all: readonly Task[], cursor: string | undefined, limit: number): { tasks: McpTaskSummary[]; nextCursor?: string; truncated?: boolean } {
  const numbers = numbered(all);
  const sorted = [...all].sort(compare);
  let start = 0;
  if (cursor !== undefined) {
    const c = decodeCursor(cursor);
    if (!c) throw new CursorError('invalid cursor');
    start = sorted.findIndex((t) => {
      const g = RESTING.has(t.state) ? 1 : 0;
      return g > c.group || (g === c.group && t.id < c.id);
    });
    if (start < 0) start = sorted.length;
  }
  const end = Math.min(sorted.length, start + limit);
  let out = sorted.slice(start, end).map((t) => summary(t, numbers.get(t.id)!));
  let i = end;
  let truncated = false;
  // Measured item by item only when a page could pass the cap (rare: the fields are short).
  if (out.reduce((n, s) => n + upperBound(s), 0) > LIST_CAP_BYTES) {
    let bytes = 0;
    const kept: McpTaskSummary[] = [];
    for (const s of out) {
      const size = Buffer.byteLength(JSON.stringify(s)) + 1;
      if (bytes + size > LIST_CAP_BYTES && kept.length > 0) break;
      bytes += size;
      kept.push(s);
    }
    truncated = true;
    out = kept;
    i = start + kept.length;
  }
  const last = sorted[i - 1];
  const more = i < sorted.length && last !== undefined;
  return {
    tasks: out,
    ...(more ? { nextCursor: encodeCursor(keyOf(last)) } : {}),
    ...(truncated ? { truncated } : {}),
  };
}

/** Cuts a text to at most `max` UTF-8 bytes (on a character boundary) and says so. */
export function cutText(text: string, max = TEXT_CAP_BYTES): { text: string; truncated: boolean } {
  if (text.length <= max / 4 || Buffer.byteLength(text) <= max) return { text, truncated: false };
  const full = Buffer.from(text);
  // Cut before a character whose bytes would be split (the byte at the cut is a continuation byte).
  let end = max;
  while (end > 0 && (full[end]! & 0xc0) === 0x80) end--;
  return { text: `${full.subarray(0, end).toString()}\n… [truncated: ${full.length} bytes in all]`, truncated: true };
}

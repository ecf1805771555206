// A task log's header: the task as the log's first lines and its tail describe it, without a replay
// (listing thousands of tasks reads only the ends of their logs).
import type { TaskState } from '../api/index.js';
import { isTaskState, parseMetaRecord, parseSummaryRecord } from './records.js';
import type { TaskHeader } from './task.js';
import { cleanTitle, titleSource, titleWins } from './titles.js';
import { applyForgeRecord, emptySummary } from './transcript.js';
import { parseUsageDays, type UsageDay } from './usage.js';

/** A task as its log's first line and tail describe it, without a replay. */
export function parseHeader(ht: { head: string; headLines: string[]; tail: string[] }, fileId: string): TaskHeader {
  const meta = parseMetaRecord(JSON.parse(ht.head), fileId);
  for (const line of ht.headLines) {
    if (!line.startsWith('{"type":"caic_branch"')) continue;
    const rec = JSON.parse(line) as Record<string, unknown>;
    const repo = meta.repos.find((r) => r.name === rec.repo);
    if (repo) Object.assign(repo, { branch: typeof rec.branch === 'string' ? rec.branch : '', baseCommit: typeof rec.baseCommit === 'string' ? rec.baseCommit : '' });
  }
  let state: TaskState = 'pending';
  let stateAt = meta.createdAt;
  let summary = emptySummary(meta.title, meta.model);
  let hasTrailer = false;
  let lastEventId = 0;
  let usage: UsageDay[] | null = null;
  let clock = meta.createdAt;
  for (const line of ht.tail) {
    if (!line.startsWith('{"type":"caic_')) continue;
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (rec.type === 'caic_clock') clock = String(rec.ts);
      if (rec.type === 'caic_state' && isTaskState(rec.state)) {
        state = rec.state;
        stateAt = clock;
        if (rec.summary) summary = parseSummaryRecord(rec.summary, summary);
        lastEventId = eventCount(rec.lastEventId, lastEventId);
      }
      if (rec.type === 'caic_result') {
        hasTrailer = true;
        if (rec.summary) summary = parseSummaryRecord(rec.summary, summary);
        lastEventId = eventCount(rec.lastEventId, lastEventId);
        usage = parseUsageDays(rec.usage);
      }
      // Forge news after the last state record (a PR linked to a finished task, its CI).
      if (rec.type === 'caic_forge') {
        summary = { ...summary };
        applyForgeRecord(summary, rec);
      }
      // A title given after the last state record (a rename of a finished task, say).
      if (rec.type === 'caic_title' && typeof rec.title === 'string') {
        const title = cleanTitle(rec.title);
        const by = titleSource(rec.by);
        if (title && titleWins(by, summary.titleBy ?? 'prompt')) summary = { ...summary, title, titleBy: by };
      }
    } catch {
      /* a cut line */
    }
  }
  return { meta, state, stateAt, summary, hasTrailer, lastEventId, usage };
}

const eventCount = (v: unknown, fallback: number): number => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : fallback);

// Reading the daemon's own records back from a task log, and bounding the numbers agents report:
// a log is a file (cut by a crash, damaged, edited by hand) and an agent's output is whatever the
// agent wrote, so both are checked before they become a task's state or part of an API answer.
import { z } from 'zod';
import { EgressBlocked, EgressPolicy, HarnessName, TaskForge, TaskId, TaskPermissions, TaskState, type DiffStatEntry, type Usage } from '../api/index.js';
import type { TitleSource } from './titles.js';

export interface TaskMetaRecord {
  type: 'caic_meta';
  version: 1;
  id: string;
  title: string;
  prompt: string;
  /** `branch` and `baseCommit` arrive later in a caic_branch record. */
  repos: { name: string; baseBranch: string; branch: string; baseCommit?: string }[];
  harness: HarnessName;
  model: string;
  sudo: boolean;
  owner: string;
  ownerName: string;
  createdAt: string;
  /** Names of the owner's secrets the task was given (values never go in the log). */
  secrets?: string[];
  /** Tool approval as decided at creation (absent in older logs: bypass). */
  permissions?: TaskPermissions;
  /** Network egress as decided at creation, presets expanded (absent in older logs: open). */
  egress?: EgressPolicy;
}

/** What a task list shows; also written into state records so a log's tail is enough to list it. */
export interface Summary {
  title: string;
  /** Where the title came from (absent in logs written before titles had sources: the prompt). */
  titleBy?: TitleSource;
  costUSD: number;
  durationMs: number;
  numTurns: number;
  tokens: Usage;
  activeInputTokens: number;
  diffStat: DiffStatEntry[];
  result: string;
  error: string;
  sessionId: string;
  agentVersion: string;
  model: string;
  planContent: string;
  container: string;
  /** The task branch's pull/merge request (from caic_forge records); null before there is one. */
  forge: TaskForge | null;
  /** The forge issue the task was started from; null when none. */
  issue: IssueRef | null;
}

/** A forge issue a task started from: the PR body says `Fixes #N`. */
export interface IssueRef {
  kind: 'github' | 'gitlab';
  owner: string;
  repo: string;
  number: number;
  url: string;
}


/** The most any one agent report may add to a count (tokens, turns): far above any real turn. */
const MAX_REPORTED_COUNT = 1e12;
/** The most one agent report may state as a cost in USD. */
const MAX_REPORTED_USD = 1e6;
/** The most one agent report may state as a duration (about 115 days). */
const MAX_REPORTED_MS = 1e10;

/** A count an agent reported: a non-negative integer, at most MAX_REPORTED_COUNT. */
export function reportedCount(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.min(Math.floor(v), MAX_REPORTED_COUNT) : 0;
}

/** A cost an agent reported: finite, non-negative, bounded. */
export function reportedUSD(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.min(v, MAX_REPORTED_USD) : 0;
}

/** A duration an agent reported: finite, non-negative, bounded. */
export function reportedMs(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.min(v, MAX_REPORTED_MS) : 0;
}

export function reportedUsage(u: Usage): Usage {
  return {
    inputTokens: reportedCount(u.inputTokens),
    outputTokens: reportedCount(u.outputTokens),
    cacheCreationInputTokens: reportedCount(u.cacheCreationInputTokens),
    cacheReadInputTokens: reportedCount(u.cacheReadInputTokens),
  };
}

/** a + b for running totals, saturating where integers stop being exact. */
export function addCount(a: number, b: number): number {
  return Math.min(a + b, Number.MAX_SAFE_INTEGER);
}

const text = z.string().catch('');
const count = z
  .number()
  .catch(0)
  .transform((v) => (Number.isFinite(v) && v > 0 ? Math.min(Math.floor(v), Number.MAX_SAFE_INTEGER) : 0));
const amount = z
  .number()
  .catch(0)
  .transform((v) => (Number.isFinite(v) && v > 0 ? v : 0));

const MetaRecord = z.object({
  type: z.literal('caic_meta'),
  version: z.literal(1).catch(1),
  id: z.string().min(1),
  title: text,
  prompt: text,
  repos: z.array(z.object({ name: z.string().min(1), baseBranch: text, branch: text, baseCommit: z.string().optional().catch(undefined) })),
  harness: HarnessName,
  model: text,
  sudo: z.boolean().catch(false),
  owner: text,
  ownerName: text,
  createdAt: z.iso.datetime(),
  secrets: z.array(z.string().max(64)).max(64).optional().catch(undefined),
  // A damaged policy reads as absent, i.e. the old behaviour; the container keeps what it was given.
  permissions: TaskPermissions.optional().catch(undefined),
  egress: EgressPolicy.optional().catch(undefined),
});

const UsageRecord = z.object({ inputTokens: count, outputTokens: count, cacheCreationInputTokens: count, cacheReadInputTokens: count });
const SummaryRecord = z.object({
  title: text,
  titleBy: z.enum(['prompt', 'model', 'agent', 'user']).optional().catch(undefined),
  costUSD: amount,
  durationMs: amount,
  numTurns: count,
  tokens: UsageRecord.catch({ inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 }),
  activeInputTokens: count,
  diffStat: z.array(z.object({ path: z.string(), added: count, deleted: count, binary: z.boolean().catch(false) })).catch([]),
  result: text,
  error: text,
  sessionId: text,
  agentVersion: text,
  model: text,
  planContent: text,
  container: text,
  forge: TaskForge.nullable().catch(null),
  issue: z.lazy(() => IssueRecord).nullable().catch(null),
});

const IssueRecord = z.object({
  kind: z.enum(['github', 'gitlab']),
  owner: z.string().min(1).max(400),
  repo: z.string().min(1).max(200),
  number: z.number().int().positive(),
  url: z.string().max(2048),
});

/** The pull request a caic_forge record carries, checked like any field of a log; null when it has none or a damaged one. */
export function parseForgeRecord(v: unknown): TaskForge | null {
  const r = TaskForge.safeParse(v);
  return r.success ? r.data : null;
}

/** The issue a caic_forge record carries; null when it has none or a damaged one. */
export function parseIssueRecord(v: unknown): IssueRef | null {
  const r = IssueRecord.safeParse(v);
  return r.success ? r.data : null;
}

/**
 * The task a caic_meta record describes, or an error saying what is wrong with it. With `fileId`
 * (the log's file name without .jsonl) the record must name that task: a copied or edited log
 * cannot take another task's place, nor lead a write outside the log directory.
 */
export function parseMetaRecord(rec: unknown, fileId?: string): TaskMetaRecord {
  const r = MetaRecord.safeParse(rec);
  if (!r.success) throw new Error(`not a valid caic_meta record: ${r.error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).join('; ')}`);
  if (fileId !== undefined) {
    if (!TaskId.safeParse(fileId).success) throw new Error(`"${fileId}" is not a task id`);
    if (r.data.id !== fileId) throw new Error(`its caic_meta names another task (${JSON.stringify(r.data.id.slice(0, 60))})`);
  }
  return r.data;
}

/** The summary a state record or trailer carries, field by field: a field it lacks keeps `fallback`'s value, one of the wrong kind reads as empty. */
export function parseSummaryRecord(v: unknown, fallback: Summary): Summary {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return fallback;
  const raw = v as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...fallback };
  for (const k of Object.keys(fallback) as (keyof Summary)[]) if (raw[k] !== undefined) merged[k] = raw[k];
  if (raw.titleBy !== undefined) merged.titleBy = raw.titleBy;
  const s = SummaryRecord.parse(merged);
  return { ...s, titleBy: s.titleBy ?? 'prompt' };
}

const STATES = new Set<string>(TaskState.options);
export const isTaskState = (v: unknown): v is TaskState => typeof v === 'string' && STATES.has(v);

// ---- review comments and recorded commits (src/tasks/review.ts, heads.ts) -------------------

const ReviewCommentRecord = z.object({
  id: z.string().min(1).max(40),
  file: z.string().min(1).max(4096),
  side: z.enum(['old', 'new']),
  startLine: z.number().int().min(1),
  endLine: z.number().int().min(1),
  quote: z.string().max(64 * 1024),
  body: z.string().max(64 * 1024),
  createdAt: z.string().max(40),
  updatedAt: z.string().max(40),
});
export type ReviewCommentRecord = z.infer<typeof ReviewCommentRecord>;

/**
 * A caic_review record: a comment added, its text edited, a comment deleted, or the comments sent
 * (as they were sent). Null for a record that is none of these (damaged, edited by hand).
 */
export type ReviewOp =
  | { op: 'add'; comment: ReviewCommentRecord }
  | { op: 'edit'; id: string; body: string; at: string }
  | { op: 'delete'; id: string }
  | { op: 'send'; comments: ReviewCommentRecord[] };
const ReviewOpRecord = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add'), comment: ReviewCommentRecord }),
  z.object({ op: z.literal('edit'), id: z.string().min(1).max(40), body: z.string().max(64 * 1024), at: z.string().max(40) }),
  z.object({ op: z.literal('delete'), id: z.string().min(1).max(40) }),
  z.object({ op: z.literal('send'), comments: z.array(ReviewCommentRecord).max(1000) }),
]);
export function parseReviewRecord(rec: unknown): ReviewOp | null {
  const r = ReviewOpRecord.safeParse(rec);
  return r.success ? r.data : null;
}

/** A commit id as git prints it (SHA-1 or SHA-256). */
export const isCommitId = (v: unknown): v is string => typeof v === 'string' && /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(v);

/** A caic_head record: the repository's HEAD when event `event` (a user message, a turn's end) happened. */
export function parseHeadRecord(rec: Record<string, unknown>): { event: number; commit: string } | null {
  return Number.isSafeInteger(rec.event) && (rec.event as number) > 0 && isCommitId(rec.commit) ? { event: rec.event as number, commit: rec.commit } : null;
}

// ---- egress (src/tasks/egress.ts) -----------------------------------------------------------

/** The rows of a caic_egress record; a damaged one reads as no rows. */
export function parseBlockedRows(v: unknown): EgressBlocked[] {
  const r = z.array(EgressBlocked).max(1000).safeParse(v);
  return r.success ? r.data : [];
}

// Inline review comments of a task: drafted on its diff, kept as caic_review records in the task's
// log (so they survive reloads and daemon restarts, and a replay finds the same tray), sent to the
// agent as one input, after which the transcript shows them as a review card.
import { ulid } from 'ulid';
import { MAX_REVIEW_COMMENTS, REVIEW_DRAFT_STATES, renderReview, type AddReviewCommentReq, type ReviewComment, type TaskState } from '../api/index.js';
import { TaskError } from './errors.js';
import type { ReviewCommentRecord } from './records.js';
import type { Transcript } from './transcript.js';

/** What a review operation needs of its task: its replayed transcript and a way to log a record. */
export interface ReviewTarget {
  id: string;
  state: TaskState;
  transcript: Transcript;
  record(rec: { type: string } & Record<string, unknown>): void;
}

export function pendingComments(t: Transcript): ReviewComment[] {
  return [...t.reviewComments.values()];
}

function draftable(task: ReviewTarget): void {
  if (!REVIEW_DRAFT_STATES.includes(task.state)) throw new TaskError('CONFLICT', `cannot change the review of a task in state ${task.state}`, { state: task.state });
}

function existing(task: ReviewTarget, commentId: string): ReviewCommentRecord {
  const c = task.transcript.reviewComments.get(commentId);
  if (!c) throw new TaskError('NOT_FOUND', `no unsent comment ${commentId} on task ${task.id}`);
  return c;
}

/**
 * Adds a comment. `diffFiles` gives the paths of the task's diff (fresh from the container or the
 * synced branch): a comment must be on one of them.
 */
export async function addComment(task: ReviewTarget, req: AddReviewCommentReq, diffFiles: () => Promise<ReadonlySet<string>>, now = new Date()): Promise<ReviewComment> {
  draftable(task);
  if (task.transcript.reviewComments.size >= MAX_REVIEW_COMMENTS) {
    throw new TaskError('CONFLICT', `a review holds at most ${MAX_REVIEW_COMMENTS} unsent comments; send or delete some first`);
  }
  const files = await diffFiles();
  if (!files.has(req.file)) throw new TaskError('BAD_REQUEST', `"${req.file}" is not a file of this task's diff`, { file: req.file });
  const at = now.toISOString();
  const comment: ReviewCommentRecord = {
    id: ulid().toLowerCase(),
    file: req.file,
    side: req.side,
    startLine: req.startLine,
    endLine: req.endLine,
    // Quoted lines carry no carriage returns the agent would see as garbage.
    quote: req.quote.replace(/\r\n?/g, '\n'),
    body: req.body,
    createdAt: at,
    updatedAt: at,
  };
  task.record({ type: 'caic_review', op: 'add', comment });
  return comment;
}

export function editComment(task: ReviewTarget, commentId: string, body: string, now = new Date()): ReviewComment {
  draftable(task);
  existing(task, commentId);
  task.record({ type: 'caic_review', op: 'edit', id: commentId, body, at: now.toISOString() });
  return existing(task, commentId);
}

export function deleteComment(task: ReviewTarget, commentId: string): void {
  draftable(task);
  existing(task, commentId);
  task.record({ type: 'caic_review', op: 'delete', id: commentId });
}

/**
 * Sends every unsent comment as one input (`deliver` is the task's own input path: it resumes or
 * reattaches the agent as input does), then logs them as sent: the tray empties and the transcript
 * gets its review card. Nothing is logged as sent when the input could not be delivered.
 */
export async function sendReview(task: ReviewTarget, deliver: (text: string) => Promise<void>): Promise<number> {
  const comments = [...task.transcript.reviewComments.values()];
  if (!comments.length) throw new TaskError('CONFLICT', 'the review has no comments to send');
  await deliver(renderReview(comments));
  task.record({ type: 'caic_review', op: 'send', comments });
  return comments.length;
}

// Wire types of inline review comments (drafted on a task's diff, sent to its agent as one input)
// and of restarting or forking a task from one of its user messages; the text a review becomes.
import { z } from 'zod';
import { Prompt, TaskId, type TaskState } from './tasks.js';

/** Comments a task may hold unsent: a review is read by a person first, then by the agent. */
export const MAX_REVIEW_COMMENTS = 50;
export const MAX_REVIEW_COMMENT_CHARS = 8_000;
/** The quoted lines of one comment (what the UI selected in the diff). */
export const MAX_REVIEW_QUOTE_CHARS = 16_000;
/** The longest line range one comment may cover. */
export const MAX_REVIEW_RANGE_LINES = 500;
const MAX_LINE = 10_000_000;

/**
 * A file of the task's repository as the diff names it: relative, no `.`/`..` component, no
 * control character. It is only ever quoted back to the agent and compared with the diff's paths.
 */
export const ReviewFilePath = z
  .string()
  .min(1)
  .max(4096)
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  .regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))(?!.*\/\/)[^\u0000-\u001f\u007f]+$/, 'must be a relative path inside the repository');

export const ReviewSide = z.enum(['old', 'new']).describe('old: lines of the base (deleted or context, old numbering); new: lines of the branch.');
export type ReviewSide = z.infer<typeof ReviewSide>;

const LineNo = z.number().int().min(1).max(MAX_LINE);
const rangeOk = (r: { startLine: number; endLine: number }) => r.endLine >= r.startLine && r.endLine - r.startLine < MAX_REVIEW_RANGE_LINES;
const rangeMessage = { message: `endLine must be at least startLine and the range at most ${MAX_REVIEW_RANGE_LINES} lines`, path: ['endLine'] };

const CommentBody = z.string().trim().min(1, 'the comment is empty').max(MAX_REVIEW_COMMENT_CHARS);

export const ReviewComment = z
  .object({
    id: z.string(),
    file: z.string(),
    side: ReviewSide,
    startLine: z.number().int(),
    endLine: z.number().int(),
    quote: z.string().describe('The lines the comment is about, as the diff showed them.'),
    body: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'ReviewComment' });
export type ReviewComment = z.infer<typeof ReviewComment>;

export const AddReviewCommentReq = z
  .object({
    file: ReviewFilePath,
    side: ReviewSide,
    startLine: LineNo,
    endLine: LineNo,
    quote: z.string().max(MAX_REVIEW_QUOTE_CHARS),
    body: CommentBody,
  })
  .refine(rangeOk, rangeMessage)
  .meta({ id: 'AddReviewCommentReq' });
export type AddReviewCommentReq = z.infer<typeof AddReviewCommentReq>;

export const EditReviewCommentReq = z.object({ body: CommentBody }).meta({ id: 'EditReviewCommentReq' });

export const ReviewCommentId = z.string().regex(/^[0-9a-z]{10,40}$/, 'not a comment id');
export const ReviewCommentParams = z.object({ id: TaskId, commentId: ReviewCommentId });

export const ReviewCommentsResp = z
  .object({ comments: z.array(ReviewComment).describe('The comments not sent yet, oldest first.') })
  .meta({ id: 'ReviewCommentsResp' });
export type ReviewCommentsResp = z.infer<typeof ReviewCommentsResp>;

export const SendReviewResp = z.object({ status: z.literal('sent'), sent: z.number().int() }).meta({ id: 'SendReviewResp' });

const MessageEventId = z.number().int().min(1).describe('The id of a `userInput` event of the task (its SSE id).');

export const RestartFromReq = z
  .object({
    eventId: MessageEventId,
    prompt: Prompt.describe('The message, as edited: the first input of the new session.'),
  })
  .meta({ id: 'RestartFromReq' });
export type RestartFromReq = z.infer<typeof RestartFromReq>;

export const ForkReq = z
  .object({
    eventId: MessageEventId,
    prompt: Prompt.describe('What the new task should do next (the conversation up to the message comes before it).'),
  })
  .meta({ id: 'ForkReq' });
export type ForkReq = z.infer<typeof ForkReq>;

/** States in which comments can be drafted, edited and deleted (a stopped task can be revived to take them). */
export const REVIEW_DRAFT_STATES: readonly TaskState[] = ['pending', 'branching', 'provisioning', 'starting', 'running', 'waiting', 'asking', 'has_plan', 'stopping', 'stopped'];

const lineLabel = (c: Pick<ReviewComment, 'startLine' | 'endLine'>) => (c.startLine === c.endLine ? `line ${c.startLine}` : `lines ${c.startLine}-${c.endLine}`);

/**
 * The input a review becomes: one block per comment with the file, the line range (and which side
 * of the diff), the quoted lines fenced, and the comment. Shared by the server (what the agent
 * gets) and the web UI (which shows that input as the review card instead of a plain message).
 */
export function renderReview(comments: readonly Pick<ReviewComment, 'file' | 'side' | 'startLine' | 'endLine' | 'quote' | 'body'>[]): string {
  const parts = [`Review of your changes: ${comments.length} comment${comments.length === 1 ? '' : 's'} on the diff. Please address each one.`];
  comments.forEach((c, i) => {
    // A fence longer than any backtick run in the quote, so the quote cannot end it.
    const longest = Math.max(2, ...[...c.quote.matchAll(/`+/g)].map((m) => m[0].length));
    const fence = '`'.repeat(longest + 1);
    parts.push(
      [
        `## ${i + 1}. ${c.file}, ${lineLabel(c)} (${c.side === 'new' ? 'new version' : 'old version, removed or unchanged'})`,
        ...(c.quote ? [fence, c.quote, fence] : []),
        c.body,
      ].join('\n'),
    );
  });
  return parts.join('\n\n');
}

// Wire types of tool approval: a task's permission mode and rules, what an agent asks, and the answers.
import { z } from 'zod';
import { globProblem } from './glob.js';

/**
 * bypass: the agent runs every tool unasked (caic's default, as before). ask: every tool call the
 * agent does not itself count as read-only waits for a person. rules: `rules` decide, first match
 * wins; a call no rule matches is asked.
 */
export const PermissionMode = z.enum(['bypass', 'ask', 'rules']).meta({ id: 'PermissionMode' });
export type PermissionMode = z.infer<typeof PermissionMode>;

export const PermissionRule = z
  .object({
    tool: z.string().min(1).max(200).describe('A tool name ("Bash", "Read") or a glob over it ("mcp__*", "*").'),
    pattern: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe("A glob over the call's main argument (Bash: the command; file tools: the path; web tools: the URL); absent: any call of the tool."),
    action: z.enum(['allow', 'ask', 'deny']),
  })
  .superRefine((r, ctx) => {
    for (const key of ['tool', 'pattern'] as const) {
      const problem = r[key] === undefined ? null : globProblem(r[key]);
      if (problem) ctx.addIssue({ code: 'custom', path: [key], message: `not a usable glob: ${problem}` });
    }
  })
  .meta({ id: 'PermissionRule' });
export type PermissionRule = z.infer<typeof PermissionRule>;

export const MAX_PERMISSION_RULES = 100;
/**
 * Characters of all of a task's globs together: a rule is matched in time linear in its pattern
 * and the call's argument, and this bounds the sum over every rule of every call.
 */
export const MAX_PERMISSION_GLOB_CHARS = 4_000;
const globBudget = (rules: readonly { tool: string; pattern?: string | undefined }[] | undefined) =>
  (rules ?? []).reduce((n, r) => n + r.tool.length + (r.pattern?.length ?? 0), 0) <= MAX_PERMISSION_GLOB_CHARS;
const GLOB_BUDGET = { message: `rules: at most ${MAX_PERMISSION_GLOB_CHARS} characters of tool and pattern globs in all`, path: ['rules'] };

export const TaskPermissions = z
  .object({
    mode: PermissionMode,
    rules: z.array(PermissionRule).max(MAX_PERMISSION_RULES).describe('Used in mode `rules`; first match wins.'),
  })
  .refine((p) => globBudget(p.rules), GLOB_BUDGET)
  .meta({ id: 'TaskPermissions' });
export type TaskPermissions = z.infer<typeof TaskPermissions>;

/** As a client sends it at task creation: rules may be left out. */
export const TaskPermissionsReq = z
  .object({ mode: PermissionMode, rules: z.array(PermissionRule).max(MAX_PERMISSION_RULES).optional() })
  .refine((p) => globBudget(p.rules), GLOB_BUDGET)
  .meta({ id: 'TaskPermissionsReq' });

/** allowOnce: this call. allowTask: this call and every later call of the same tool in this task. deny: the agent gets `message`. */
export const ApprovalDecision = z.enum(['allowOnce', 'allowTask', 'deny']).meta({ id: 'ApprovalDecision' });
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

/** Who or what settled a request. */
export const ApprovalDecidedBy = z.enum(['user', 'rule', 'timeout', 'agent']).meta({ id: 'ApprovalDecidedBy' });

/** A request that waits for a person (GET …/approvals, GET /api/v1/approvals, MCP approvals_list). */
export const PendingApproval = z
  .object({
    taskId: z.string(),
    requestId: z.string().describe("The agent's id of this request."),
    toolUseId: z.string().describe('The tool call it is about; empty when the agent gives none.'),
    tool: z.string(),
    input: z.unknown().describe('The tool call\'s arguments (cut to 16 KiB; GET /tasks/{id}/tool/{toolUseId} has them whole).'),
    reason: z.string().describe('Why the agent asks (its own words), or empty.'),
    requestedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime().describe('Unanswered by then, the request is denied ([approval] timeout).'),
    eventId: z.number().int().describe('The `approval` event of the request in the task stream.'),
  })
  .meta({ id: 'PendingApproval' });
export type PendingApproval = z.infer<typeof PendingApproval>;

export const ApprovalsResp = z.object({ approvals: z.array(PendingApproval) }).meta({ id: 'ApprovalsResp' });
export const ApprovalParams = z.object({
  id: z.string().regex(/^[0-9a-z]{10,40}$/, 'not a task id'),
  requestId: z.string().min(1).max(200),
});
export const AnswerApprovalReq = z
  .object({
    decision: ApprovalDecision,
    message: z.string().max(4000).optional().describe('With deny: what the agent is told (default: "denied by <user>").'),
  })
  .meta({ id: 'AnswerApprovalReq' });
export const AnswerApprovalResp = z
  .object({ requestId: z.string(), decision: ApprovalDecision })
  .meta({ id: 'AnswerApprovalResp' });
export type AnswerApprovalReq = z.infer<typeof AnswerApprovalReq>;
export type AnswerApprovalResp = z.infer<typeof AnswerApprovalResp>;
export type ApprovalsResp = z.infer<typeof ApprovalsResp>;
export type ApprovalDecidedBy = z.infer<typeof ApprovalDecidedBy>;

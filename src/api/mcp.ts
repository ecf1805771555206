// Wire types of the MCP tools (arguments and structured results), derived from the REST schemas.
import { z } from 'zod';
import { AnswerApprovalReq, AnswerApprovalResp, ApprovalParams, ApprovalsResp } from './approvals.js';
import { SecretName, SecretsResp, SetSecretReq } from './secrets.js';
import { CloneRepoReq, CreateTaskReq, DiffQuery, DiffResp, InputReq, Repo, SyncReq, SyncResp, Task, TaskId, UsageResp } from './tasks.js';

/** The MCP endpoint: the default resource caic's authorization server issues access tokens for (the REST API, API_RESOURCE_PATH, is the other). */
export const MCP_PATH = '/api/v1/mcp';
/** The account OAuth grants act for when no login is configured (the daemon then serves loopback only). */
export const LOCAL_ACCOUNT = 'local';

/**
 * OAuth scopes of the MCP endpoint, from narrowest to widest reach: the one definition the
 * authorization server (consent page, metadata) and the MCP server (tool filter, challenges) share.
 */
export const MCP_SCOPES = ['caic:mcp.read', 'caic:tasks.read', 'caic:tasks.write', 'caic:tasks.admin', 'caic:repos.write'] as const;
export const McpScope = z.enum(MCP_SCOPES);
export type McpScope = z.infer<typeof McpScope>;

/** What each scope lets a client do, in the words the consent page shows. */
export const MCP_SCOPE_LABELS: Record<McpScope, string> = {
  'caic:mcp.read': 'See your repositories and usage',
  'caic:tasks.read': 'See your tasks, their transcripts and diffs',
  'caic:tasks.write': 'Start tasks, send them messages, answer their questions and push their branches',
  'caic:tasks.admin': 'Stop and purge tasks, and force-push their branches',
  'caic:repos.write': 'Clone repositories onto this server',
};

/** Reading only: pre-ticked on the consent page, and what a client gets when it names no scope. */
export const MCP_READ_SCOPES: readonly McpScope[] = ['caic:mcp.read', 'caic:tasks.read'];

const taskNumber = z.number().int().min(1).describe('Short per-caller number of the task (tasks_list shows it).');
/** A task as tools name it: its number from tasks_list, or its id. */
export const McpTaskRef = z
  .union([taskNumber, z.string().regex(/^\d{1,9}$/, 'a task number'), TaskId])
  .describe('The task: its number from tasks_list (e.g. 3) or its id.');
const cursor = z.string().max(200).describe('nextCursor of the previous page.');
const truncated = z.boolean().describe('True when the answer was cut to its size limit.');

export const McpTaskSummary = Task.pick({ id: true, title: true, state: true, harness: true, model: true, costUSD: true, durationMs: true, numTurns: true, error: true, createdAt: true })
  .extend({
    taskNumber,
    repo: z.string().describe('Repository (empty for a task without one).'),
    branch: z.string(),
    changedFiles: z.number().int(),
    additions: z.number().int(),
    deletions: z.number().int(),
  })
  .meta({ description: 'One task in a list.' });
export type McpTaskSummary = z.infer<typeof McpTaskSummary>;

export const McpTasksListArgs = z.object({ cursor: cursor.optional(), limit: z.number().int().min(1).max(50).default(20) });
export const McpTasksListResult = z.object({ tasks: z.array(McpTaskSummary), nextCursor: z.string().optional(), truncated: truncated.optional() });

export const McpTaskArgs = z.object({ task: McpTaskRef });
export const McpTaskDetail = Task.extend({ taskNumber, truncated: truncated.optional() });

export const McpTaskCreateArgs = z.object({
  prompt: InputReq.shape.prompt.shape.text.min(1).describe('What the agent should do.'),
  repo: CreateTaskReq.shape.repos.element.shape.name.optional().describe('Repository (repos_list); default: the one used last.'),
  baseBranch: CreateTaskReq.shape.repos.element.shape.baseBranch.describe('Branch to start from; default: the repository’s default branch.'),
  harness: CreateTaskReq.shape.harness.optional().describe('Coding agent; default: the one used last with this repository.'),
  model: CreateTaskReq.shape.model.describe('Model of the agent; default: the one used last with this agent.'),
  secrets: CreateTaskReq.shape.secrets.describe("Names of your secrets (secrets_list) to write into the container's ~/.env; their values are masked in the agent's output."),
  permissions: CreateTaskReq.shape.permissions,
});

export const McpSecretsListArgs = z.object({});
export const McpSecretsListResult = SecretsResp;
export const McpSecretSetArgs = z.object({ name: SecretName, value: SetSecretReq.shape.value });
export const McpSecretDeleteArgs = z.object({ name: SecretName });
export const McpSecretDeleteResult = z.object({ status: z.literal('deleted'), name: z.string() });

export const McpSendMessageArgs = z.object({ task: McpTaskRef, message: InputReq.shape.prompt.shape.text.min(1) });
export const McpAnswerArgs = z.object({ task: McpTaskRef, answer: InputReq.shape.prompt.shape.text.min(1).describe('The answer to the agent’s question.') });
export const McpRestartArgs = z.object({ task: McpTaskRef, prompt: InputReq.shape.prompt.shape.text.optional().describe('Empty: the plan the agent wrote becomes the prompt.') });
export const McpPushArgs = z.object({
  task: McpTaskRef,
  force: SyncReq.in.unwrap().shape.force.describe('Push even when the safety scan found secrets or large binaries (needs caic:tasks.admin).'),
  target: SyncReq.in.unwrap().shape.target,
});
export const McpPushResult = SyncResp.extend({ task: McpTaskSummary });
export const McpActionResult = z.object({ status: z.string().describe('What happened (sent, stopped, ...).'), task: McpTaskSummary });

export const McpDiffArgs = z.object({ task: McpTaskRef, path: DiffQuery.shape.path.describe('Only this file.') });
export const McpDiffResult = DiffResp.extend({ truncated });

export const McpLastMessageResult = z.object({ task: McpTaskSummary, text: z.string().describe('The agent’s last message (empty when it has said nothing yet).'), truncated });

export const McpReposListArgs = z.object({ cursor: cursor.optional(), limit: z.number().int().min(1).max(200).default(50) });
export const McpReposListResult = z.object({ repos: z.array(Repo), nextCursor: z.string().optional(), truncated: truncated.optional() });
export const McpCloneArgs = CloneRepoReq.pick({ url: true, path: true });
export const McpCloneResult = Repo;
// Tool approval: the calls that wait for the caller, and answers.
export const McpApprovalsListArgs = z.object({ task: McpTaskRef.optional().describe('Only this task; default: all of yours.') });
export const McpApprovalsListResult = ApprovalsResp;
export const McpApprovalAnswerArgs = z.object({
  task: McpTaskRef,
  requestId: ApprovalParams.shape.requestId.describe('The request (approvals_list).'),
  decision: AnswerApprovalReq.shape.decision,
  message: AnswerApprovalReq.shape.message,
});
export const McpApprovalAnswerResult = AnswerApprovalResp;
export const McpUsageArgs = z.object({});
export const McpUsageResult = UsageResp;

// Wire types of tasks, repositories, harnesses and preferences.
import { z } from 'zod';
import { MAX_TASK_SECRETS, SecretName } from './secrets.js';
import { DiffStatEntry, Usage } from './events.js';
import { CIStatus, TaskForge } from './forge.js';
import { TaskPermissions, TaskPermissionsReq } from './approvals.js';
import { EgressPolicy, EgressPolicyReq } from './egress.js';

export const TaskState = z
  .enum(['pending', 'branching', 'provisioning', 'starting', 'running', 'waiting', 'asking', 'has_plan', 'stopping', 'stopped', 'purging', 'purged', 'failed', 'crashed'])
  .meta({ id: 'TaskState' });
export type TaskState = z.infer<typeof TaskState>;

/** States in which the agent has a live session (it takes input; it can be stopped). */
export const LIVE_STATES: readonly TaskState[] = ['running', 'waiting', 'asking', 'has_plan'];
const IDLE_LIVE: readonly TaskState[] = ['waiting', 'asking', 'has_plan'];
/**
 * The states each action accepts; any other answers 409. The task service enforces them and the
 * web UI shows a button only where its action would be accepted.
 */
export const ACTION_STATES = {
  input: LIVE_STATES,
  compact: LIVE_STATES,
  stop: LIVE_STATES,
  restart: IDLE_LIVE,
  clearContext: IDLE_LIVE,
  interrupt: LIVE_STATES,
  rename: [...LIVE_STATES, 'pending', 'branching', 'provisioning', 'starting', 'stopping', 'stopped', 'purging', 'purged', 'failed'],
  revive: ['stopped'],
  purge: [...LIVE_STATES, 'stopping', 'stopped', 'failed'],
} as const satisfies Record<string, readonly TaskState[]>;
export type TaskAction = keyof typeof ACTION_STATES;
export const canDo = (action: TaskAction, state: TaskState): boolean => (ACTION_STATES[action] as readonly TaskState[]).includes(state);

export const HarnessName = z.enum(['claude', 'codex', 'gemini', 'opencode', 'fake']).meta({ id: 'HarnessName' });
export type HarnessName = z.infer<typeof HarnessName>;

export const TaskId = z.string().regex(/^[0-9a-z]{10,40}$/, 'not a task id');
export const TaskIdParams = z.object({ id: TaskId });
export const ToolParams = z.object({ id: TaskId, toolUseId: z.string().min(1).max(200) });

/**
 * A repository path relative to `[core] root`, as discovery names it: no absolute path, no `.` or
 * `..` component, no empty one, no control character. Spaces and non-ASCII letters are names too.
 */
export const RepoName = z
  .string()
  .min(1)
  .max(300)
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  .regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))(?!.*\/\/)(?!.*\/$)[^\u0000-\u001f\u007f]+$/, 'must be a repository path relative to the root');
export const BranchName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^(?!-)(?!.*\.\.)(?!.*\/$)[A-Za-z0-9._/-]+$/, 'not a valid branch name');

export const TaskRepo = z.object({ name: RepoName, baseBranch: BranchName, branch: z.string() }).meta({ id: 'TaskRepo' });

export const ImageData = z.object({
  mediaType: z.enum(['image/png', 'image/jpeg', 'image/gif', 'image/webp']),
  data: z.string().max(8 * 1024 * 1024).describe('Base64.'),
});
export const Prompt = z
  .object({
    text: z.string().max(512 * 1024),
    images: z.array(ImageData).max(10).optional(),
  })
  .meta({ id: 'Prompt' });
export type Prompt = z.infer<typeof Prompt>;

export const Task = z
  .object({
    id: z.string(),
    title: z.string(),
    initialPrompt: z.string(),
    repos: z.array(TaskRepo),
    harness: HarnessName,
    model: z.string(),
    state: TaskState,
    stateUpdatedAt: z.string(),
    createdAt: z.string(),
    container: z.string(),
    sudo: z.boolean(),
    owner: z.string().describe('Username of the creator; empty in no-auth mode.'),
    costUSD: z.number(),
    durationMs: z.number(),
    numTurns: z.number().int(),
    tokens: Usage,
    contextWindowLimit: z.number().int(),
    activeInputTokens: z.number().int(),
    diffStat: z.array(DiffStatEntry),
    error: z.string(),
    result: z.string(),
    sessionId: z.string(),
    agentVersion: z.string(),
    planContent: z.string(),
    lastEventId: z.number().int(),
    forge: TaskForge.nullable().describe('The pull/merge request of the task branch, once there is one.'),
    permissions: TaskPermissions.describe("Tool approval: the task's permission mode and rules."),
    pendingApprovals: z.number().int().describe('Tool calls waiting for a person now.'),
    egress: EgressPolicy.describe("The task's network egress policy (presets expanded)."),
  })
  .meta({ id: 'Task' });
export type Task = z.infer<typeof Task>;

export const CreateTaskReq = z
  .object({
    repos: z
      .array(
        z.object({
          name: RepoName,
          baseBranch: BranchName.optional(),
          branch: BranchName.optional().describe('Continue this existing branch (fetched from origin first) instead of a new caic-N branch.'),
        }),
      )
      .max(1, 'one repository per task for now'),
    harness: HarnessName,
    model: z.string().max(200).optional(),
    prompt: Prompt,
    sudo: z.boolean().optional(),
    gitHubToken: z.boolean().optional().describe('Inject a GitHub token into the container ~/.env.'),
    secrets: z
      .array(SecretName)
      .max(MAX_TASK_SECRETS)
      .refine((a) => new Set(a).size === a.length, 'names a secret twice')
      .optional()
      .describe("Names of the caller's secrets (the vault) written into the container ~/.env; their values are masked in everything the agent prints."),
    issue: z
      .string()
      .min(1)
      .max(2048)
      .optional()
      .describe('Start from a forge issue: "owner/repo#N" or its URL. Its title, body and comments become the prompt (prompt.text is added after them).'),
    permissions: TaskPermissionsReq.optional().describe('Tool approval; default: [approval] mode and rules of the config.'),
    egress: EgressPolicyReq.optional().describe('Network egress; default: [egress] of the config (per repository, then global).'),
  })
  .meta({ id: 'CreateTaskReq' });
export type CreateTaskReq = z.infer<typeof CreateTaskReq>;

/** A body every field of which is optional may also be left out (Fastify then validates null). */
const optionalBody = <T extends z.ZodObject>(schema: T) => schema.nullable().transform((v) => v ?? ({} as z.output<T>));

export const InputReq = z.object({ prompt: Prompt }).meta({ id: 'InputReq' });
export const RestartReq = optionalBody(
  z.object({ prompt: Prompt.optional().describe('Empty: the plan the agent wrote becomes the prompt ("execute plan").') }).meta({ id: 'RestartReq' }),
);
export const CompactReq = optionalBody(z.object({ instructions: z.string().max(10_000).optional() }).meta({ id: 'CompactReq' }));
export const SyncReq = optionalBody(
  z
    .object({
      target: z.enum(['branch', 'pr']).optional().describe('branch (default): push the task branch. pr: push it and open or update its pull/merge request.'),
      force: z.boolean().optional().describe('Push even when the safety scan found issues.'),
    })
    .meta({ id: 'SyncReq' }),
);

export const SafetyIssue = z.object({ file: z.string(), kind: z.enum(['secret', 'large_binary']), detail: z.string() }).meta({ id: 'SafetyIssue' });
export type SafetyIssue = z.infer<typeof SafetyIssue>;
export const SyncResp = z
  .object({
    status: z.enum(['synced', 'blocked', 'empty']),
    branch: z.string(),
    diffStat: z.array(DiffStatEntry),
    safetyIssues: z.array(SafetyIssue),
    forge: TaskForge.nullable().describe('The pull/merge request (target pr, when synced).'),
  })
  .meta({ id: 'SyncResp' });
export type SyncResp = z.infer<typeof SyncResp>;

/**
 * A path inside a task's repository, as a client names it. It reaches a command in the container
 * (as an argument), so control characters, NUL first of all, are refused here.
 */
export const RepoFilePath = z
  .string()
  .min(1)
  .max(4096)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');
export const DiffQuery = z.object({ path: RepoFilePath.optional() });
export const DiffResp = z.object({ files: z.array(DiffStatEntry), diff: z.string() }).meta({ id: 'DiffResp' });
export type DiffResp = z.infer<typeof DiffResp>;
export const SudoPasswordResp = z
  .object({ password: z.string().describe('The password of user `user` for sudo inside the container.') })
  .meta({ id: 'SudoPasswordResp' });
export const ToolInputResp = z.object({ toolUseId: z.string(), input: z.unknown() }).meta({ id: 'ToolInputResp' });

export const Repo = z
  .object({
    name: z.string(),
    baseBranch: z.string(),
    remote: z.string(),
    remoteURL: z.string(),
    forge: z.enum(['github', 'gitlab', '']),
    ci: CIStatus.nullable().describe("CI of the default branch's head commit on the forge; null when unknown."),
  })
  .meta({ id: 'Repo' });
export type Repo = z.infer<typeof Repo>;
export const CloneRepoReq = z
  .object({
    url: z.string().min(1).max(2048),
    path: RepoName.optional(),
    depth: z.number().int().min(0).max(1_000_000).optional().describe('0 = full history; default 1.'),
  })
  .meta({ id: 'CloneRepoReq' });
export const RepoQuery = z.object({ repo: RepoName });
export const RepoBranchesResp = z.object({ branches: z.array(z.object({ name: z.string(), remote: z.string() })) }).meta({ id: 'RepoBranchesResp' });

export const HarnessInfo = z
  .object({
    name: HarnessName,
    models: z.array(z.string()),
    defaultModel: z.string(),
    supportsImages: z.boolean(),
    supportsCompact: z.boolean(),
    supportsInterrupt: z.boolean(),
    contextWindow: z.number().int(),
    installed: z.boolean().describe('The agent CLI is in the configured image (image labels, else one probe per image id).'),
    version: z.string().describe('The installed CLI version when known, else empty.'),
    credentials: z.boolean().describe('Credentials the agent needs are configured ([harness.<name>.env] or the environment).'),
    ready: z.boolean().describe('installed and credentials: a task with this agent can start.'),
    reason: z.string().describe('Why the agent cannot run; empty when ready.'),
    fix: z.string().describe('What to do about it (a command or a config key); empty when ready.'),
  })
  .meta({ id: 'HarnessInfo' });
export type HarnessInfo = z.infer<typeof HarnessInfo>;

export const RepoPreference = z.object({ name: z.string(), baseBranch: z.string(), harness: z.string(), model: z.string(), lastUsed: z.string() });
export const Preferences = z
  .object({
    repositories: z.array(RepoPreference),
    harness: z.string(),
    models: z.record(z.string(), z.string()),
    settings: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Preferences' });
export type Preferences = z.infer<typeof Preferences>;
/** Bounds of a settings block: it is kept in memory for every user and written to one shared file. */
export const MAX_SETTINGS_DEPTH = 8;
export const MAX_SETTINGS_BYTES = 64 * 1024;

/** Nesting depth of a JSON value (a scalar is 0), counted without recursion and abandoned once past `limit`. */
function jsonDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) max = depth + 1;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return max;
}

export const Settings = z
  .record(z.string().max(200), z.unknown())
  .superRefine((value, ctx) => {
    if (jsonDepth(value, MAX_SETTINGS_DEPTH) > MAX_SETTINGS_DEPTH) {
      ctx.addIssue({ code: 'custom', message: `must be nested at most ${MAX_SETTINGS_DEPTH} levels deep` });
      return;
    }
    if (new TextEncoder().encode(JSON.stringify(value)).length > MAX_SETTINGS_BYTES) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_SETTINGS_BYTES} bytes as JSON` });
    }
  })
  .describe(`Free-form client settings (JSON object), at most ${MAX_SETTINGS_DEPTH} levels deep and ${MAX_SETTINGS_BYTES} bytes.`);
export const UpdatePreferencesReq = z.object({ settings: Settings }).meta({ id: 'UpdatePreferencesReq' });

export const UsagePeriod = z
  .object({
    start: z.string().describe('First day of the period, YYYY-MM-DD (UTC).'),
    costUSD: z.number(),
    tokens: Usage,
    agentMs: z.number().describe('Time agents spent working (sum of turn durations).'),
    turns: z.number().int(),
    tasks: z.number().int().describe('Tasks with activity in the period.'),
  })
  .meta({ id: 'UsagePeriod' });
export type UsagePeriod = z.infer<typeof UsagePeriod>;
export const UsageResp = z
  .object({
    days: z.array(UsagePeriod).describe('The last 14 days, oldest first (UTC days), including days without activity.'),
    weeks: z.array(UsagePeriod).describe('The last 8 weeks (starting Monday, UTC), oldest first.'),
  })
  .meta({ id: 'UsageResp', description: "The caller's agent cost, tokens and time per day and per week, from the task logs." });
export type UsageResp = z.infer<typeof UsageResp>;

export const RenameTaskReq = z
  .object({
    title: z
      .string()
      .trim()
      .min(1, 'the title is empty')
      .max(200)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/, 'the title has control characters (one line of text)'),
  })
  .meta({ id: 'RenameTaskReq' });
export type RenameTaskReq = z.infer<typeof RenameTaskReq>;


/** Task list stream: a snapshot, then changes. */
export const TaskListEvent = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('snapshot'), tasks: z.array(Task) }).meta({ id: 'TaskListSnapshot' }),
    z.object({ type: z.literal('upsert'), task: Task }).meta({ id: 'TaskListUpsert' }),
    z.object({ type: z.literal('patch'), id: z.string(), fields: Task.partial() }).meta({ id: 'TaskListPatch' }),
    z.object({ type: z.literal('delete'), id: z.string() }).meta({ id: 'TaskListDelete' }),
  ])
  .meta({ id: 'TaskListEvent' });
export type TaskListEvent = z.infer<typeof TaskListEvent>;



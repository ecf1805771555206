// The MCP tools: each one's scope, annotations, argument and result schemas (from src/api) and handler.
import type { z } from 'zod';
import {
  HarnessName,
  McpActionResult,
  McpAnswerArgs,
  McpApprovalAnswerArgs,
  McpApprovalAnswerResult,
  McpApprovalsListArgs,
  McpApprovalsListResult,
  McpCloneArgs,
  McpCloneResult,
  McpDiffArgs,
  McpDiffResult,
  McpLastMessageResult,
  McpPushArgs,
  McpPushResult,
  McpReposListArgs,
  McpReposListResult,
  McpRestartArgs,
  McpSecretDeleteArgs,
  McpSecretDeleteResult,
  McpSecretSetArgs,
  McpSecretsListArgs,
  McpSecretsListResult,
  SecretMeta,
  McpSendMessageArgs,
  McpTaskArgs,
  McpTaskCreateArgs,
  McpTaskDetail,
  McpTasksListArgs,
  McpTasksListResult,
  McpUsageArgs,
  McpUsageResult,
  type HarnessInfo,
  type McpScope,
  type McpTaskSummary,
  type Repo,
  type Task,
} from '../api/index.js';
import { DEFAULT_USER, type PreferenceStore } from '../config/index.js';
import { TaskError, type RepoRegistry, type TaskService } from '../tasks/index.js';
import type { ForgeService } from '../forge/index.js';
import type { Principal } from './auth.js';
import { cutText, CursorError, LIST_CAP_BYTES, summary, tasksPage, TEXT_CAP_BYTES } from './tasks-view.js';

export interface McpServices {
  service: TaskService;
  repos: RepoRegistry;
  preferences: PreferenceStore;
  harnesses: () => Promise<HarnessInfo[]>;
  /** Pushes, and pull requests (push with target "pr"). */
  forge: ForgeService;
  /** The secrets vault (names out, values only in); absent: the secret tools say there is none. */
  secrets?: {
    list(userId: string): Promise<SecretMeta[]>;
    set(userId: string, name: string, value: string): Promise<SecretMeta>;
    delete(userId: string, name: string): Promise<void>;
  };
}

/** The vault for a tool call; its refusals (unknown name, too many, unreadable vault) as task errors. */
async function withVault<T>(ctx: ToolContext, fn: (v: NonNullable<McpServices['secrets']>, user: string) => Promise<T>): Promise<T> {
  const v = ctx.services.secrets;
  if (!v) throw new TaskError('CONFLICT', 'this server has no secrets vault');
  try {
    return await fn(v, ctx.principal.caller?.id ?? DEFAULT_USER);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'NOT_FOUND' || code === 'CONFLICT' || code === 'BAD_REQUEST') throw new TaskError(code, (err as Error).message);
    throw err;
  }
}

export interface ToolContext {
  principal: Principal;
  services: McpServices;
}

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** What a handler returns: the structured result, a short text, and a domain failure if it was one. */
export interface ToolOutcome<R> {
  result: R;
  text: string;
  /** A domain failure that still has a structured answer (a blocked push and its findings). */
  failure?: { code: string; message: string };
  truncated?: boolean;
}

export interface ToolDef<A extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  name: string;
  title: string;
  description: string;
  scope: McpScope;
  args: A;
  result: R;
  annotations: ToolAnnotations;
  /** A wider scope this particular call needs (a forced push), or null. */
  extraScope?: (args: z.output<A>) => McpScope | null;
  run(ctx: ToolContext, args: z.output<A>): Promise<ToolOutcome<z.output<R>>>;
}

const tool = <A extends z.ZodType, R extends z.ZodType>(def: ToolDef<A, R>): ToolDef => def;

const READ: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const WRITE: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };

/** The caller's tasks in creation order (what task numbers count), and the one a reference names. */
function resolve(ctx: ToolContext, ref: number | string): { task: Task; number: number } {
  const all = ctx.services.service.list(ctx.principal.caller);
  const n = typeof ref === 'number' ? ref : /^\d+$/.test(ref) ? Number(ref) : null;
  if (n !== null) {
    const task = all[n - 1];
    if (!task) throw new TaskError('NOT_FOUND', `no task number ${n} (tasks_list shows the numbers)`);
    return { task, number: n };
  }
  const i = all.findIndex((t) => t.id === ref);
  if (i < 0) throw new TaskError('NOT_FOUND', `no task ${ref}`);
  return { task: all[i]!, number: i + 1 };
}

function current(ctx: ToolContext, id: string, number: number): McpTaskSummary {
  return summary(ctx.services.service.get(id, ctx.principal.caller), number);
}

const line = (s: McpTaskSummary) =>
  `#${s.taskNumber} [${s.state}] ${s.title}${s.repo ? ` (${s.repo}${s.branch ? `@${s.branch}` : ''})` : ''}${s.changedFiles ? ` +${s.additions}/-${s.deletions} in ${s.changedFiles} files` : ''}`;

/** An action on one task: resolve, act, answer with what it did and the task as it is now. */
function action(
  name: string,
  title: string,
  description: string,
  scope: McpScope,
  annotations: ToolAnnotations,
  act: (svc: TaskService, id: string, caller: Principal['caller']) => Promise<unknown>,
  status: string,
): ToolDef {
  return tool({
    name,
    title,
    description,
    scope,
    args: McpTaskArgs,
    result: McpActionResult,
    annotations,
    async run(ctx, args) {
      const { task, number } = resolve(ctx, args.task);
      await act(ctx.services.service, task.id, ctx.principal.caller);
      const now = current(ctx, task.id, number);
      return { result: { status, task: now }, text: `${status}: ${line(now)}` };
    },
  });
}

function defaultRepo(ctx: ToolContext, prefs: ReturnType<PreferenceStore['get']>): string | undefined {
  const known = ctx.services.repos.list();
  const recent = prefs.repositories.find((r) => known.some((k) => k.name === r.name));
  if (recent) return recent.name;
  if (known.length === 1) return known[0]!.name;
  if (known.length === 0) return undefined;
  const names = known.slice(0, 20).map((r) => r.name);
  throw new TaskError('BAD_REQUEST', `name a repository: one of ${names.join(', ')}${known.length > names.length ? ', … (repos_list)' : ''}`);
}

const asHarness = (s: string | undefined) => (s && HarnessName.safeParse(s).success ? (s as HarnessName) : undefined);

export const TOOLS: readonly ToolDef[] = [
  tool({
    name: 'tasks_list',
    title: 'List tasks',
    description: 'Your tasks, active ones first, newest first. Each has a short taskNumber other tools accept instead of the id.',
    scope: 'caic:tasks.read',
    args: McpTasksListArgs,
    result: McpTasksListResult,
    annotations: READ,
    run(ctx, args) {
      let page;
      try {
        page = tasksPage(ctx.services.service.list(ctx.principal.caller), args.cursor, args.limit);
      } catch (err) {
        if (err instanceof CursorError) throw new TaskError('BAD_REQUEST', 'invalid cursor: pass nextCursor of the previous page');
        throw err;
      }
      const text = page.tasks.length ? page.tasks.map(line).join('\n') : 'No tasks.';
      return Promise.resolve({ result: page, text: page.nextCursor ? `${text}\n(more: pass cursor)` : text, ...(page.truncated ? { truncated: true } : {}) });
    },
  }),
  tool({
    name: 'task_get_detail',
    title: 'Task detail',
    description: 'Everything about one task: state, prompt, repository and branch, cost, changed files, its last result or error.',
    scope: 'caic:tasks.read',
    args: McpTaskArgs,
    result: McpTaskDetail,
    annotations: READ,
    run(ctx, args) {
      const { task, number } = resolve(ctx, args.task);
      let truncated = false;
      const cut = (s: string) => {
        const c = cutText(s, TEXT_CAP_BYTES / 4);
        truncated ||= c.truncated;
        return c.text;
      };
      const detail = { ...task, taskNumber: number, initialPrompt: cut(task.initialPrompt), result: cut(task.result), planContent: cut(task.planContent), error: cut(task.error) };
      const s = summary(task, number);
      const text = `${line(s)}\n${task.result ? `Result: ${cutText(task.result, 2000).text}` : task.error ? `Error: ${cutText(task.error, 2000).text}` : ''}`.trim();
      return Promise.resolve({ result: truncated ? { ...detail, truncated } : detail, text, truncated });
    },
  }),
  tool({
    name: 'task_create',
    title: 'Start a task',
    description:
      'Starts a coding agent in a fresh container on a new branch of a repository. Repository, agent and model default to the ones you used last. Returns at once; the task provisions in the background.',
    scope: 'caic:tasks.write',
    args: McpTaskCreateArgs,
    result: McpTaskDetail,
    annotations: { ...WRITE, openWorldHint: true },
    async run(ctx, args) {
      const { service, preferences } = ctx.services;
      const prefs = preferences.get(ctx.principal.caller?.id ?? DEFAULT_USER);
      const repo = args.repo ?? defaultRepo(ctx, prefs);
      const repoPref = prefs.repositories.find((r) => r.name === repo);
      const harness = args.harness ?? asHarness(repoPref?.harness) ?? asHarness(prefs.harness) ?? 'claude';
      const model = args.model ?? (repoPref?.harness === harness && repoPref.model ? repoPref.model : prefs.models[harness] || undefined);
      const created = await service.create(
        {
          repos: repo ? [{ name: repo, ...(args.baseBranch ? { baseBranch: args.baseBranch } : {}) }] : [],
          harness,
          ...(model ? { model } : {}),
          prompt: { text: args.prompt },
          ...(args.secrets?.length ? { secrets: args.secrets } : {}),
          ...(args.permissions ? { permissions: args.permissions } : {}),
        },
        ctx.principal.caller,
      );
      const { number } = resolve(ctx, created.id);
      const s = summary(created, number);
      return { result: { ...created, taskNumber: number }, text: `Started ${line(s)} with ${created.harness} (${created.model}).` };
    },
  }),
  tool({
    name: 'task_send_message',
    title: 'Message the agent',
    description: 'Sends a message to the task’s agent (a new instruction, or feedback while it works).',
    scope: 'caic:tasks.write',
    args: McpSendMessageArgs,
    result: McpActionResult,
    annotations: WRITE,
    async run(ctx, args) {
      const { task, number } = resolve(ctx, args.task);
      await ctx.services.service.input(task.id, { text: args.message }, ctx.principal.caller);
      const now = current(ctx, task.id, number);
      return { result: { status: 'sent', task: now }, text: `Sent to ${line(now)}` };
    },
  }),
  tool({
    name: 'task_answer_question',
    title: 'Answer the agent’s question',
    description: 'Answers the question a task in state `asking` is waiting on (task_get_detail or agent_last_message shows it).',
    scope: 'caic:tasks.write',
    args: McpAnswerArgs,
    result: McpActionResult,
    annotations: WRITE,
    async run(ctx, args) {
      const { task, number } = resolve(ctx, args.task);
      if (task.state !== 'asking' && task.state !== 'has_plan') {
        throw new TaskError('CONFLICT', `task ${number} is ${task.state}, not asking a question; use task_send_message`, { state: task.state });
      }
      await ctx.services.service.input(task.id, { text: args.answer }, ctx.principal.caller);
      const now = current(ctx, task.id, number);
      return { result: { status: 'answered', task: now }, text: `Answered ${line(now)}` };
    },
  }),
  tool({
    name: 'task_push_branch_to_remote',
    title: 'Push the task’s branch',
    description:
      'Commits the agent’s work, scans it for secrets and large binaries, and pushes the task branch to the repository’s remote; with target "pr" it then opens (or updates) the pull/merge request and caic watches its CI. A push the scan blocks returns the findings; force pushes anyway (needs caic:tasks.admin).',
    scope: 'caic:tasks.write',
    args: McpPushArgs,
    result: McpPushResult,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    extraScope: (args) => (args.force ? 'caic:tasks.admin' : null),
    async run(ctx, args) {
      const { task, number } = resolve(ctx, args.task);
      const sync = await ctx.services.forge.sync(task.id, { force: args.force === true, target: args.target ?? 'branch' }, ctx.principal.caller);
      const now = current(ctx, task.id, number);
      const result = { ...sync, task: now };
      if (sync.status === 'blocked') {
        const findings = sync.safetyIssues.slice(0, 20).map((i) => `- ${i.kind} in ${i.file}: ${i.detail}`).join('\n');
        const message = `push of ${sync.branch} blocked by the safety scan`;
        return { result, text: `${message}:\n${findings}\nFix the files, or push with force (needs caic:tasks.admin).`, failure: { code: 'PUSH_BLOCKED', message } };
      }
      const files = sync.diffStat.length;
      const pr = sync.forge ? ` Pull request #${sync.forge.number}: ${sync.forge.url}` : '';
      return { result, text: `${sync.status === 'empty' ? `Nothing new to push on ${sync.branch}.` : `Pushed ${sync.branch} (${files} files changed).`}${pr}` };
    },
  }),
  action('task_stop', 'Stop a task', 'Stops the agent and its container (the work stays; task_revive starts it again).', 'caic:tasks.admin', { ...WRITE, destructiveHint: true, idempotentHint: true }, (s, id, c) => s.stop(id, c), 'stopped'),
  action('task_revive', 'Revive a task', 'Starts a stopped task’s container and agent again.', 'caic:tasks.write', { ...WRITE, idempotentHint: true }, (s, id, c) => s.revive(id, c), 'revived'),
  action('task_purge', 'Purge a task', 'Removes the task’s container and everything in it that was not pushed. Cannot be undone.', 'caic:tasks.admin', { ...WRITE, destructiveHint: true, idempotentHint: true }, (s, id, c) => s.purge(id, c), 'purged'),
  tool({
    name: 'task_restart',
    title: 'Restart the agent',
    description: 'Starts a new agent session in the same container with a prompt (default: execute the plan the agent wrote).',
    scope: 'caic:tasks.write',
    args: McpRestartArgs,
    result: McpActionResult,
    annotations: WRITE,
    async run(ctx, args) {
      const { task, number } = resolve(ctx, args.task);
      await ctx.services.service.restart(task.id, args.prompt ? { text: args.prompt } : undefined, ctx.principal.caller);
      const now = current(ctx, task.id, number);
      return { result: { status: 'restarted', task: now }, text: `Restarted ${line(now)}` };
    },
  }),
  tool({
    name: 'task_diff',
    title: 'Task diff',
    description: 'The changes the agent made against the base branch: files with added/deleted lines, and the patch (cut at 32 KiB).',
    scope: 'caic:tasks.read',
    args: McpDiffArgs,
    result: McpDiffResult,
    annotations: READ,
    async run(ctx, args) {
      const { task } = resolve(ctx, args.task);
      const d = await ctx.services.service.diff(task.id, args.path, ctx.principal.caller);
      const patch = cutText(d.diff);
      const stat = d.files.map((f) => `${f.path} +${f.added}/-${f.deleted}`).join('\n');
      return { result: { files: d.files, diff: patch.text, truncated: patch.truncated }, text: stat || 'No changes.', truncated: patch.truncated };
    },
  }),
  tool({
    name: 'agent_last_message',
    title: 'The agent’s last message',
    description: 'What the task’s agent said last (its final answer of the turn, a question it asks, or the text it is writing).',
    scope: 'caic:tasks.read',
    args: McpTaskArgs,
    result: McpLastMessageResult,
    annotations: READ,
    async run(ctx, args) {
      const { task, number } = resolve(ctx, args.task);
      const { history, unsubscribe } = await ctx.services.service.subscribe(task.id, ctx.principal.caller, 0, () => {});
      unsubscribe();
      let text = '';
      for (let i = history.length - 1; i >= 0 && !text; i--) {
        const e = history[i]!;
        if (e.kind === 'text' || (e.kind === 'result' && e.result)) text = e.kind === 'text' ? e.text : e.result;
        else if (e.kind === 'ask') text = e.questions.map((q) => `${q.question}\n${q.options.map((o) => `- ${o.label}${o.description ? `: ${o.description}` : ''}`).join('\n')}`).join('\n\n');
      }
      const cut = cutText(text);
      const now = current(ctx, task.id, number);
      return { result: { task: now, text: cut.text, truncated: cut.truncated }, text: cut.text || '(no message yet)', truncated: cut.truncated };
    },
  }),
  tool({
    name: 'repos_list',
    title: 'List repositories',
    description: 'The repositories tasks can start on (paths under the server’s root), with their default branch and remote.',
    scope: 'caic:mcp.read',
    args: McpReposListArgs,
    result: McpReposListResult,
    annotations: READ,
    run(ctx, args) {
      const all = ctx.services.repos.list().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      let start = 0;
      if (args.cursor !== undefined) {
        const name = Buffer.from(args.cursor, 'base64url').toString();
        start = all.findIndex((r) => r.name > name);
        if (start < 0) start = all.length;
      }
      const repos: Repo[] = [];
      let bytes = 0;
      let truncated = false;
      let i = start;
      for (; i < all.length && repos.length < args.limit; i++) {
        const { name, baseBranch, remote, remoteURL, forge, ci } = all[i]!;
        const r = { name, baseBranch, remote, remoteURL, forge, ci };
        const size = Buffer.byteLength(JSON.stringify(r)) + 1;
        if (bytes + size > LIST_CAP_BYTES && repos.length > 0) {
          truncated = true;
          break;
        }
        bytes += size;
        repos.push(r);
      }
      const more = i < all.length && repos.length > 0;
      const result = { repos, ...(more ? { nextCursor: Buffer.from(repos.at(-1)!.name).toString('base64url') } : {}), ...(truncated ? { truncated } : {}) };
      const text = repos.length ? repos.map((r) => `${r.name} (${r.baseBranch}${r.remoteURL ? `, ${r.remoteURL}` : ''})`).join('\n') : 'No repositories.';
      return Promise.resolve({ result, text: more ? `${text}\n(more: pass cursor)` : text, truncated });
    },
  }),
  tool({
    name: 'clone_repo',
    title: 'Clone a repository',
    description: 'Clones a git repository (https://, ssh:// or git@host:) under the server’s root so tasks can use it.',
    scope: 'caic:repos.write',
    args: McpCloneArgs,
    result: McpCloneResult,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async run(ctx, args) {
      const { name, baseBranch, remote, remoteURL, forge, ci } = await ctx.services.repos.clone(args);
      return { result: { name, baseBranch, remote, remoteURL, forge, ci }, text: `Cloned into ${name} (default branch ${baseBranch}).` };
    },
  }),
  tool({
    name: 'get_usage',
    title: 'Usage',
    description: 'Your agents’ cost, tokens and working time per day (last 14) and per week (last 8).',
    scope: 'caic:mcp.read',
    args: McpUsageArgs,
    result: McpUsageResult,
    annotations: READ,
    async run(ctx) {
      const usage = await ctx.services.service.usage(ctx.principal.caller);
      const today = usage.days.at(-1);
      const week = usage.weeks.at(-1);
      const text = `Today: $${(today?.costUSD ?? 0).toFixed(2)}, ${today?.turns ?? 0} turns. This week: $${(week?.costUSD ?? 0).toFixed(2)}, ${week?.turns ?? 0} turns.`;
      return { result: usage, text };
    },
  }),
  tool({
    name: 'approvals_list',
    title: 'Tool calls waiting for you',
    description:
      'Tool calls your agents wait on (tasks in permission mode ask or rules): task, tool, arguments, the agent’s reason and the deadline after which the call is denied. Answer with approval_answer.',
    scope: 'caic:tasks.read',
    args: McpApprovalsListArgs,
    result: McpApprovalsListResult,
    annotations: READ,
    async run(ctx, args) {
      const svc = ctx.services.service;
      const approvals = args.task === undefined ? svc.pendingApprovals(ctx.principal.caller) : await svc.approvalsOf(resolve(ctx, args.task).task.id, ctx.principal.caller);
      const numbers = new Map(svc.list(ctx.principal.caller).map((t, i) => [t.id, i + 1]));
      const text = approvals.length
        ? approvals.map((a) => `task #${numbers.get(a.taskId) ?? '?'} request ${a.requestId}: ${a.tool} ${cutText(JSON.stringify(a.input), 200).text}${a.reason ? ` (${a.reason})` : ''}, denied at ${a.expiresAt} unless answered`).join('\n')
        : 'No tool call waits for you.';
      return { result: { approvals }, text };
    },
  }),
  tool({
    name: 'approval_answer',
    title: 'Answer a tool call',
    description:
      'Answers a tool call an agent waits on: allowOnce (this call), allowTask (this and every later call of the same tool in the task) or deny (the agent is told `message`).',
    scope: 'caic:tasks.write',
    args: McpApprovalAnswerArgs,
    result: McpApprovalAnswerResult,
    annotations: WRITE,
    async run(ctx, args) {
      const { task, number } = resolve(ctx, args.task);
      const r = await ctx.services.service.answerApproval(task.id, args.requestId, { decision: args.decision, ...(args.message !== undefined ? { message: args.message } : {}) }, ctx.principal.caller);
      return { result: r, text: `${r.decision === 'deny' ? 'Denied' : 'Allowed'} request ${r.requestId} of task #${number}${r.decision === 'allowTask' ? ' (and the same tool for the rest of the task)' : ''}.` };
    },
  }),
  tool({
    name: 'secrets_list',
    title: 'Your secrets',
    description: 'The names of your stored secrets (never their values), to give to task_create.',
    scope: 'caic:tasks.read',
    args: McpSecretsListArgs,
    result: McpSecretsListResult,
    annotations: READ,
    async run(ctx) {
      const secrets = await withVault(ctx, (v, user) => v.list(user));
      return { result: { secrets }, text: secrets.length ? `Secrets: ${secrets.map((s) => s.name).join(', ')}` : 'No secrets stored.' };
    },
  }),
  tool({
    name: 'secret_set',
    title: 'Store a secret',
    description: "Stores (or replaces) one of your secrets, encrypted; tasks that name it get it in ~/.env and it is masked in their output. The value is never shown again.",
    scope: 'caic:tasks.admin',
    args: McpSecretSetArgs,
    result: SecretMeta,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async run(ctx, args) {
      const meta = await withVault(ctx, (v, user) => v.set(user, args.name, args.value));
      return { result: meta, text: `Stored ${meta.name}.` };
    },
  }),
  tool({
    name: 'secret_delete',
    title: 'Delete a secret',
    description: 'Deletes one of your secrets (running tasks keep the value they were given).',
    scope: 'caic:tasks.admin',
    args: McpSecretDeleteArgs,
    result: McpSecretDeleteResult,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async run(ctx, args) {
      await withVault(ctx, (v, user) => v.delete(user, args.name));
      return { result: { status: 'deleted' as const, name: args.name }, text: `Deleted ${args.name}.` };
    },
  }),
];

export const TOOLS_BY_NAME: ReadonlyMap<string, ToolDef> = new Map(TOOLS.map((t) => [t.name, t]));

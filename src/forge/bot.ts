// The bot: tasks from issues labelled `caic`, `@caic` comments and opened pull requests, and one comment back when each finishes.
import { join } from 'node:path';
import type { CreateTaskReq, ForgeKind, HarnessName, Task as TaskDto, TaskListEvent } from '../api/index.js';
import { readStateFile, writeFileAtomic } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { Caller } from '../tasks/index.js';
import type { ForgeHook, HookBot, HookSender } from './hooks.js';
import type { SenderPolicy } from './senders.js';
import { fullName, type ForgeClient, type ForgeClients, type ForgeRepo, type Issue } from './types.js';

export const BOT_TASKS_FILE_NAME = 'bot-tasks.json';
/** Every comment the bot writes carries this, so its own comments never trigger it (whatever account posts them). */
export const BOT_MARKER = '<!-- caic-bot -->';
/** How much of the agent's result a comment quotes. */
export const RESULT_CHARS = 4_000;
const PROMPT_PART_CHARS = 60_000;
const COMMENT_RETRIES_MS = [2_000, 10_000, 60_000];

/** The part of TaskService the bot uses. */
export interface BotTasks {
  create(req: CreateTaskReq, caller: Caller | null): Promise<TaskDto>;
  get(id: string, caller: Caller | null): TaskDto;
  subscribeList(caller: Caller | null, fn: (event: TaskListEvent) => void): { snapshot: TaskDto[]; unsubscribe: () => void };
}

export interface BotDeps {
  tasks: BotTasks;
  clients: () => ForgeClients | null;
  senders: SenderPolicy;
  /** The caic account of a forge user, when they have one: a task they trigger is theirs. Null: the task has no owner. */
  callerOf: (kind: ForgeKind, login: string) => Caller | null;
  /** The agent for a bot task: the caller's last one when it is ready, else the first ready one; null when none is. */
  harness: (caller: Caller | null) => Promise<HarnessName | null>;
  /** The caller's free-form settings (`autoFixOnPROpen`); the local user's without login. */
  settings: (caller: Caller | null) => Record<string, unknown>;
  /** Where bot-tasks.json lives (the cache directory). */
  dir: string;
  logger: Logger;
  /** The web UI's base URL for a link to the task in comments; empty: no link. */
  webUrl?: () => string;
  /**
   * `tasks.create` reads `CreateTaskReq.issue` itself (the forge service's create): an issue
   * trigger then passes the issue and that side writes the prompt (and `Fixes #N` in the PR).
   * Otherwise the bot writes the prompt from ForgeClient.getIssue.
   */
  issueAware?: boolean;
}

/** Where a bot task came from, kept in bot-tasks.json until its comment is posted. */
export interface BotOrigin {
  task: string;
  kind: ForgeKind;
  baseUrl: string;
  owner: string;
  repo: string;
  number: number;
  /** What started it; an issue trigger is not repeated while its task is pending (GitHub sends `opened` and `labeled` together). */
  trigger: 'issue' | 'comment' | 'pullRequest';
  ownerId: string;
  ownerName: string;
  createdAt: string;
}

const forgeName = (kind: ForgeKind) => (kind === 'github' ? 'GitHub' : 'GitLab');
const originKey = (o: Pick<BotOrigin, 'kind' | 'baseUrl' | 'owner' | 'repo' | 'number'>) => `${o.kind}\n${o.baseUrl}\n${fullName(o).toLowerCase()}#${o.number}`;

/** A bot task is done when its agent's turn ended with a result, or it can no longer run. */
export function botTaskDone(t: Pick<TaskDto, 'state' | 'result'>): boolean {
  return t.state === 'failed' || t.state === 'stopped' || t.state === 'purged' || t.state === 'crashed' || (t.state === 'waiting' && t.result !== '');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n…(trimmed)`;
}

/** Text quoted in a fence no line of it can close, so the agent's words cannot ping people or inject markup. */
function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}

/** The comment posted when a bot task finishes. */
export function completionComment(t: Pick<TaskDto, 'id' | 'state' | 'result' | 'error' | 'title' | 'forge'>, webUrl: string): string {
  const lines = [BOT_MARKER, `**caic task ${t.state === 'waiting' ? 'completed' : t.state}** (state: ${t.state}): ${t.title}`];
  const result = t.result.trim();
  if (result) lines.push('', fenced(clip(result, RESULT_CHARS)));
  if (t.state !== 'waiting' && t.error.trim()) lines.push('', `Error: ${fenced(clip(t.error.trim(), 1_000))}`);
  if (t.forge) lines.push('', `Pull request: ${t.forge.url}`);
  if (webUrl) lines.push('', `Task: ${webUrl.replace(/\/+$/, '')}/task/@${t.id}`);
  return lines.join('\n');
}

function issueText(kind: ForgeKind, issue: Pick<Issue, 'title' | 'url' | 'body'> & { comments?: Issue['comments'] }): string {
  const parts = [`${forgeName(kind)} issue: ${issue.title}`, `URL: ${issue.url}`, '', clip(issue.body.trim() || '(no description)', PROMPT_PART_CHARS)];
  const comments = (issue.comments ?? []).filter((c) => !c.body.includes(BOT_MARKER));
  if (comments.length > 0) {
    parts.push('', 'Comments:');
    let room = PROMPT_PART_CHARS;
    for (const c of comments) {
      const line = `@${c.author}: ${c.body.trim()}`;
      if (line.length > room) break;
      room -= line.length;
      parts.push(line);
    }
  }
  return parts.join('\n');
}

export class Bot implements HookBot {
  private readonly origins = new Map<string, BotOrigin>();
  /** Issues with a pending task from an issue trigger (reserved before the task is even created). */
  private readonly pendingIssues = new Set<string>();
  private readonly watchers = new Map<string, () => void>();
  private readonly commenting = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private writing: Promise<void> | null = null;
  private dirty = false;
  private closed = false;
  private readonly path: string;

  constructor(private readonly deps: BotDeps) {
    this.path = join(deps.dir, BOT_TASKS_FILE_NAME);
  }

  /** Reads bot-tasks.json and watches the tasks still pending (after a restart, their comment is still owed). */
  async start(): Promise<void> {
    const text = await readStateFile(this.path);
    if (text !== null) {
      try {
        const list: unknown = JSON.parse(text);
        if (!Array.isArray(list)) throw new Error('not a JSON array');
        for (const o of list as BotOrigin[]) {
          if (typeof o?.task !== 'string' || typeof o.number !== 'number' || (o.kind !== 'github' && o.kind !== 'gitlab')) continue;
          this.origins.set(o.task, o);
          if (o.trigger === 'issue') this.pendingIssues.add(originKey(o));
        }
      } catch (err) {
        this.deps.logger.warn({ file: this.path, err: (err as Error).message }, 'bot task list unreadable; pending bot tasks will not comment');
      }
    }
    for (const o of this.origins.values()) this.watch(o);
    if (this.origins.size > 0) this.deps.logger.info({ tasks: this.origins.size }, 'watching pending bot tasks');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const stop of this.watchers.values()) stop();
    this.watchers.clear();
    await this.writing;
  }

  /** The origins of pending bot tasks (tests, diagnostics). */
  pending(): BotOrigin[] {
    return [...this.origins.values()];
  }

  // ---- triggers ------------------------------------------------------------------------------

  /** Whether a delivery may start work: not the bot's own words, and a sender the policy allows. */
  private async admits(repo: ForgeRepo, sender: HookSender, what: string, body = ''): Promise<boolean> {
    const log = { forge: repo.kind, repo: fullName(repo), sender: sender.login, trigger: what };
    if (sender.isBot || body.includes(BOT_MARKER)) {
      this.deps.logger.info(log, 'bot: ignored a bot account or its own comment');
      return false;
    }
    const verdict = await this.deps.senders.check(repo, sender.login);
    if (!verdict.allowed) {
      this.deps.logger.info({ ...log, why: verdict.why }, 'bot: sender may not trigger tasks; ignored');
      return false;
    }
    return true;
  }

  async fromIssue(repo: ForgeRepo, name: string, hook: Extract<ForgeHook, { type: 'issue' }>): Promise<void> {
    if (!(await this.admits(repo, hook.sender, 'issue', hook.body))) return;
    const key = originKey({ ...repo, number: hook.number });
    if (this.pendingIssues.has(key)) {
      this.deps.logger.info({ repo: fullName(repo), issue: hook.number }, 'bot: this issue already has a pending task');
      return;
    }
    this.pendingIssues.add(key);
    try {
      if (this.deps.issueAware) {
        await this.start_(repo, name, hook.number, 'issue', hook.sender, 'Fix this issue.', undefined, `${fullName(repo)}#${hook.number}`);
        return;
      }
      const client = await this.client(repo);
      const issue = (await client?.getIssue(repo, hook.number).catch(() => null)) ?? { ...hook, comments: [] };
      const prompt = `Fix the following ${issueText(repo.kind, issue)}`;
      await this.start_(repo, name, hook.number, 'issue', hook.sender, prompt, undefined);
    } catch (err) {
      this.pendingIssues.delete(key);
      throw err;
    }
  }

  async fromComment(repo: ForgeRepo, name: string, hook: Extract<ForgeHook, { type: 'comment' }>): Promise<void> {
    if (!(await this.admits(repo, hook.sender, 'comment', hook.comment))) return;
    const client = await this.client(repo);
    const issue = (await client?.getIssue(repo, hook.number).catch(() => null)) ?? { ...hook, comments: [] };
    // The comment itself is the request; the thread is context.
    const comments = issue.comments.filter((c) => c.body !== hook.comment);
    const request = `Request from @${hook.sender.login} (${hook.url}):\n${clip(hook.comment.trim(), PROMPT_PART_CHARS)}`;
    let branch: string | undefined;
    let context: string;
    if (hook.onPullRequest) {
      const pr = client ? await client.getPullRequest(repo, hook.number).catch(() => null) : null;
      // A branch of another repository (a fork) cannot be continued here; the task starts its own.
      if (pr && (await client!.branchHead(repo, pr.headBranch).catch(() => '')) === pr.headSha) branch = pr.headBranch;
      context = `You are working on ${forgeName(repo.kind)} pull request #${hook.number}${branch ? ` (its branch ${branch} is checked out)` : ''}.\nTitle: ${issue.title}\nURL: ${issue.url}\n\n${clip(issue.body.trim() || '(no description)', PROMPT_PART_CHARS)}`;
    } else {
      context = `This concerns the following ${issueText(repo.kind, { ...issue, comments })}`;
    }
    await this.start_(repo, name, hook.number, 'comment', hook.sender, `${request}\n\n${context}`, branch);
  }

  async pullRequestOpened(repo: ForgeRepo, name: string, hook: Extract<ForgeHook, { type: 'pullRequest' }>): Promise<void> {
    // caic's own pull requests (task branches) and other repositories' branches are not reviewed.
    if (hook.fromFork || /^caic-\d+$/.test(hook.pr.headBranch)) return;
    const caller = this.deps.callerOf(repo.kind, hook.sender.login);
    if (this.deps.settings(caller).autoFixOnPROpen !== true) return;
    if (!(await this.admits(repo, hook.sender, 'pull request', hook.pr.body))) return;
    const { pr } = hook;
    const prompt = [
      `Review ${forgeName(repo.kind)} pull request #${pr.number} and fix the problems you find, committing on its branch ${pr.headBranch} (checked out).`,
      `Title: ${pr.title}`,
      `URL: ${pr.url}`,
      '',
      clip(pr.body.trim() || '(no description)', PROMPT_PART_CHARS),
    ].join('\n');
    await this.start_(repo, name, pr.number, 'pullRequest', hook.sender, prompt, pr.headBranch);
  }

  private async client(repo: ForgeRepo): Promise<ForgeClient | null> {
    return (await this.deps.clients()?.clientFor(repo, null, 'bot')) ?? null;
  }

  private async start_(
    repo: ForgeRepo,
    name: string,
    number: number,
    trigger: BotOrigin['trigger'],
    sender: HookSender,
    prompt: string,
    branch: string | undefined,
    issue?: string,
  ): Promise<void> {
    const caller = this.deps.callerOf(repo.kind, sender.login);
    const harness = await this.deps.harness(caller);
    if (!harness) {
      this.deps.logger.warn({ repo: fullName(repo), number }, 'bot: no agent is ready; no task started');
      return;
    }
    const task = await this.deps.tasks.create({ repos: [{ name, ...(branch ? { branch } : {}) }], harness, prompt: { text: prompt }, ...(issue ? { issue } : {}) }, caller);
    const origin: BotOrigin = {
      task: task.id,
      kind: repo.kind,
      baseUrl: repo.baseUrl,
      owner: repo.owner,
      repo: repo.repo,
      number,
      trigger,
      ownerId: caller?.id ?? '',
      ownerName: caller?.username ?? '',
      createdAt: new Date().toISOString(),
    };
    this.origins.set(task.id, origin);
    this.save();
    this.deps.logger.info({ task: task.id, repo: fullName(repo), number, trigger, sender: sender.login, harness }, 'bot: task started');
    this.watch(origin);
  }

  // ---- completion ----------------------------------------------------------------------------

  private callerFor(o: BotOrigin): Caller | null {
    return o.ownerId ? { id: o.ownerId, username: o.ownerName } : null;
  }

  /** One task-list subscription per task owner; each change of a pending bot task is looked at. */
  private watch(o: BotOrigin): void {
    if (this.closed) return;
    const who = o.ownerId;
    if (!this.watchers.has(who)) {
      const caller = this.callerFor(o);
      const { unsubscribe } = this.deps.tasks.subscribeList(caller, (event) => {
        const id = event.type === 'upsert' ? event.task.id : event.type === 'snapshot' ? null : event.id;
        if (id && this.origins.has(id)) this.look(id);
      });
      this.watchers.set(who, unsubscribe);
    }
    this.look(o.task);
  }

  private look(id: string): void {
    const o = this.origins.get(id);
    if (!o || this.commenting.has(id)) return;
    let task: TaskDto;
    try {
      task = this.deps.tasks.get(id, this.callerFor(o));
    } catch {
      this.deps.logger.warn({ task: id }, 'bot: pending bot task no longer exists; no comment');
      this.forget(o);
      return;
    }
    if (!botTaskDone(task)) return;
    this.commenting.add(id);
    void this.comment(o, task, 0);
  }

  private async comment(o: BotOrigin, task: TaskDto, attempt: number): Promise<void> {
    const repo: ForgeRepo = { kind: o.kind, baseUrl: o.baseUrl, owner: o.owner, repo: o.repo };
    try {
      const client = await this.client(repo);
      if (!client) throw new Error(`no ${forgeName(o.kind)} credential to comment with`);
      await client.comment(repo, o.number, completionComment(task, this.deps.webUrl?.() ?? ''));
      this.deps.logger.info({ task: o.task, repo: fullName(repo), number: o.number, state: task.state }, 'bot: commented on completion');
      this.forget(o);
    } catch (err) {
      const wait = COMMENT_RETRIES_MS[attempt];
      if (wait === undefined || this.closed) {
        this.deps.logger.error({ task: o.task, repo: fullName(repo), number: o.number, err: (err as Error).message }, 'bot: could not comment on completion');
        this.commenting.delete(o.task);
        if (!this.closed) this.forget(o);
        return;
      }
      this.deps.logger.warn({ task: o.task, err: (err as Error).message, retryMs: wait }, 'bot: comment failed; retrying');
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.comment(o, task, attempt + 1);
      }, wait);
      timer.unref();
      this.timers.add(timer);
    }
  }

  private forget(o: BotOrigin): void {
    this.origins.delete(o.task);
    this.commenting.delete(o.task);
    if (o.trigger === 'issue') this.pendingIssues.delete(originKey(o));
    this.save();
  }

  private save(): void {
    this.dirty = true;
    this.writing ??= this.flush();
  }

  private async flush(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        await writeFileAtomic(this.path, JSON.stringify([...this.origins.values()]));
      } catch (err) {
        this.deps.logger.error({ file: this.path, err: (err as Error).message }, 'could not save the bot task list');
      }
    }
    this.writing = null;
  }
}

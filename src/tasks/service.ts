// TaskService: creates tasks and drives them through their states (branch, container, relay,
// agent), accepts input, stops/revives/purges, syncs, and adopts everything after a restart.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ulid } from 'ulid';
import type {
  AddReviewCommentReq,
  AnswerApprovalReq,
  AnswerApprovalResp,
  PendingApproval,
  CreateTaskReq,
  ReviewComment,
  DiffStatEntry,
  EventMessage,
  HarnessInfo,
  HarnessName,
  Prompt,
  SyncResp,
  Task as TaskDto,
  TaskForge,
  TaskListEvent,
  TaskState,
  UsageResp,
} from '../api/index.js';
import { canDo, LIVE_STATES, MIN_SECRET_BYTES, type TaskAction } from '../api/index.js';
import {
  aliveCommand,
  assetPaths,
  assets,
  attachCommand,
  bootCommand,
  deployCommand,
  readOutputCommand,
  relayDeadCommand,
  relayHeader,
  relayLogCommand,
  relaySocket,
  serveAttachCommand,
  sessionDir,
  type Harness,
  type StartOptions,
} from '../agents/index.js';
import { DEFAULT_USER, type PreferenceStore, type ResourceLimits } from '../config/index.js';
import { containerRefPrefix, deleteRefs, repoDirName, type ContainerHandle, type ContainerRuntime, type SpawnedProcess } from '../containers/index.js';
import type { Logger } from '../log/index.js';
import { waitAtMost, withBackoff } from './backoff.js';
import { Approvals, BYPASS, type ApprovalConfig } from './approvals.js';
import { launchTaskContainer } from './launch.js';
import type { TaskView } from './hygiene.js';
import { ResourceMonitor } from './limits.js';
import { checkEgressWithSudo, EgressWatch, forgeHosts, modelHosts, resolveEgress, type EgressSettings } from './egress.js';
import { commitAuthor, commitMessage, type GitIdentity } from './commit.js';
import { TaskError } from './errors.js';
import { listLogs, logPath, readHeadAndTail, TaskLog } from './log.js';
import { git, type RepoRegistry } from './repos.js';
import type { IssueRef } from './records.js';
import { isCredentialName, Redactor } from './redact.js';
import { baseCommitOf, pushFetched, syncedDiff } from './sync.js';
import { parseHeader } from './header.js';
import { addComment, deleteComment, editComment, pendingComments, sendReview, type ReviewTarget } from './review.js';
import { forkPrompt, headAfter, headBefore, headCommand, messageAt, resetCommand, restartPrompt, turnsOf } from './rewind.js';
import { isCommitId } from './records.js';
import { AgentSession } from './session.js';
import { makeWorkspace, workspaceOpen, type TaskWorkspace } from './workspace.js';
import { errorText, restingState, TRANSIENT } from './settle.js';
import { Task, type TaskHeader } from './task.js';
import { cleanTitle, titleFromPrompt, type TitleModel } from './titles.js';
import { emptySummary, replayLog, Transcript, type TaskMetaRecord } from './transcript.js';
import { aggregateUsage, UsageReplayCache, type UsageDay } from './usage.js';

/** How long shutdown waits for containers being made (a create stuck in the engine holds it no longer). */
const LAUNCH_WAIT_MS = 15_000;
const ACTIVE = new Set<TaskState>(LIVE_STATES);
/** A turn (or a start) is under way: the forge side waits for it to end before it pushes. */
const BUSY = new Set<TaskState>(['pending', 'branching', 'provisioning', 'starting', 'running']);
const FINAL = new Set<TaskState>(['purged', 'failed']);
const HOME = '/home/user';
/** A cut relay stream is reattached for this long (with backoff) before the task waits for input. */
/** The longest a task waits before attaching again to an agent whose output its log could not take. */
const LOG_STALL_MAX_MS = 30_000;
const RELINK_DEADLINE_MS = 60_000;
/** The longest a HEAD record (one `git rev-parse` over SSH) may take, and input may wait for it. */
const HEAD_WAIT_MS = 10_000;
/** Each reattach attempt waits this long for sshd. */
const RELINK_CONNECT_MS = 5_000;
/** A relay the container started is connected to directly for this long; then through an attach client. */
const RELAY_SOCKET_MS = 30_000;

export interface Caller {
  id: string;
  username: string;
}

export interface TaskServiceDeps {
  cacheDir: string;
  repos: RepoRegistry;
  /** The container runtime; throws a clear error while Docker is unavailable. */
  runtime: () => ContainerRuntime;
  harnesses: ReadonlyMap<HarnessName, Harness>;
  preferences: PreferenceStore;
  logger: Logger;
  /** Login is on: tasks belong to their creator. */
  authEnabled: boolean;
  image?: string;
  /** `[harness.<name>.env]`: written into the container's ~/.env. */
  harnessEnv: (harness: HarnessName) => Record<string, string>;
  /** Token to inject when a task asks for one (the caller's OAuth token, else the PAT). */
  gitHubToken: (caller: Caller | null) => string | undefined;
  /** Whether an agent can run here (installed in the image, credentials); cached, no Docker call per task. */
  readiness?: (harness: HarnessName) => Promise<HarnessInfo | null>;
  /** Names new tasks from their prompt (a small model); absent: the prompt's first line stays. */
  titleModel?: TitleModel | null;
  /**
   * The owner's secrets by name (the vault), for a task that selects them; an unknown name throws
   * an error with code BAD_REQUEST. Absent: this daemon has no vault.
   */
  secretValues?: (ownerId: string, names: readonly string[]) => Promise<Record<string, string>>;
  /** The signed-in caller's git identity for sync commits; null: the host's git identity. */
  gitIdentity?: (caller: Caller | null) => Partial<GitIdentity> | null;
  /** `[limits]`: the memory cap at launch and the running tasks' sampling (limits.ts). Absent: none. */
  limits?: ResourceLimits;
  /** Checked before a task is created (hygiene.ts: Docker's free disk); throws a TaskError to refuse. */
  admission?: () => Promise<void>;
  /** `[egress]`: the default network egress of tasks (egress.ts). Absent: open, unless a task asks. */
  egress?: EgressSettings;
  /** Configured forges (web URL, API URL): what `@forge` adds for a repository on one of them. */
  forgeUrls?: readonly { url: string; apiUrl?: string }[];
  /** `[core] network`: the Docker network task containers join (default: the bridge). */
  network?: string;
  /** `[approval]`: the permission mode of a task that does not choose one, and the answer timeout. Absent: bypass, 10 minutes. */
  approval?: ApprovalConfig;
  /** The audit log (tool-approval decisions). */
  audit?: (record: Record<string, unknown>) => void;
  /** A tool call waits for a person (Web Push), with the task's owner id ('' without login). */
  onApproval?: (task: TaskDto, ownerId: string, pending: PendingApproval) => void;
}

/** The daemon itself (limits, hygiene): sees every task. Never comes from a request. */
const SYSTEM: Caller = Object.freeze({ id: '\0caic', username: 'caic' });

type ListListener = (event: TaskListEvent) => void;

/** What the forge side (src/forge) reads of a task; it acts for the task's owner. */
export interface TaskForgeView {
  id: string;
  /** The owner as a caller (null: a task made without login). */
  owner: Caller | null;
  repo: string;
  branch: string;
  baseBranch: string;
  title: string;
  result: string;
  state: TaskState;
  /** The commit the last sync pushed ('' when unknown: not pushed, or the log not replayed yet). */
  pushed: string;
  diffStat: DiffStatEntry[];
  forge: TaskForge | null;
  issue: IssueRef | null;
}

/** What the forge side records in a task's log: its pull request and CI, and a card for the transcript. */
export interface ForgeNote {
  forge?: TaskForge;
  issue?: IssueRef;
  card?: 'pr' | 'ci' | 'merge';
  message?: string;
}

export class TaskService {
  private readonly tasks = new Map<string, Task>();
  private readonly listListeners = new Set<{ caller: Caller | null; fn: ListListener }>();
  private readonly allListeners = new Set<(task: TaskDto, ownerId: string) => void>();
  private readonly lastSent = new Map<string, string>();
  /** Aborted on close: ends the die-event watcher (also one that starts after close). */
  private readonly stopping = new AbortController();
  private closed = false;
  /** Preference writes still in flight (creating a task does not wait for them; close does). */
  private readonly pendingWrites = new Set<Promise<unknown>>();
  /** Repository images being made for later tasks (shutdown waits for them, so none is left half made). */
  private readonly warming = new Set<Promise<unknown>>();
  /**
   * Task containers being made. Shutdown waits for them (up to LAUNCH_WAIT_MS), so a container the
   * engine was creating exists, with its task's log record, before the daemon is gone: the next
   * start adopts it (or settles the task and removes it), never an unlabelled leftover in between.
   */
  private readonly launching = new Set<Promise<unknown>>();

  /** Samples live tasks' CPU, memory and disk; stops one over its disk budget (limits.ts). */
  private readonly monitor: ResourceMonitor | null;
  /** Reads the blocked connections of live tasks with an egress policy (egress.ts). */
  private readonly egressWatch: EgressWatch;
  /** Tool approval: the agents' requests, rules, answers and deadlines (approvals.ts). */
  private readonly approvals: Approvals;

  constructor(private readonly deps: TaskServiceDeps) {
    this.approvals = new Approvals({
      logger: deps.logger,
      timeoutMs: deps.approval?.timeoutMs ?? 600_000,
      ...(deps.audit ? { audit: deps.audit } : {}),
      onAsk: (task, pending) => deps.onApproval?.(task.dto(), task.meta.owner, pending),
    });
    this.monitor = deps.limits
      ? new ResourceMonitor({
          runtime: deps.runtime,
          limits: deps.limits,
          logger: deps.logger,
          live: () => [...this.tasks.values()].filter((t) => LIVE_STATES.includes(t.state)),
          stop: (id, reason) => this.systemStop(id, reason, (t) => LIVE_STATES.includes(t.state)),
        })
      : null;
    this.monitor?.start();
    this.egressWatch = new EgressWatch({
      runtime: deps.runtime,
      logger: deps.logger,
      pollMs: deps.egress?.pollMs ?? 0,
      live: () => [...this.tasks.values()].filter((t) => LIVE_STATES.includes(t.state)),
    });
    this.egressWatch.start();
  }

  // ---- startup and shutdown ----------------------------------------------------------------

  /** Lists every task from its log's head and tail (fast: no replay). */
  async load(): Promise<void> {
    const paths = await listLogs(this.deps.cacheDir);
    // A few at a time: enough to keep the disk busy, few buffers alive at once.
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(16, paths.length) }, async () => {
        for (let path = paths[next++]; path !== undefined; path = paths[next++]) await this.loadOne(path);
      }),
    );
    this.deps.logger.info({ tasks: this.tasks.size }, 'task logs loaded');
  }

  private async loadOne(path: string): Promise<void> {
    try {
      const header = parseHeader(await readHeadAndTail(path), basename(path, '.jsonl'));
      const harness = this.deps.harnesses.get(header.meta.harness);
      if (!harness) return;
      const task = new Task(header.meta.id, header, harness, (t, events) => this.changed(t, events));
      // Idle time goes on across restarts: the log's last write is the last thing that happened.
      task.activeAt = Math.min(Date.now(), (await stat(path)).mtimeMs);
      this.tasks.set(header.meta.id, task);
    } catch (err) {
      this.deps.logger.warn({ path, err: (err as Error).message }, 'skipping unreadable task log');
    }
  }

  /**
   * After a restart: matches containers to logs. Relay alive → reattach at the byte offset already
   * logged; relay dead → read what it left, task waits for input; container exited → stopped;
   * tasks whose container vanished fail. Then watches die events.
   */
  async adopt(): Promise<void> {
    if (this.closed) return;
    let runtime: ContainerRuntime;
    try {
      runtime = this.deps.runtime();
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'not adopting containers: no container runtime');
      return;
    }
    // The tasks the logs held: one created while the list below is under way is not an orphan.
    const loaded = [...this.tasks.values()];
    // Each task's queue is taken now, before the containers are even listed: an operation that
    // comes meanwhile (input right after a restart) waits for the adoption instead of finding no
    // container.
    const listing = runtime.list().then((containers) => new Map(containers.map((c) => [c.taskId, c])));
    listing.catch(() => undefined); // reported by each task's adoption below
    await Promise.all(
      loaded.map(async (task) => {
        if (task.header.hasTrailer || FINAL.has(task.state)) return;
        await task.serial(async () => {
          const handle = (await listing).get(task.id);
          try {
            await this.open(task);
            if (!handle) {
              if (task.state !== 'purged') task.setState('failed', 'the container of this task is gone');
              this.closeTask(task);
              return;
            }
            task.handle = handle;
            // What the agent prints from now on (and what it printed while the daemon was away) is
            // masked as it was before the restart.
            this.redactorFor(task, await this.adoptedEnv(task));
            if (handle.state !== 'running') {
              task.setState('stopped');
              return;
            }
            await this.reattach(task, runtime, handle);
            // The daemon went down in the middle of an operation: the task rests where it really is.
            if (TRANSIENT.has(task.state)) await this.settle(task, `the daemon restarted while the task was ${task.state}`);
          } catch (err) {
            this.deps.logger.warn({ task: task.id, err: errorText(err) }, 'adoption failed');
            if (!task.transcript) return;
            if (ACTIVE.has(task.state)) {
              // The agent may well run on: input tries to reach it again.
              task.record({ type: 'caic_error', message: `could not reattach after restart: ${errorText(err)}` });
              task.setState('waiting');
            } else if (TRANSIENT.has(task.state)) await this.settle(task, `could not reattach after restart: ${errorText(err)}`);
          }
        });
      }),
    );
    this.watchDeaths(runtime);
  }

  /**
   * Connects a task to its agent's relay again. Relay alive → attach at the byte offset already
   * logged (what the agent wrote meanwhile arrives first, nothing twice). Relay gone → read what it
   * left; an end it did not explain (no exit record) gets the attach client's stderr and the tail
   * of relay.log as its error; the task comes to rest.
   */
  private async reattach(task: Task, runtime: ContainerRuntime, handle: ContainerHandle, lost?: AgentSession): Promise<void> {
    const t = task.transcript!;
    const conn = await runtime.connect(handle);
    const a = assets();
    await conn.run(deployCommand(a.relay), { stdin: a.relay.content });
    const dir = sessionDir(t.session);
    // Attach only to an agent that runs: one that ended cannot take input, and what its relay
    // still holds (up to the exit record) is read below like a dead relay's.
    const alive = t.session > 0 && !t.agentExited && (await conn.exec(aliveCommand(a.relay.path, dir))).code === 0;
    if (alive) {
      // Everything the relay wrote after our offset arrives first: zero loss, no duplicates.
      this.attachSession(task, await runtime.spawn(handle, attachCommand(a.relay.path, dir, t.relayBytes)));
      task.record(
        {
          type: 'caic_log',
          message: `${lost ? 'the connection to the agent was lost; ' : ''}reattached to the running agent at byte ${t.relayBytes}`,
          phase: 'reattach',
        },
        { bookkeeping: true },
      );
      return;
    }
    if (t.session > 0) {
      // As bytes: the offset counts bytes, and a line need not be valid UTF-8.
      const chunks: Buffer[] = [];
      await conn.run(readOutputCommand(dir, t.relayBytes), { onStdout: (c) => chunks.push(c), maxBuffer: 64 * 1024 });
      const rest = Buffer.concat(chunks);
      let from = 0;
      for (let nl = rest.indexOf(10); nl >= 0; nl = rest.indexOf(10, from)) {
        task.relayLine(rest.subarray(from, nl));
        from = nl + 1;
      }
      if (!t.agentExited && (lost || t.relayBytes > 0)) {
        // The relay ended without an exit record (it crashed, or never came up): what it left says why.
        const log = (await conn.exec(relayLogCommand(dir), { maxBuffer: 8 * 1024 }).catch(() => null))?.stdout.trim() ?? '';
        const why = [lost?.stderrTail ?? '', log ? `relay.log:\n${log}` : ''].filter(Boolean).join('\n');
        task.record({ type: 'caic_error', message: `the agent relay stopped${why ? `:\n${why}` : ' without a trace'}` });
      }
    }
    if (task.state === 'failed') return this.discard(task);
    // Asking, has_plan and waiting are resting states already (input resumes the agent).
    if (task.state === 'running' || TRANSIENT.has(task.state)) await this.rest(task);
    if (ACTIVE.has(task.state)) task.record({ type: 'caic_log', message: 'the agent is not running; send input to resume it', phase: 'reattach' }, { bookkeeping: true });
  }

  /** Brings a task to its resting state (settle.ts); a failed task keeps nothing running. */
  private async rest(task: Task, error?: string): Promise<void> {
    const state = restingState(task);
    task.setState(state, state === 'failed' ? error ?? (task.transcript?.summary.error || 'the task could not start its agent') : undefined);
    if (state === 'failed') await this.discard(task);
  }

  /** A failure midway: the reason goes into the transcript, and the task comes to rest. */
  private async settle(task: Task, message: string): Promise<void> {
    // Failed already: the transcript explained it (an agent that could not start).
    if (task.state !== 'failed') {
      task.record({ type: 'caic_error', message });
      await this.rest(task, message);
    } else await this.discard(task);
  }

  /**
   * A failed task keeps nothing running: its agent session is dropped, its container removed (when
   * that fails the handle stays, so purge tries again), its log's descriptor given back.
   */
  private async discard(task: Task): Promise<void> {
    const session = task.session;
    task.session = null;
    session?.detach();
    if (task.handle) {
      try {
        await this.deps.runtime().purge(task.handle);
        task.handle = null;
      } catch (err) {
        task.record({ type: 'caic_log', phase: 'cleanup', message: `removing the container failed (purge tries again): ${errorText(err)}` });
      }
    }
    this.closeTask(task);
  }

  private watchDeaths(runtime: ContainerRuntime): void {
    const signal = this.stopping.signal;
    if (signal.aborted) return;
    void (async () => {
      for await (const ev of runtime.dieEvents(signal)) {
        const task = this.tasks.get(ev.taskId);
        if (!task || !task.transcript) continue;
        void task
          .serial(() => {
            if (['stopped', 'stopping', 'purging', 'purged', 'failed'].includes(task.state)) return Promise.resolve();
            // A container of this task that is not its container: one a start discarded (the base
            // moved while it came up, see launch.ts). Its death says nothing of the task.
            if (task.handle && ev.id && task.handle.id !== ev.id) return Promise.resolve();
            // The death of an earlier run of this container, delivered after it was started again:
            // Podman (rootless above all) can report a stop's death after the stop call returned,
            // and a revive right after would otherwise be taken for stopped.
            if (task.handle?.startedAt !== undefined && ev.time.getTime() < task.handle.startedAt) {
              this.deps.logger.debug({ task: task.id, died: ev.time.toISOString(), started: new Date(task.handle.startedAt).toISOString() }, 'a container death from before its last start: ignored');
              return Promise.resolve();
            }
            const session = task.session;
            task.session = null;
            if (session) session.ending = true;
            if (task.handle) task.handle = { ...task.handle, state: 'exited', sshPort: 0 };
            task.record({ type: 'caic_log', message: `container exited (code ${ev.exitCode ?? '?'})`, phase: 'die' });
            task.setState('stopped');
            return Promise.resolve();
          })
          .catch((err: unknown) => this.deps.logger.warn({ task: task.id, err: errorText(err) }, 'handling a container exit failed'));
      }
    })().catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'die-event watcher ended'));
  }

  /** `work`, kept in `set` while it runs (what close() waits for). */
  private tracked<T>(set: Set<Promise<unknown>>, work: Promise<T>): Promise<T> {
    set.add(work);
    const done = () => void set.delete(work);
    work.then(done, done);
    return work;
  }

  /** Daemon shutdown: agents keep running (detached), logs are closed, preference writes land. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    this.approvals.close();
    await this.monitor?.close();
    await this.egressWatch.close();
    // A refresh due after close would reach for containers nobody watches any more.
    for (const timer of this.diffTimers.values()) clearTimeout(timer);
    this.diffTimers.clear();
    // Containers being made are made (and recorded) before the logs close.
    if (this.launching.size) await waitAtMost(Promise.allSettled([...this.launching]), LAUNCH_WAIT_MS);
    // HEAD records under way land before the logs close (a container that does not answer holds
    // shutdown up for 2 s at most).
    const heads = [...this.headsPending.values()].flatMap((set) => [...set]);
    if (heads.length) await waitAtMost(Promise.all(heads), 2_000);
    for (const task of this.tasks.values()) {
      task.session?.detach();
      task.log?.seal();
    }
    await Promise.all([...this.pendingWrites, ...this.warming]);
  }

  // ---- queries -----------------------------------------------------------------------------

  private visible(task: Task, caller: Caller | null): boolean {
    if (caller === SYSTEM) return true;
    return !this.deps.authEnabled || !task.meta.owner || task.meta.owner === caller?.id;
  }

  /** Someone else's task answers exactly like a task that does not exist: ids do not leak. */
  private find(id: string, caller: Caller | null): Task {
    const task = this.tasks.get(id);
    if (!task || !this.visible(task, caller)) throw new TaskError('NOT_FOUND', `no task ${id}`);
    return task;
  }

  list(caller: Caller | null): TaskDto[] {
    return [...this.tasks.values()]
      .filter((t) => this.visible(t, caller))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((t) => t.dto());
  }

  get(id: string, caller: Caller | null): TaskDto {
    return this.find(id, caller).dto();
  }

  /**
   * Replays a task's log if nothing has yet (historical tasks load lazily, on first use) and opens
   * it for writing. Safe to call again: every operation calls it, also on a task a reader loaded
   * (loadOnly) or whose log adoption closed.
   */
  private async open(task: Task): Promise<void> {
    await this.loadOnly(task);
    task.log ??= await TaskLog.open(logPath(this.deps.cacheDir, task.id));
  }

  /** Gives a finished task's log descriptor back (a later record opens it again). */
  private closeTask(task: Task): void {
    task.log?.close();
  }

  async subscribe(
    id: string,
    caller: Caller | null,
    afterId: number,
    listener: (events: EventMessage[]) => void,
  ): Promise<{ history: EventMessage[]; unsubscribe: () => void }> {
    const task = this.find(id, caller);
    if (!task.transcript) await task.serial(() => this.loadOnly(task));
    return task.subscribe(afterId, listener);
  }

  /** Replays a finished task's log for reading only (its log stays closed). */
  private async loadOnly(task: Task): Promise<void> {
    if (task.transcript) return;
    task.transcript = await replayLog(logPath(this.deps.cacheDir, task.id), this.deps.harnesses);
  }

  /**
   * Every task's summary after each change, with its owner's id ('' for a task made without
   * login), whoever owns it: for the daemon's own observers (Web Push), never for a client.
   */
  watchAll(fn: (task: TaskDto, ownerId: string) => void): () => void {
    this.allListeners.add(fn);
    return () => this.allListeners.delete(fn);
  }

  subscribeList(caller: Caller | null, fn: ListListener): { snapshot: TaskDto[]; unsubscribe: () => void } {
    const entry = { caller, fn };
    this.listListeners.add(entry);
    return { snapshot: this.list(caller), unsubscribe: () => this.listListeners.delete(entry) };
  }

  /** Sends list subscribers what changed in a task's summary (new: upsert; changed: patch). */
  private changed(task: Task, events: EventMessage[] = []): void {
    this.approvals.update(task);
    const waiters = this.turnWaiters.get(task.id);
    if (waiters) for (const w of [...waiters]) w();
    if (events.some((e) => e.kind === 'result' || (e.kind === 'toolResult' && !e.isError))) this.scheduleDiffStat(task);
    for (const e of events) if (e.kind === 'userInput' || e.kind === 'result') this.recordHead(task, e.id);
    const dto = task.dto();
    const { lastEventId: _ignored, ...compare } = dto;
    const key = JSON.stringify(compare);
    const before = this.lastSent.get(task.id);
    if (before === key) return;
    this.lastSent.set(task.id, key);
    let event: TaskListEvent;
    if (before === undefined) event = { type: 'upsert', task: dto };
    else {
      const old = JSON.parse(before) as Record<string, unknown>;
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(compare)) if (JSON.stringify(old[k]) !== JSON.stringify(v)) fields[k] = v;
      event = { type: 'patch', id: task.id, fields };
    }
    for (const l of this.listListeners) if (this.visible(task, l.caller)) l.fn(event);
    for (const fn of this.allListeners) {
      try {
        fn(dto, task.meta.owner);
      } catch {
        /* an observer's failure is its own; the task goes on */
      }
    }
  }

  /** The task's tool calls that wait for a person. */
  async approvalsOf(id: string, caller: Caller | null): Promise<PendingApproval[]> {
    const task = this.find(id, caller);
    if (!task.transcript) await task.serial(() => this.loadOnly(task));
    return this.approvals.list(task);
  }

  /** Every tool call that waits for the caller, across their tasks (only live tasks can have one). */
  pendingApprovals(caller: Caller | null): PendingApproval[] {
    return [...this.tasks.values()].filter((t) => this.visible(t, caller) && t.transcript).flatMap((t) => this.approvals.list(t));
  }

  /** A person's answer to a tool call that waits (approvals.ts): 404 unknown, 409 settled already. */
  async answerApproval(id: string, requestId: string, req: AnswerApprovalReq, caller: Caller | null): Promise<AnswerApprovalResp> {
    const task = this.find(id, caller);
    if (!task.transcript) await task.serial(() => this.loadOnly(task));
    return this.approvals.answer(task, requestId, req, caller?.username ?? '');
  }

  async toolInput(id: string, toolUseId: string, caller: Caller | null): Promise<{ toolUseId: string; input: unknown }> {
    const task = this.find(id, caller);
    // A task from before a restart is replayed on first use, as for its event stream.
    if (!task.transcript) await task.serial(() => this.loadOnly(task));
    const t = task.transcript;
    if (t?.toolInputs.has(toolUseId)) return { toolUseId, input: t.toolInputs.get(toolUseId) };
    const ev = t?.events.find((e) => e.kind === 'toolUse' && e.toolUseId === toolUseId);
    if (ev && ev.kind === 'toolUse') return { toolUseId, input: ev.input };
    throw new TaskError('NOT_FOUND', `no tool use ${toolUseId} in task ${id}`);
  }

  /**
   * A live task's container for its owner (terminals, previews), reached over the task's SSH
   * connection; someone else's task is NOT_FOUND (find), a task that is not live is CONFLICT.
   */
  workspace(id: string, caller: Caller | null): TaskWorkspace {
    const task = this.find(id, caller);
    if (!task.handle || !workspaceOpen(task.state)) throw new TaskError('CONFLICT', `task ${id} is ${task.state}: its container is not running`);
    return makeWorkspace(task.id, this.deps.runtime(), () => task.handle, (fn) =>
      this.watchAll((dto) => {
        if (dto.id === task.id) fn(dto.state);
      }),
    );
  }

  /** The container's sudo password, for the task's owner (find() enforces ownership). */
  async sudoPassword(id: string, caller: Caller | null): Promise<{ password: string }> {
    const task = this.find(id, caller);
    if (!task.meta.sudo) throw new TaskError('NOT_FOUND', `task ${id} was created without sudo`);
    const password = task.handle ? await this.deps.runtime().sudoPassword(task.handle) : null;
    if (!password) throw new TaskError('NOT_FOUND', `task ${id} has no container with a sudo password`);
    return { password };
  }

  // ---- the forge side's surface (src/forge calls these; tasks never import forge) -----------

  private viewOf(task: Task): TaskForgeView {
    const meta = task.meta;
    const s = task.transcript?.summary ?? task.header.summary;
    const repo = meta.repos[0];
    return {
      id: task.id,
      owner: meta.owner ? { id: meta.owner, username: meta.ownerName } : null,
      repo: repo?.name ?? '',
      branch: repo?.branch ?? '',
      baseBranch: repo?.baseBranch ?? '',
      title: s.title || meta.title,
      result: s.result,
      state: task.state,
      pushed: task.transcript?.pushed ?? '',
      diffStat: s.diffStat,
      forge: s.forge,
      issue: s.issue,
    };
  }

  /** One task as the forge side sees it; null when there is no such task. */
  forgeView(id: string): TaskForgeView | null {
    const task = this.tasks.get(id);
    return task ? this.viewOf(task) : null;
  }

  /** Every task as the forge side sees it (from the logs' tails: no replay). */
  forgeViews(): TaskForgeView[] {
    return [...this.tasks.values()].map((t) => this.viewOf(t));
  }

  /** Records the task's pull request, CI or issue (caic_forge), also on a finished task. */
  async recordForge(id: string, note: ForgeNote): Promise<void> {
    await this.hostRecord(id, { type: 'caic_forge', ...note });
  }

  /** A line of the forge side's progress in the task's transcript (a `log` event). */
  async forgeLog(id: string, message: string): Promise<void> {
    await this.hostRecord(id, { type: 'caic_log', phase: 'forge', message });
  }

  private async hostRecord(id: string, rec: { type: string } & Record<string, unknown>): Promise<void> {
    const task = this.tasks.get(id);
    if (!task) return;
    if (task.log && task.transcript) return task.record(rec);
    await task.serial(async () => {
      const closed = !task.log;
      await this.open(task);
      task.record(rec);
      if (closed) this.closeTask(task);
    });
  }

  /**
   * Sends `text` to the task's agent as its owner's input when the task can take input (a live
   * session, or one input resumes); false when it cannot (stopped, purged, no container).
   */
  async tellAgent(id: string, text: string): Promise<boolean> {
    const task = this.tasks.get(id);
    if (!task || !canDo('input', task.state) || !task.handle || task.handle.state !== 'running') return false;
    const view = this.viewOf(task);
    try {
      await this.input(id, { text }, view.owner);
      return true;
    } catch (err) {
      this.deps.logger.info({ task: id, err: errorText(err) }, 'could not pass forge news to the agent');
      return false;
    }
  }

  private readonly turnWaiters = new Map<string, Set<() => void>>();

  /**
   * Resolves with the task's state once it is not running a turn (waiting, asking, stopped, ...);
   * at once when it is not. Rejects when `signal` aborts.
   */
  waitTurnEnd(id: string, signal?: AbortSignal): Promise<TaskState> {
    const task = this.tasks.get(id);
    if (!task) return Promise.reject(new TaskError('NOT_FOUND', `no task ${id}`));
    const busy = () => BUSY.has(task.state);
    if (!busy()) return Promise.resolve(task.state);
    return new Promise((resolve, reject) => {
      const set = this.turnWaiters.get(id) ?? this.turnWaiters.set(id, new Set()).get(id)!;
      const done = () => {
        if (busy()) return;
        cleanup();
        resolve(task.state);
      };
      const abort = () => (cleanup(), reject(signal!.reason as Error));
      const cleanup = () => {
        set.delete(done);
        if (!set.size) this.turnWaiters.delete(id);
        signal?.removeEventListener('abort', abort);
      };
      set.add(done);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  // ---- create and provision ----------------------------------------------------------------

  /** `extra.issue`: the forge issue the prompt came from (the forge side resolved it). */
  async create(req: CreateTaskReq, caller: Caller | null, extra?: { issue?: IssueRef; fork?: { branch: string; head: string; note: string } }): Promise<TaskDto> {
    const harness = this.deps.harnesses.get(req.harness);
    if (!harness) throw new TaskError('BAD_REQUEST', `unknown harness "${req.harness}"`);
    const model = req.model ?? harness.defaultModel;
    if (!harness.models.includes(model)) throw new TaskError('BAD_REQUEST', `unknown model "${model}" for ${harness.name} (one of ${harness.models.join(', ')})`);
    if (req.prompt.images?.length && !harness.supportsImages) throw new TaskError('BAD_REQUEST', `${harness.name} does not take images`);
    if (!req.prompt.text.trim() && !req.prompt.images?.length) throw new TaskError('BAD_REQUEST', 'the prompt is empty');
    if (req.issue && !extra?.issue) throw new TaskError('BAD_REQUEST', 'issue: this daemon has no forge clients to read it');
    const permissions = req.permissions ? { mode: req.permissions.mode, rules: req.permissions.rules ?? [] } : this.deps.approval ? { mode: this.deps.approval.mode, rules: this.deps.approval.rules } : BYPASS;
    if (permissions.mode !== 'bypass' && !harness.supportsApproval) {
      throw new TaskError('BAD_REQUEST', `${harness.name} cannot ask before it runs a tool, so permission mode "${permissions.mode}" cannot hold; choose "bypass" for it${req.permissions ? '' : ' (the default comes from [approval] mode)'}`);
    }
    // The values are read now (an unknown name is refused before anything starts) and kept in
    // memory only: the log records the names.
    const secretEnv = req.secrets?.length ? await this.secretsFor(caller?.id ?? DEFAULT_USER, req.secrets) : {};
    // Fails now, not in the background, when the engine is unavailable.
    const { sudoRefusal } = this.deps.runtime();
    await this.deps.admission?.();
    // An agent that cannot start is refused before anything starts, with what to do about it.
    const ready = await this.deps.readiness?.(harness.name);
    if (ready && !ready.ready) {
      throw new TaskError('CONFLICT', `${harness.name} cannot run: ${ready.reason}. Fix: ${ready.fix}`, {
        harness: harness.name,
        installed: ready.installed,
        credentials: ready.credentials,
        reason: ready.reason,
        fix: ready.fix,
      });
    }
    const repoReq = req.repos[0];
    const repo = repoReq ? this.deps.repos.get(repoReq.name) : null;
    const baseBranch = repoReq?.baseBranch ?? repo?.baseBranch ?? '';
    const egress = resolveEgress(req.egress, this.deps.egress ?? { mode: 'open', allow: [], repos: [], pollMs: 0 }, {
      ...(repo ? { repo: repo.name } : {}),
      forge: repo ? forgeHosts(repo.remoteURL, this.deps.forgeUrls) : [],
      model: modelHosts(harness.name, this.deps.harnessEnv(harness.name)),
    });
    checkEgressWithSudo(egress, req.sudo === true);
    // What the engine cannot give (sudo on rootless Podman) is refused before anything is made.
    if (req.sudo === true && sudoRefusal) throw new TaskError('BAD_REQUEST', sudoRefusal);
    // Continuing an existing branch: its latest commit, fetched now, so a branch that is not there
    // is refused before anything is created.
    // A fork starts a branch of its own at the commit it forked from (made on the host already).
    const cont: { branch: string; head: string; fork?: boolean } | null = extra?.fork
      ? { branch: extra.fork.branch, head: extra.fork.head, fork: true }
      : repo && repoReq?.branch
        ? { branch: repoReq.branch, head: await this.deps.repos.fetchBranch(repo.name, repoReq.branch) }
        : null;
    if (cont && cont.branch === baseBranch) throw new TaskError('BAD_REQUEST', `branch "${cont.branch}" is the base branch; a task continues another branch`);
    const id = ulid().toLowerCase();
    const meta: TaskMetaRecord = {
      type: 'caic_meta',
      version: 1,
      id,
      title: titleFromPrompt(req.prompt.text),
      prompt: req.prompt.text,
      repos: repo ? [{ name: repo.name, baseBranch, branch: '' }] : [],
      harness: harness.name,
      model,
      sudo: req.sudo === true,
      owner: caller?.id ?? '',
      ownerName: caller?.username ?? '',
      createdAt: new Date().toISOString(),
      ...(req.secrets?.length ? { secrets: [...req.secrets] } : {}),
      egress,
      permissions,
    };
    const header: TaskHeader = { meta, state: 'pending', stateAt: meta.createdAt, summary: emptySummary(meta.title, model), hasTrailer: false, lastEventId: 0, usage: [] };
    const task = new Task(id, header, harness, (t, events) => this.changed(t, events));
    task.transcript = new Transcript(this.deps.harnesses);
    task.log = await TaskLog.open(logPath(this.deps.cacheDir, id));
    this.tasks.set(id, task);
    task.record(meta as unknown as { type: string });
    if (extra?.issue) task.record({ type: 'caic_forge', issue: extra.issue });
    if (extra?.fork) task.record({ type: 'caic_log', phase: 'fork', message: extra.fork.note });
    this.nameTask(task, req.prompt.text);
    if (repo) this.rememberUse(caller, { name: repo.name, baseBranch }, harness.name, model);
    void task
      .serial(() => this.provision(task, req.prompt, req.gitHubToken === true ? this.deps.gitHubToken(caller) : undefined, cont, secretEnv))
      .catch((err: unknown) => this.deps.logger.error({ task: task.id, err: errorText(err) }, 'task setup could not be recorded'));
    return task.dto();
  }

  /**
   * Remembers the choices for the composer. In memory at once (the next preferences read sees
   * them); the file write goes on in the background, so a burst of creates is answered at once,
   * and close() waits for it, so nothing is lost on shutdown.
   */
  private rememberUse(caller: Caller | null, repo: { name: string; baseBranch: string }, harness: HarnessName, model: string): void {
    void this.tracked(
      this.pendingWrites,
      this.deps.preferences.recordUse(caller?.id ?? DEFAULT_USER, repo, harness, model).catch((err: unknown) => this.deps.logger.warn({ err: errorText(err) }, 'could not save preferences')),
    );
  }

  /** Asks the title model in the background; the agent's own title and a rename still win over it. */
  private nameTask(task: Task, prompt: string): void {
    const model = this.deps.titleModel;
    if (!model || !prompt.trim()) return;
    void model
      .title(prompt, this.stopping.signal)
      .then((title) => {
        if (title && task.log) task.record({ type: 'caic_title', title, by: 'model' });
      })
      .catch((err: unknown) => this.deps.logger.warn({ task: task.id, err: (err as Error).message }, 'recording the title failed'));
  }

  /** A user's title: a `caic_title` record that no generated title replaces (also on finished tasks). */
  async rename(id: string, title: string, caller: Caller | null): Promise<TaskDto> {
    const task = this.find(id, caller);
    if (!canDo('rename', task.state)) throw this.conflict(task, 'rename');
    const rec = { type: 'caic_title', title: cleanTitle(title), by: 'user' };
    if (!rec.title) throw new TaskError('BAD_REQUEST', 'the title is empty');
    if (task.log && task.transcript) task.record(rec);
    else {
      await task.serial(async () => {
        const closed = !task.log;
        await this.open(task);
        task.record(rec);
        if (closed) this.closeTask(task);
      });
    }
    return task.dto();
  }

  private readonly usageReplays = new UsageReplayCache(async (id) => [...(await replayLog(logPath(this.deps.cacheDir, id), this.deps.harnesses)).usage.values()]);

  /**
   * The caller's agent usage per day and week (every task in no-auth mode): live tasks count as
   * their results are logged, finished ones from their trailer; only logs that predate usage in
   * the trailer are replayed, once.
   */
  async usage(caller: Caller | null, now = new Date()): Promise<UsageResp> {
    const mine = [...this.tasks.values()].filter((t) => !this.deps.authEnabled || (caller !== null && t.meta.owner === caller.id));
    const days = await Promise.all(
      mine.map((t): Promise<readonly UsageDay[]> => Promise.resolve(t.transcript ? [...t.transcript.usage.values()] : (t.header.usage ?? this.usageReplays.daysOf(t.id)))),
    );
    return aggregateUsage(days, now);
  }

  private phase(task: Task, phase: string, started: number, message?: string): void {
    task.record({ type: 'caic_log', phase, durationMs: Date.now() - started, message: message ?? phase });
  }

  /**
   * A task's credentials after a restart, as far as they can be known again: its secrets (one the
   * owner deleted since is gone: said in the log), the owner's GitHub token, the agent's variables.
   */
  private async adoptedEnv(task: Task): Promise<Record<string, string>> {
    const meta = task.meta;
    const token = this.deps.gitHubToken(meta.owner ? { id: meta.owner, username: meta.ownerName } : null);
    const env: Record<string, string> = { ...this.deps.harnessEnv(meta.harness), ...(token ? { GITHUB_TOKEN: token } : {}) };
    for (const name of meta.secrets ?? []) {
      try {
        Object.assign(env, (await this.deps.secretValues?.(meta.owner || DEFAULT_USER, [name])) ?? {});
      } catch {
        this.deps.logger.warn({ task: task.id, secret: name }, 'a secret of this task is no longer in the vault: its value is not masked any more');
      }
    }
    return env;
  }

  /** Secret values for a task (the vault's refusals become the task API's). */
  private async secretsFor(ownerId: string, names: readonly string[]): Promise<Record<string, string>> {
    if (!this.deps.secretValues) throw new TaskError('BAD_REQUEST', 'secrets: this daemon has no secrets vault');
    try {
      return await this.deps.secretValues(ownerId, names);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'BAD_REQUEST' || code === 'NOT_FOUND') throw new TaskError('BAD_REQUEST', `secrets: ${errorText(err)}`);
      if (code === 'CONFLICT') throw new TaskError('CONFLICT', errorText(err));
      throw err;
    }
  }

  /**
   * What the task's agent output is masked for: its secrets, the GitHub token it was given and the
   * credentials among the agent's configured variables.
   */
  private redactorFor(task: Task, env: Record<string, string>): void {
    const values = Object.entries(env)
      .filter(([name, v]) => v.length >= MIN_SECRET_BYTES && (task.meta.secrets?.includes(name) || isCredentialName(name)))
      .map(([, v]) => v);
    task.redactor = values.length ? new Redactor(values) : null;
    task.secretValues = Object.fromEntries(Object.entries(env).filter(([name]) => task.meta.secrets?.includes(name)));
  }

  private async provision(
    task: Task,
    prompt: Prompt,
    gitHubToken: string | undefined,
    cont: { branch: string; head: string; fork?: boolean } | null,
    secretEnv: Record<string, string> = {},
  ): Promise<void> {
    const meta = task.meta;
    const repo = meta.repos[0];
    try {
      const runtime = this.deps.runtime();
      let branch = '';
      if (repo) {
        task.setState('branching');
        branch = cont?.branch ?? (await this.deps.repos.nextBranch(repo.name));
        task.record({ type: 'caic_log', phase: 'branch', message: cont ? `${cont.fork ? 'forked branch' : 'continuing branch'} ${branch} at ${cont.head.slice(0, 10)}` : `task branch ${branch}` });
      }
      task.setState('provisioning');
      const started = Date.now();
      const info = repo ? this.deps.repos.get(repo.name) : null;
      const env = { ...this.deps.harnessEnv(meta.harness), ...(gitHubToken ? { GITHUB_TOKEN: gitHubToken, GH_TOKEN: gitHubToken } : {}), ...secretEnv };
      this.redactorFor(task, env);
      const hasEnv = Object.keys(env).length > 0;
      // The first session's relay starts with the container (its entrypoint), and so does the agent
      // when nothing has to go in over SSH before it: no secrets to write, the repository complete.
      const session = task.transcript!.session + 1;
      const startOpts = this.startOptions(task);
      const argv = task.harness.argv(startOpts, assetPaths());
      const a = assets();
      const launched = await this.tracked(this.launching, launchTaskContainer(
        {
          runtime,
          ...(this.deps.image ? { image: this.deps.image } : {}),
          // A continued branch starts from its own head (fetched at creation): the task's changes
          // (diff, safety scan, "nothing to push") are what it adds to that.
          guessBase: () => (cont ? Promise.resolve(cont.head) : this.deps.repos.baseCommit(repo!.name, repo!.baseBranch)),
          createBranch: async () => cont?.head ?? (await this.deps.repos.createBranch(repo!.name, branch, repo!.baseBranch)).baseCommit,
          launch: (image, place, complete) =>
            runtime.launch({
              taskId: task.id,
              harness: meta.harness,
              repos: repo ? [{ name: repoDirName(repo.name), branch, baseBranch: repo.baseBranch }] : [],
              sudo: meta.sudo,
              ...(this.deps.limits?.memoryBytes ? { memoryBytes: this.deps.limits.memoryBytes } : {}),
              ...(meta.egress && meta.egress.mode !== 'open' ? { egress: meta.egress } : {}),
              ...(this.deps.network ? { network: this.deps.network } : {}),
              // The relay (and, for the fake harness only, the fake agent) go in with the host key,
              // and so do the repository's files of this task: no round trips after the handshake.
              files: [...[a.relay, ...(meta.harness === 'fake' ? [a.fakeAgent] : [])].map((x) => ({ path: x.path, content: x.content, mode: 0o644 })), ...place],
              boot: bootCommand(a.relay.path, sessionDir(session), startOpts.cwd, task.harness.logStdin, hasEnv || !complete, argv),
              ...(image ? { image } : this.deps.image ? { image: this.deps.image } : {}),
              onPhase: (phase, ms) => task.record({ type: 'caic_log', phase: `container.${phase}`, durationMs: ms, message: `container ${phase}` }),
            }),
          discard: (handle) => runtime.purge(handle),
          log: (phase, ms, message) => task.record({ type: 'caic_log', phase, durationMs: ms, message }),
        },
        repo && info ? { name: repo.name, path: info.path, branch, baseBranch: repo.baseBranch, ...(info.remoteURL.startsWith('https://') ? { originUrl: info.remoteURL } : {}) } : null,
      ));
      const handle = launched.handle;
      task.handle = handle;
      const pkg = launched.delivery;
      try {
        if (repo && launched.baseCommit) task.record({ type: 'caic_branch', repo: repo.name, branch, baseCommit: launched.baseCommit, ...(cont && !cont.fork ? { continued: true } : {}) });
        task.record({ type: 'caic_container', name: handle.name, id: handle.id });
        this.phase(task, 'provision', started, `container ${handle.name} running`);
        await runtime.connect(handle, { onPhase: (phase, ms) => task.record({ type: 'caic_log', phase, durationMs: ms, message: phase }) });
        // The repository (when it could not come with the image), the environment and what git
        // checks out itself are independent: they go in parallel.
        const push = async () => {
          if (!pkg) return;
          const t = Date.now();
          await runtime.deliverRepo(handle, pkg);
          task.record({ type: 'caic_log', phase: 'push', durationMs: Date.now() - t, message: `delivered ${branch} (base ${pkg.baseSha.slice(0, 10)}, ${pkg.files} files)` });
        };
        const prepare = async () => {
          if (!hasEnv && !launched.prepare) return;
          const t = Date.now();
          // Tokens go over SSH into ~/.env (0600), never with the container's creation.
          if (hasEnv) await runtime.injectEnv(handle, env);
          if (launched.prepare) {
            const r = await runtime.exec(handle, launched.prepare);
            if (r.code !== 0) throw new TaskError('CONFLICT', `checking out the repository failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
          }
          this.phase(task, 'prepare', t, 'environment in place');
        };
        await Promise.all([push(), prepare()]);
      } finally {
        await pkg?.dispose();
      }
      task.setState('starting');
      // An image whose entrypoint does not start the relay (built before it did): started over SSH.
      const boot = handle.booted ? { boot: { n: session, waitStart: hasEnv || pkg !== null || launched.prepare !== null } } : {};
      await this.startSession(task, runtime, { reason: 'start', prompt, ...boot });
      // The first task from this commit: the next ones start from its image, made now that this one runs.
      if (launched.warm && !this.closed) {
        void this.tracked(
          this.warming,
          launched.warm().catch((err: unknown) => this.deps.logger.warn({ task: task.id, err: errorText(err) }, 'making the repository image failed')),
        );
      }
    } catch (err) {
      const message = errorText(err);
      this.deps.logger.warn({ task: task.id, err: message }, 'task setup failed');
      // No agent ever ran: the task fails and its container goes (settle.ts).
      await this.settle(task, message);
    }
  }

  /** How the task's agent starts: model, directory, the session to resume, tool approval. */
  private startOptions(task: Task, model = task.dto().model, resume?: string): StartOptions {
    const mode = task.meta.permissions?.mode ?? 'bypass';
    return { model, cwd: this.workdir(task), ...(resume ? { resumeSessionId: resume } : {}), ...(mode !== 'bypass' ? { permissionMode: mode } : {}) };
  }

  private workdir(task: Task): string {
    const repo = task.meta.repos[0];
    return repo ? `${HOME}/src/${repoDirName(repo.name)}` : HOME;
  }

  /**
   * Starts a new agent session under a new relay, sends the handshake and the prompt. `boot`: the
   * relay of session `n` was started by the container's entrypoint (waiting for `start` when
   * `waitStart`); the daemon only connects to its socket.
   */
  private async startSession(
    task: Task,
    runtime: ContainerRuntime,
    opts: { reason: string; prompt?: Prompt; resume?: string; boot?: { n: number; waitStart: boolean } },
  ): Promise<void> {
    const t = task.transcript!;
    const handle = task.handle!;
    const n = t.session + 1;
    if (opts.boot && opts.boot.n !== n) throw new TaskError('CONFLICT', `the container's relay is session ${opts.boot.n}, not ${n}`);
    task.record({ type: 'caic_session', n, reason: opts.reason, ...(opts.resume ? { resume: opts.resume } : {}) });
    const model = task.dto().model;
    const startOpts = this.startOptions(task, model, opts.resume);
    const started = Date.now();
    let proc: SpawnedProcess;
    if (opts.boot) {
      proc = await this.openRelay(runtime, handle, sessionDir(n), opts.boot.waitStart);
      this.phase(task, 'attach', started, `attached to the relay${opts.boot.waitStart ? ', agent started' : ''}`);
    } else {
      const argv = task.harness.argv(startOpts, assetPaths());
      proc = await runtime.spawn(handle, serveAttachCommand(assetPaths().relay, sessionDir(n), startOpts.cwd, task.harness.logStdin, argv));
    }
    const session = this.attachSession(task, proc);
    for (const line of task.harness.handshake(startOpts, task.transcript!.agentParser!)) session.write(line);
    if (opts.prompt) await this.sendPrompt(task, session, opts.prompt);
    else task.setState('waiting');
  }

  /**
   * Connects to a relay the container started (its socket, over SSH: no process in between), from
   * byte 0, asking it to start its agent when it waits for that. The relay may still be coming up:
   * tried again while its pid lives; a relay that died (or never listens) is left to an attach
   * client, which explains it from relay.log.
   */
  private async openRelay(runtime: ContainerRuntime, handle: ContainerHandle, dir: string, start: boolean): Promise<SpawnedProcess> {
    const started = Date.now();
    for (let tries = 1; Date.now() - started < RELAY_SOCKET_MS; tries++) {
      try {
        const proc = await runtime.openSocket(handle, relaySocket(dir));
        proc.stdin.write(relayHeader(0, start));
        return proc;
      } catch {
        if (tries % 20 === 0 && (await runtime.exec(handle, relayDeadCommand(dir))).code === 3) break;
        // One channel open per try, answered at once: a short pause costs nothing.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    return runtime.spawn(handle, attachCommand(assetPaths().relay, dir, 0, { waitMs: 30_000, start }));
  }

  private attachSession(task: Task, proc: Awaited<ReturnType<ContainerRuntime['spawn']>>): AgentSession {
    // What a replay of the log queued was answered by the session that saw it live.
    task.transcript?.agentParser?.drain?.();
    const session: AgentSession = new AgentSession(
      proc,
      (line) => {
        task.relayLine(line);
        task.logStalls = 0;
        // The agent's requests and the handshake's next steps, answered as they come.
        for (const reply of task.transcript?.agentParser?.drain?.() ?? []) session.write(reply);
      },
      (text) => this.deps.logger.debug({ task: task.id, stderr: text.trim() }, 'relay stderr'),
      (bytes) => task.relayLineTooLong(bytes),
      // The log cannot take the line (a full disk): the relay keeps it, and the stream reattaches
      // at the task's offset (with backoff) once the log can be written again.
      (err) => {
        task.logStalls++;
        this.deps.logger.error({ task: task.id, err: errorText(err) }, 'agent output not taken; it waits in the container');
      },
    );
    task.session = session;
    void session.done.then(() => this.sessionEnded(task, session));
    return session;
  }

  /**
   * The relay's stream ended without us asking. The agent's own exit leaves its exit record first
   * (the transcript has moved the task on; a failed one is cleaned up). Anything else cut the
   * stream (a dropped SSH connection, a killed channel): it is reattached at its byte offset, with
   * backoff, and the task keeps its state meanwhile; only when that cannot work does it rest.
   */
  private sessionEnded(task: Task, session: AgentSession): void {
    if (task.session !== session || session.ending || this.closed) return;
    task.session = null;
    if (task.transcript?.agentExited) {
      if (task.state === 'failed') void task.serial(() => this.discard(task)).catch((err: unknown) => this.deps.logger.warn({ task: task.id, err: errorText(err) }, 'cleanup failed'));
      return;
    }
    void this.relink(task, session);
  }

  private async relink(task: Task, lost: AgentSession): Promise<void> {
    const wanted = () => !this.closed && task.session === null && task.transcript !== null && (ACTIVE.has(task.state) || task.state === 'starting');
    // The log could not take the last session's lines: attaching again at once would only stop
    // again (and log it), so each such stop waits longer first, up to 30 s.
    if (task.logStalls > 0) {
      const ms = Math.min(LOG_STALL_MAX_MS, 250 * 2 ** Math.min(task.logStalls - 1, 10));
      if (!(await sleep(ms, true, { signal: this.stopping.signal }).catch(() => false))) return;
    }
    const r = await withBackoff(
      async () => {
        const runtime = this.deps.runtime();
        const handle = task.handle;
        if (!handle || handle.state !== 'running') return; // the die watcher moves it on
        // Outside the task's queue: waiting for sshd must not hold up stop or purge.
        await runtime.connect(handle, { deadlineMs: RELINK_CONNECT_MS, signal: this.stopping.signal });
        await task.serial(async () => {
          if (wanted() && task.handle) await this.reattach(task, runtime, task.handle, lost);
        });
      },
      { deadlineMs: RELINK_DEADLINE_MS, wanted, signal: this.stopping.signal },
    );
    if (r.ok || r.reason === 'unwanted') return;
    await task
      .serial(() => {
        if (wanted()) {
          task.record({ type: 'caic_error', message: `lost the connection to the agent relay: ${errorText(r.error)}; send input to reconnect` });
          if (task.state === 'running' || task.state === 'starting') task.setState('waiting');
        }
        return Promise.resolve();
      })
      .catch((err: unknown) => this.deps.logger.warn({ task: task.id, err: errorText(err) }, 'relink failed'));
  }

  /** Writes a prompt once the agent can take it (JSON-RPC harnesses finish a handshake first). */
  private async sendPrompt(task: Task, session: AgentSession, prompt: Prompt): Promise<void> {
    const deadline = Date.now() + task.harness.readyTimeoutMs;
    for (;;) {
      const parser = task.transcript!.agentParser;
      const data = parser ? task.harness.encodePrompt(prompt, parser) : null;
      if (data !== null) {
        session.write(data);
        if (!task.harness.logStdin) task.record({ type: 'caic_user_input', text: prompt.text, images: prompt.images?.length ?? 0 });
        task.setState('running');
        return;
      }
      if (Date.now() > deadline || !session.alive) throw new TaskError('CONFLICT', 'the agent did not become ready for a prompt');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // ---- operations --------------------------------------------------------------------------

  private conflict(task: Task, action: string): TaskError {
    return new TaskError('CONFLICT', `cannot ${action} a task in state ${task.state}`, { state: task.state });
  }

  /**
   * One operation on one task: in the task's queue, its log open (also a finished task's, whose
   * descriptor was given back), the state checked against the action's rules. A failure that
   * leaves the task in a transient state (starting, stopping, ...) brings it to rest where it
   * really is (settle.ts), with the reason in the transcript, so stop and purge always work after.
   */
  private operate<T>(id: string, caller: Caller | null, action: TaskAction | null, verb: string, fn: (task: Task) => Promise<T>): Promise<T> {
    const task = this.find(id, caller);
    return task.serial(async () => {
      await this.open(task);
      if (action && !canDo(action, task.state)) throw this.conflict(task, verb);
      try {
        return await fn(task);
      } catch (err) {
        if (TRANSIENT.has(task.state)) await this.settle(task, `could not ${verb} the task: ${errorText(err)}`);
        throw err;
      }
    });
  }

  input(id: string, prompt: Prompt, caller: Caller | null): Promise<void> {
    return this.operate(id, caller, 'input', 'send input to', (task) => this.deliver(task, prompt));
  }

  /** Input to a task that can take it (in its queue): to the running agent, else reattached or resumed. */
  private async deliver(task: Task, prompt: Prompt): Promise<void> {
    await this.headsRecorded(task);
    if (prompt.images?.length && !task.harness.supportsImages) throw new TaskError('BAD_REQUEST', `${task.harness.name} does not take images`);
    if (!this.takesInput(task)) {
      if (!task.handle || task.handle.state !== 'running') {
        throw new TaskError('CONFLICT', 'the task has no running container', { state: task.state, relay: task.handle ? 'dead' : 'no_container' });
      }
      // Reconnect to a relay that still runs; if the agent is gone, resume its session.
      this.dropEndedSession(task);
      const runtime = this.deps.runtime();
      await this.reattach(task, runtime, task.handle);
      if (!canDo('input', task.state)) throw this.conflict(task, 'send input to');
      if (!this.takesInput(task)) {
        this.dropEndedSession(task);
        const resume = task.transcript!.summary.sessionId;
        await this.startSession(task, runtime, { reason: 'resume', prompt, ...(resume ? { resume } : {}) });
        return;
      }
    }
    await this.sendPrompt(task, task.session!, prompt);
  }

  /** The agent session is there and its agent has not ended (its exit record not yet seen). */
  private takesInput(task: Task): boolean {
    return task.session?.alive === true && !task.transcript?.agentExited;
  }

  /** A session whose agent ended: its channel closes by itself; a new one takes over. */
  private dropEndedSession(task: Task): void {
    const session = task.session;
    if (!session) return;
    session.ending = true;
    task.session = null;
  }

  restart(id: string, prompt: Prompt | undefined, caller: Caller | null): Promise<void> {
    return this.operate(id, caller, 'restart', 'restart', async (task) => {
      const plan = task.transcript!.summary.planContent;
      const p = prompt && (prompt.text.trim() || prompt.images?.length) ? prompt : plan ? { text: `Execute this plan:\n\n${plan}` } : null;
      if (!p) throw new TaskError('BAD_REQUEST', 'no prompt and no plan to execute');
      await this.endSession(task);
      task.setState('starting');
      await this.startSession(task, this.deps.runtime(), { reason: 'restart', prompt: p });
    });
  }

  clearContext(id: string, caller: Caller | null): Promise<void> {
    return this.operate(id, caller, 'clearContext', 'clear the context of', async (task) => {
      await this.endSession(task);
      task.setState('starting');
      await this.startSession(task, this.deps.runtime(), { reason: 'clear' });
    });
  }

  compact(id: string, instructions: string | undefined, caller: Caller | null): Promise<void> {
    return this.operate(id, caller, null, 'compact', (task) => {
      if (!task.harness.supportsCompact) throw new TaskError('CONFLICT', `${task.harness.name} cannot compact`);
      if (!canDo('compact', task.state) || !this.takesInput(task)) throw this.conflict(task, 'compact');
      const data = task.harness.encodeCompact(instructions, task.transcript!.agentParser!);
      if (data === null) throw new TaskError('CONFLICT', 'the agent is not ready');
      task.session!.write(data);
      task.setState('running');
      return Promise.resolve();
    });
  }

  /**
   * Stops the agent's current turn; the session and the container stay. 'idle' when no turn was
   * running (it ended meanwhile): nothing to stop.
   */
  interrupt(id: string, caller: Caller | null): Promise<'interrupted' | 'idle'> {
    return this.operate(id, caller, 'interrupt', 'interrupt', (task) => {
      if (!task.harness.supportsInterrupt) throw new TaskError('CONFLICT', `${task.harness.name} cannot be interrupted`, { state: task.state });
      if (task.state !== 'running' || !this.takesInput(task)) return Promise.resolve('idle' as const);
      const data = task.harness.encodeInterrupt(task.transcript!.agentParser!);
      if (data === null) return Promise.resolve('idle' as const);
      task.session!.write(data);
      task.record({ type: 'caic_log', phase: 'interrupt', message: 'interrupt sent to the agent' });
      return Promise.resolve('interrupted' as const);
    });
  }

  /** Ends the agent gracefully (NUL, then its final lines, ≤ 20 s). */
  private async endSession(task: Task): Promise<void> {
    const session = task.session;
    if (!session) return;
    const clean = await session.shutdown(20_000);
    if (!clean) task.record({ type: 'caic_log', phase: 'stop', message: 'the agent did not end within 20 s; its session was cut' });
    task.session = null;
  }

  stop(id: string, caller: Caller | null): Promise<void> {
    return this.operate(id, caller, 'stop', 'stop', (task) => this.stopTask(task));
  }

  // ---- the daemon's own operations (limits.ts, hygiene.ts) ---------------------------------

  /** Every task as hygiene sees it (all users'). */
  hygieneView(): Map<string, TaskView> {
    return new Map([...this.tasks.values()].map((t) => [t.id, { id: t.id, state: t.state, activeAt: t.activeAt, owner: t.meta.owner }]));
  }

  /** One read of the live tasks' blocked connections now (tests; the watch does it every poll_interval). */
  sampleEgress(): Promise<void> {
    return this.egressWatch.tick();
  }

  /** One sampling round of the live tasks now (tests; the monitor's timer does it every stats_interval). */
  sampleResources(): Promise<void> {
    return this.monitor?.tick() ?? Promise.resolve();
  }

  /**
   * Stops a task for the daemon (a limit, idle), the reason in its transcript, when `still` holds in
   * its queue (what the plan saw may have changed meanwhile).
   */
  systemStop(id: string, reason: string, still: (t: TaskView) => boolean): Promise<void> {
    return this.operate(id, SYSTEM, null, 'stop', async (task) => {
      if (!canDo('stop', task.state) || !still(this.hygieneView().get(id)!)) return;
      task.record({ type: 'caic_error', message: reason });
      await this.stopTask(task);
    });
  }

  /** Purges a task for the daemon (its old stopped container): branch and log stay. Only when `still` holds. */
  systemPurge(id: string, reason: string, still: (t: TaskView) => boolean): Promise<void> {
    return this.operate(id, SYSTEM, null, 'purge', async (task) => {
      if (!canDo('purge', task.state) || !still(this.hygieneView().get(id)!)) return;
      task.record({ type: 'caic_log', phase: 'hygiene', message: reason });
      await this.purgeTask(task);
    });
  }

  private async stopTask(task: Task): Promise<void> {
    task.setState('stopping');
    await this.endSession(task);
    if (task.handle) await this.deps.runtime().stop(task.handle);
    if (task.handle) task.handle = { ...task.handle, state: 'exited', sshPort: 0 };
    task.setState('stopped');
  }

  revive(id: string, caller: Caller | null): Promise<void> {
    return this.operate(id, caller, 'revive', 'revive', async (task) => {
      if (!task.handle) throw new TaskError('CONFLICT', 'the container of this task is gone', { state: task.state, relay: 'no_container' });
      const runtime = this.deps.runtime();
      task.setState('provisioning');
      const started = Date.now();
      task.handle = await runtime.revive(task.handle);
      await runtime.connect(task.handle);
      this.phase(task, 'revive', started, `container ${task.handle.name} running again`);
      task.setState('starting');
      const resume = task.transcript!.summary.sessionId;
      await this.startSession(task, runtime, { reason: 'revive', ...(resume ? { resume } : {}) });
    });
  }

  /**
   * Removes the container (also one a failed task left behind) and the host refs fetched from it,
   * then writes the trailer. When removing fails the task comes back to rest and purge can be
   * tried again; it never answers `purged` for a task that is not.
   */
  purge(id: string, caller: Caller | null): Promise<void> {
    return this.operate(id, caller, 'purge', 'purge', (task) => this.purgeTask(task));
  }

  private async purgeTask(task: Task): Promise<void> {
    task.setState('purging');
    await this.endSession(task);
    const handle = task.handle ?? (await this.leftover(task));
    // Failing to remove the container fails the purge (the task comes back to rest, purgeable).
    if (handle) await this.deps.runtime().purge(handle);
    await this.dropFetchedRefs(task);
    task.handle = null;
    task.setState('purged');
    this.finish(task);
  }

  /** A container of this task the daemon holds no handle for (a failed task after a restart). */
  private async leftover(task: Task): Promise<ContainerHandle | null> {
    try {
      return (await this.deps.runtime().list()).find((c) => c.taskId === task.id) ?? null;
    } catch (err) {
      task.record({ type: 'caic_log', phase: 'purge', message: `could not look for a leftover container: ${errorText(err)}` });
      return null;
    }
  }

  /**
   * Removes the host refs syncs fetched from the task's container (`refs/remotes/<container>/`),
   * and those of any other container that a crash or an older caic left in the repository: a sync
   * deletes its own, so a `refs/remotes/caic-*` that no configured remote owns is a leftover. The
   * work such a ref held is in the remote (and its tracking ref) when it was synced, else in the
   * container, which the fetch copied it from.
   */
  private async dropFetchedRefs(task: Task): Promise<void> {
    const repo = task.meta.repos[0];
    const own = task.handle?.name || task.transcript?.summary.container || task.header.summary.container;
    const path = repo && this.deps.repos.list().find((r) => r.name === repo.name)?.path;
    if (!repo || !path) return;
    await this.deps.repos
      .lock(repo.name)
      .run(async () => {
        const remotes = new Set((await git(path, ['remote'])).split('\n').filter(Boolean));
        const names = new Set(own ? [own] : []);
        for (const ref of (await git(path, ['for-each-ref', '--format=%(refname)', 'refs/remotes/'])).split('\n')) {
          const name = ref.split('/')[2] ?? '';
          if (name.startsWith('caic-') && !remotes.has(name)) names.add(name);
        }
        await deleteRefs(path, [...names].map(containerRefPrefix));
      })
      .catch((err: unknown) => this.deps.logger.warn({ task: task.id, err: (err as Error).message }, 'removing fetched refs failed'));
  }

  /** Writes the result trailer (once) and closes the log. */
  private finish(task: Task): void {
    const t = task.transcript;
    if (!t || t.hasTrailer) return;
    task.record({ type: 'caic_result', state: task.state, summary: t.summary, usage: [...t.usage.values()], lastEventId: t.lastEventId + 1 });
    this.closeTask(task);
  }

  async diff(id: string, path: string | undefined, caller: Caller | null): Promise<{ files: DiffStatEntry[]; diff: string }> {
    const task = this.find(id, caller);
    const repo = task.meta.repos[0];
    if (!repo) throw new TaskError('CONFLICT', 'this task has no repository');
    if (!task.handle || task.handle.state !== 'running') return syncedDiff(task, this.deps.repos.get(repo.name), path);
    const r = await this.deps.runtime().diff(task.handle, repoDirName(repo.name), { patch: true, ...(path ? { path } : {}) });
    return { files: r.stat, diff: r.patch ?? '' };
  }

  /** Refreshes the diff stat from the container after a turn; failures only log. */
  async refreshDiffStat(task: Task): Promise<void> {
    const repo = task.meta.repos[0];
    if (!repo || !task.handle || task.handle.state !== 'running') return;
    try {
      const r = await this.deps.runtime().diff(task.handle, repoDirName(repo.name));
      if (JSON.stringify(r.stat) !== JSON.stringify(task.transcript?.summary.diffStat)) task.record({ type: 'caic_diff_stat', files: r.stat });
    } catch (err) {
      this.deps.logger.debug({ task: task.id, err: (err as Error).message }, 'diff stat refresh failed');
    }
  }

  sync(id: string, force: boolean, caller: Caller | null): Promise<SyncResp> {
    return this.operate(id, caller, null, 'sync', async (task) => {
      const repo = task.meta.repos[0];
      if (!repo) throw new TaskError('CONFLICT', 'this task has no repository');
      if (!task.handle || task.handle.state !== 'running') throw new TaskError('CONFLICT', 'the task container is not running', { state: task.state });
      const info = this.deps.repos.get(repo.name);
      if (!info.remote) throw new TaskError('CONFLICT', `${repo.name} has no remote to push to`);
      const base = baseCommitOf(task);
      const author = await commitAuthor(this.deps.gitIdentity?.(caller) ?? null, info.path);
      return this.deps.repos.lock(repo.name).run(async () => {
        const fetched = await this.deps.runtime().fetchRepo(task.handle!, {
          hostRepo: info.path,
          name: repoDirName(repo.name),
          branch: repo.branch,
          commit: { message: commitMessage(task.transcript!.summary.result, task.dto().title), author },
        });
        // The fetched ref is only a handle for this sync: the push leaves the work in the remote
        // and its tracking ref; a blocked or empty sync needs nothing kept on the host.
        try {
          return await pushFetched(task, info, fetched.sha, base, force);
        } finally {
          await deleteRefs(info.path, fetched.ref).catch((err: unknown) => this.deps.logger.warn({ task: task.id, err: (err as Error).message }, 'removing the fetched ref failed'));
        }
      });
    });
  }

  // ---- review comments, restart and fork from a message (review.ts, rewind.ts) ----------------

  /**
   * Records the repository's HEAD for event `eventId` (a user message, a turn's end) as a
   * caic_head record, in the background: one `git rev-parse` over the task's SSH connection, never
   * in the way of the agent. A task without a running container records nothing.
   */
  private recordHead(task: Task, eventId: number): void {
    const handle = task.handle;
    if (this.closed || !handle || handle.state !== 'running' || !task.meta.repos[0]) return;
    let runtime: ContainerRuntime;
    try {
      runtime = this.deps.runtime();
    } catch {
      return;
    }
    const pending = this.headsPending.get(task.id) ?? this.headsPending.set(task.id, new Set()).get(task.id)!;
    const write: Promise<void> = runtime
      .exec(handle, headCommand(this.workdir(task)), { timeoutMs: HEAD_WAIT_MS, maxBuffer: 4096 })
      .then((r) => {
        const commit = r.stdout.trim();
        if (r.code !== 0 || !isCommitId(commit) || !task.log || task.log.isSealed || !task.transcript || task.transcript.hasTrailer) return;
        task.record({ type: 'caic_head', event: eventId, commit });
      })
      .catch((err: unknown) => this.deps.logger.debug({ task: task.id, err: errorText(err) }, 'recording HEAD failed'))
      .finally(() => {
        pending.delete(write);
        if (!pending.size) this.headsPending.delete(task.id);
      });
    pending.add(write);
  }

  /** HEAD records still being taken, per task: the next input waits for them (see deliver). */
  private readonly headsPending = new Map<string, Set<Promise<void>>>();

  /**
   * Waits (at most HEAD_WAIT_MS) for the HEAD records of the task's earlier events: the end of a
   * turn must be recorded before the next input can move the branch, or a slow record would see
   * the next turn's commit. The agent is idle then; the wait is one `rev-parse` at most.
   */
  private async headsRecorded(task: Task): Promise<void> {
    const pending = this.headsPending.get(task.id);
    if (!pending?.size) return;
    await waitAtMost(Promise.all(pending), HEAD_WAIT_MS);
  }

  private reviewTarget(task: Task): ReviewTarget {
    return { id: task.id, state: task.state, transcript: task.transcript!, record: (rec) => task.record(rec) };
  }

  async reviewList(id: string, caller: Caller | null): Promise<ReviewComment[]> {
    const task = this.find(id, caller);
    if (!task.transcript) await task.serial(() => this.loadOnly(task));
    return pendingComments(task.transcript!);
  }

  reviewAdd(id: string, req: AddReviewCommentReq, caller: Caller | null): Promise<ReviewComment> {
    return this.operate(id, caller, null, 'comment on', (task) =>
      addComment(this.reviewTarget(task), req, async () => {
        // The diff stat the task knows, else the diff as it is now (the agent may be mid-turn).
        const known = new Set(task.transcript!.summary.diffStat.map((f) => f.path));
        if (known.has(req.file)) return known;
        const fresh = await this.diff(id, undefined, caller).catch(() => ({ files: [] as DiffStatEntry[] }));
        return new Set(fresh.files.map((f) => f.path));
      }),
    );
  }

  reviewEdit(id: string, commentId: string, body: string, caller: Caller | null): Promise<ReviewComment> {
    return this.operate(id, caller, null, 'comment on', (task) => Promise.resolve(editComment(this.reviewTarget(task), commentId, body)));
  }

  reviewDelete(id: string, commentId: string, caller: Caller | null): Promise<void> {
    return this.operate(id, caller, null, 'comment on', (task) => Promise.resolve(deleteComment(this.reviewTarget(task), commentId)));
  }

  /** Sends the unsent comments as one input; 409 (canDo input) when the task cannot take input. */
  reviewSend(id: string, caller: Caller | null): Promise<number> {
    return this.operate(id, caller, 'input', 'send a review to', (task) => sendReview(this.reviewTarget(task), (text) => this.deliver(task, { text })));
  }

  /** The user message `eventId` of a task's transcript; BAD_REQUEST when that event is none. */
  private messageOf(task: Task, eventId: number) {
    const t = task.transcript!;
    const msg = messageAt(t.events, eventId);
    if (!msg) throw new TaskError('BAD_REQUEST', `event ${eventId} is not a user message of task ${task.id}`, { eventId });
    return { t, msg, turns: turnsOf(t.events) };
  }

  /**
   * Edit and restart from a user message: the agent's session ends, the branch goes back to the
   * commit it had when that message was sent (uncommitted work stashed, later commits in the
   * reflog), and a new session starts whose first input is the edited message after a summary of
   * the conversation before it (every harness alike: none can resume a session cut at an earlier
   * message).
   */
  restartFrom(id: string, eventId: number, prompt: Prompt, caller: Caller | null): Promise<void> {
    return this.operate(id, caller, 'restart', 'restart', async (task) => {
      if (!prompt.text.trim() && !prompt.images?.length) throw new TaskError('BAD_REQUEST', 'the message is empty');
      await this.headsRecorded(task);
      if (prompt.images?.length && !task.harness.supportsImages) throw new TaskError('BAD_REQUEST', `${task.harness.name} does not take images`);
      const { t, turns } = this.messageOf(task, eventId);
      const at = turns.findIndex((x) => x.input.id === eventId);
      const commit = task.meta.repos[0] ? headBefore(t.heads, eventId, baseCommitOf(task)) : null;
      if (task.meta.repos[0] && !commit) throw new TaskError('CONFLICT', `no commit was recorded for message ${eventId} (it predates commit recording); the branch cannot be put back there`);
      if (!task.handle || task.handle.state !== 'running') throw new TaskError('CONFLICT', 'the task has no running container', { state: task.state });
      const runtime = this.deps.runtime();
      await this.endSession(task);
      task.setState('starting');
      if (commit) {
        const r = await runtime.exec(task.handle, resetCommand(this.workdir(task)), { args: [commit, `caic: before restarting from message ${eventId}`] });
        if (r.code !== 0) throw new TaskError('CONFLICT', `putting the branch back at ${commit.slice(0, 10)} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`);
        const stashed = r.stdout.includes('stashed') ? '; uncommitted work is in `git stash`' : '';
        task.record({ type: 'caic_log', phase: 'rewind', message: `restarting from message ${eventId}: the branch is back at ${commit.slice(0, 10)}${stashed}` });
      }
      await this.startSession(task, runtime, { reason: 'restart', prompt: { ...prompt, text: restartPrompt(prompt.text, turns.slice(0, at)) } });
    });
  }

  /**
   * Fork from a user message: a new task on a new branch made at the commit the task had once that
   * message's turn ended (fetched from the container when the host lacks it), whose prompt sums up
   * the conversation up to there before `prompt`. Same agent, model, sudo and secrets as the task.
   */
  async fork(id: string, eventId: number, prompt: Prompt, caller: Caller | null): Promise<TaskDto> {
    const task = this.find(id, caller);
    if (!task.transcript) await task.serial(() => this.loadOnly(task));
    if (!prompt.text.trim() && !prompt.images?.length) throw new TaskError('BAD_REQUEST', 'the prompt is empty');
    await this.headsRecorded(task);
    const { t, turns } = this.messageOf(task, eventId);
    const repo = task.meta.repos[0];
    if (!repo || !repo.branch) throw new TaskError('CONFLICT', 'this task has no branch to fork');
    const commit = headAfter(t.heads, turns, eventId);
    if (!commit) throw new TaskError('CONFLICT', `no commit was recorded after message ${eventId} (its turn has not ended, or it predates commit recording)`);
    const info = this.deps.repos.get(repo.name);
    const branch = await this.deps.repos.nextBranch(repo.name);
    await this.deps.repos.lock(repo.name).run(async () => {
      const have = await git(info.path, ['cat-file', '-e', `${commit}^{commit}`]).then(() => true, () => false);
      let fetched = '';
      if (!have) {
        const handle = task.handle;
        if (!handle || handle.state !== 'running') throw new TaskError('CONFLICT', `commit ${commit.slice(0, 10)} is only in the task's container, which is not running (revive the task first)`);
        fetched = (await this.deps.runtime().fetchRepo(handle, { hostRepo: info.path, name: repoDirName(repo.name), branch: `fork-${branch}`, sha: commit })).ref;
      }
      try {
        await git(info.path, ['branch', '--no-track', branch, commit]);
      } finally {
        if (fetched) await deleteRefs(info.path, fetched).catch(() => undefined);
      }
    });
    const turnAt = turns.findIndex((x) => x.input.id === eventId);
    const created = this.create(
      {
        repos: [{ name: repo.name, baseBranch: repo.baseBranch }],
        harness: task.meta.harness,
        model: task.meta.model,
        prompt: { ...prompt, text: forkPrompt(prompt.text, turns.slice(0, turnAt + 1), { taskId: task.id, branch: repo.branch }) },
        sudo: task.meta.sudo,
        ...(task.meta.secrets?.length ? { secrets: [...task.meta.secrets] } : {}),
      },
      caller,
      { fork: { branch, head: commit, note: `forked from task ${task.id} at message ${eventId} (commit ${commit.slice(0, 10)} of ${repo.branch})` } },
    );
    // A fork refused (its agent cannot run, Docker is down) leaves no branch behind.
    const dto = await created.catch(async (err: unknown) => {
      await this.deps.repos.lock(repo.name).run(() => git(info.path, ['branch', '-D', branch])).catch(() => undefined);
      throw err;
    });
    await this.hostRecord(task.id, { type: 'caic_log', phase: 'fork', message: `forked from message ${eventId} into task ${dto.id} (branch ${branch} at ${commit.slice(0, 10)})` });
    return dto;
  }

  private readonly diffTimers = new Map<string, NodeJS.Timeout>();

  /** After tool results and turn ends: one diff stat refresh per task, debounced. */
  private scheduleDiffStat(task: Task): void {
    if (this.closed || this.diffTimers.has(task.id)) return;
    const timer = setTimeout(() => {
      this.diffTimers.delete(task.id);
      if (this.closed) return;
      void task.serial(() => this.refreshDiffStat(task)).catch(() => undefined);
    }, 300);
    timer.unref();
    this.diffTimers.set(task.id, timer);
  }
}

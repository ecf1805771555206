// Resource hygiene: one function computing what clean-up would do (idle stops, old stopped
// containers, orphan containers, stale images), the loop that does it, the free-disk check before a
// task starts, and the doctor report built from the same plan (daemon route and `caic doctor`).
import { basename } from 'node:path';
import type Dockerode from 'dockerode';
import type { DoctorResp, HygieneAction, TaskState } from '../api/index.js';
import { formatBytes, type ResourceLimits } from '../config/index.js';
import { dataDisk, dockerRootDir, engineSnapshot, removeOwnContainer, removeUnusedImage, type EngineSnapshot } from '../containers/index.js';
import type { Logger } from '../log/index.js';
import { TaskError } from './errors.js';
import { listLogs, readHeadAndTail } from './log.js';

/** What hygiene needs to know of a task. */
export interface TaskView {
  id: string;
  state: TaskState;
  /** Last activity (ms): a record or an agent line. */
  activeAt: number;
  /** Owner's user id ('' without login). */
  owner: string;
}

const IDLE_STATES = new Set<TaskState>(['waiting', 'asking', 'has_plan']);
/** Tasks whose container clean-up may remove once it stopped long enough (purge keeps branch and log). */
const REMOVABLE_STATES = new Set<TaskState>(['stopped', 'failed']);

export interface PlannedAction extends HygieneAction {
  taskId?: string;
  containerId?: string;
  imageId?: string;
  /** The task's owner, for the doctor report's filter ('' for objects of no task). */
  owner: string;
}

export interface PlanInput {
  snapshot: EngineSnapshot | null;
  /** This daemon's instance id: containers of other instances are never touched. */
  instance: string;
  tasks: ReadonlyMap<string, TaskView>;
  limits: ResourceLimits;
  now: number;
  /** Tests only: clean-up considers only images these labels accept (other tests' images stay). */
  imageFilter?: (labels: Record<string, string>) => boolean;
}

const ago = (ms: number) => {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
};

/** What clean-up would do now. Pure: the same input gives the same plan (doctor shows exactly what the loop does). */
export function planHygiene(input: PlanInput): PlannedAction[] {
  const { limits, now, snapshot, tasks, instance } = input;
  const out: PlannedAction[] = [];
  if (limits.idleStopMs > 0) {
    for (const t of tasks.values()) {
      const idle = now - t.activeAt;
      if (IDLE_STATES.has(t.state) && idle >= limits.idleStopMs) {
        out.push({ kind: 'idleStop', target: t.id, taskId: t.id, owner: t.owner, reason: `${t.state} with nothing happening for ${ago(idle)} (idle_stop)` });
      }
    }
  }
  if (!snapshot) return out;
  // Only this daemon's containers: a `caic` label alone may be another daemon's on the same engine.
  const own = snapshot.containers.filter((c) => c.instance === instance && c.instance !== '' && c.taskId !== '');
  for (const c of own) {
    const task = tasks.get(c.taskId);
    if (!task) {
      const age = now - c.createdMs;
      if (limits.orphanGraceMs > 0 && age >= limits.orphanGraceMs) {
        out.push({ kind: 'removeOrphan', target: c.name, containerId: c.id, taskId: c.taskId, owner: '', reason: `no task log for ${c.taskId}; created ${ago(age)} ago (orphan_grace)` });
      }
      continue;
    }
    if (limits.removeStoppedAfterMs > 0 && c.state !== 'running' && REMOVABLE_STATES.has(task.state) && c.finishedMs > 0) {
      const stopped = now - c.finishedMs;
      if (stopped >= limits.removeStoppedAfterMs) {
        out.push({ kind: 'removeStopped', target: c.name, containerId: c.id, taskId: c.taskId, owner: task.owner, reason: `task ${task.state}, container stopped ${ago(stopped)} ago (remove_stopped_after); branch and log stay` });
      }
    }
  }
  if (limits.pruneImages) {
    for (const i of snapshot.images) {
      if (i.containers > 0 || (input.imageFilter && !input.imageFilter(i.labels))) continue;
      const name = i.tags[0] ?? i.id.slice(7, 19);
      // An agent image a rebuild took the tag from: nothing can start from it by name any more.
      if (i.kind === 'agent' && i.tags.length === 0) {
        out.push({ kind: 'pruneImage', target: name, imageId: i.id, owner: '', sizeBytes: i.sizeBytes, reason: 'agent image without a tag (replaced by a rebuild), used by no container' });
      }
      // A repository image on an agent image that is gone or lost its tag: tasks start from the current one's.
      if (i.kind === 'repo' && i.parentId && !snapshot.taggedImageIds.has(i.parentId)) {
        out.push({ kind: 'pruneImage', target: name, imageId: i.id, owner: '', sizeBytes: i.sizeBytes, reason: 'repository image on an agent image that is no longer current, used by no container' });
      }
    }
  }
  return out;
}

export interface HygieneDeps {
  docker: () => Dockerode | null;
  instance: string;
  limits: ResourceLimits;
  /** [core] image: shown as current in the doctor report. */
  image: string;
  tasks: () => ReadonlyMap<string, TaskView>;
  /** The daemon's own stop and purge of a task, the reason on the task's record. */
  stop: (taskId: string, reason: string) => Promise<void>;
  purge: (taskId: string, reason: string) => Promise<void>;
  logger: Logger;
  imageFilter?: (labels: Record<string, string>) => boolean;
}

/** The clean-up loop: every gc_interval, the plan, then each action (a failure is logged; the rest goes on). */
export class Hygiene {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PlannedAction[]> | null = null;
  private closed = false;
  /** Listeners of each finished run (tests wait on them rather than on time). */
  private readonly runListeners = new Set<(done: PlannedAction[]) => void>();

  constructor(private readonly deps: HygieneDeps) {}

  start(): void {
    if (this.deps.limits.gcIntervalMs <= 0 || this.timer || this.closed) return;
    this.timer = setInterval(() => void this.run().catch(() => undefined), this.deps.limits.gcIntervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  onRun(fn: (done: PlannedAction[]) => void): () => void {
    this.runListeners.add(fn);
    return () => this.runListeners.delete(fn);
  }

  /** The plan now, without doing it. */
  async plan(): Promise<{ snapshot: EngineSnapshot | null; error?: string; actions: PlannedAction[] }> {
    const docker = this.deps.docker();
    let snapshot: EngineSnapshot | null = null;
    let error: string | undefined;
    if (docker) {
      try {
        snapshot = await engineSnapshot(docker);
      } catch (err) {
        error = (err as Error).message;
      }
    } else error = 'Docker engine not connected';
    const actions = planHygiene({
      snapshot,
      instance: this.deps.instance,
      tasks: this.deps.tasks(),
      limits: this.deps.limits,
      now: Date.now(),
      ...(this.deps.imageFilter ? { imageFilter: this.deps.imageFilter } : {}),
    });
    return { snapshot, actions, ...(error ? { error } : {}) };
  }

  /** One clean-up run (one at a time); what was done. */
  run(): Promise<PlannedAction[]> {
    if (this.running || this.closed) return this.running ?? Promise.resolve([]);
    this.running = this.runOnce().finally(() => (this.running = null));
    return this.running;
  }

  private async runOnce(): Promise<PlannedAction[]> {
    const { actions } = await this.plan();
    const done: PlannedAction[] = [];
    const docker = this.deps.docker();
    for (const a of actions) {
      if (this.closed) break;
      try {
        let ok = true;
        if (a.kind === 'idleStop') await this.deps.stop(a.taskId!, `stopped after ${a.reason}`);
        else if (a.kind === 'removeStopped') await this.deps.purge(a.taskId!, `container removed: ${a.reason}`);
        else if (a.kind === 'removeOrphan' && docker) ok = await removeOwnContainer(docker, a.containerId!, { taskId: a.taskId!, instance: this.deps.instance });
        else if (a.kind === 'pruneImage' && docker) ok = await removeUnusedImage(docker, a.imageId!);
        if (ok) {
          done.push(a);
          this.deps.logger.info({ action: a.kind, target: a.target, reason: a.reason }, 'hygiene');
        }
      } catch (err) {
        this.deps.logger.warn({ action: a.kind, target: a.target, err: (err as Error).message }, 'hygiene step failed');
      }
    }
    for (const fn of this.runListeners) fn(done);
    return done;
  }
}

/**
 * Refuses a task start while Docker's data disk is below [limits] min_free_disk (503 with what is
 * free and what to do). Nothing is refused when the disk cannot be read (an engine elsewhere).
 */
export async function checkFreeDisk(docker: Dockerode, minFreeBytes: number): Promise<void> {
  if (minFreeBytes <= 0) return;
  const disk = await dataDisk(await dockerRootDir(docker));
  if (!disk || disk.freeBytes >= minFreeBytes) return;
  throw new TaskError(
    'SERVICE_UNAVAILABLE',
    `Docker's data disk (${disk.path}) has ${formatBytes(disk.freeBytes)} free, less than [limits] min_free_disk (${formatBytes(minFreeBytes)}): free space (\`caic doctor\` shows what clean-up would remove; \`docker system prune\`) before starting a task`,
    { freeBytes: disk.freeBytes, minFreeBytes, path: disk.path },
  );
}

/** Tasks as their logs' heads and tails list them (for `caic doctor` while the daemon is stopped). */
export async function tasksFromLogs(cacheDir: string, parse: (ht: { head: string; headLines: string[]; tail: string[] }, id: string) => { meta: { id: string; owner: string }; state: TaskState; stateAt: string }): Promise<Map<string, TaskView>> {
  const out = new Map<string, TaskView>();
  for (const path of await listLogs(cacheDir)) {
    const id = basename(path, '.jsonl');
    try {
      const ht = await readHeadAndTail(path);
      const h = parse(ht, id);
      out.set(h.meta.id, { id: h.meta.id, state: h.state, owner: h.meta.owner, activeAt: Math.max(Date.parse(h.stateAt) || 0, ht.mtimeMs) });
    } catch {
      // An unreadable log still stands for its task: its container is not an orphan.
      out.set(id, { id, state: 'failed', owner: '', activeAt: 0 });
    }
  }
  return out;
}

/**
 * The doctor report. `viewer`: with login on, the caller's id: containers and task actions of
 * other users are counted, never named (their task ids do not leak); null shows everything (no
 * login, or the command line on the daemon's machine).
 */
export function doctorReport(
  plan: { snapshot: EngineSnapshot | null; error?: string; actions: PlannedAction[] },
  opts: { instance: string; image: string; limits: ResourceLimits; tasks: ReadonlyMap<string, TaskView>; viewer: string | null },
): DoctorResp {
  const s = plan.snapshot;
  // As TaskService.visible: a task made without login ('' owner) is everyone's.
  const mine = (owner: string) => opts.viewer === null || owner === '' || owner === opts.viewer;
  const own = s?.containers.filter((c) => c.instance === opts.instance) ?? [];
  const currentIds = new Set(s?.images.filter((i) => i.tags.includes(opts.image)).map((i) => i.id));
  // Images are no one's; an orphan container is named only to a viewer who sees everything.
  const visibleActions = plan.actions.filter((a) => a.kind === 'pruneImage' || (a.kind === 'removeOrphan' ? opts.viewer === null : mine(a.owner)));
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    engine: {
      reachable: s !== null,
      ...(plan.error ? { error: plan.error } : {}),
      version: s?.engine.version ?? '',
      apiVersion: s?.engine.apiVersion ?? '',
      os: s?.engine.os ?? '',
      rootDir: s?.engine.rootDir ?? '',
      storageDriver: s?.engine.storageDriver ?? '',
    },
    disk: s?.disk ? { ...s.disk, minFreeBytes: opts.limits.minFreeDiskBytes, low: opts.limits.minFreeDiskBytes > 0 && s.disk.freeBytes < opts.limits.minFreeDiskBytes } : null,
    images: (s?.images ?? [])
      .map((i) => ({ id: i.id, tags: i.tags, kind: i.kind, sizeBytes: i.sizeBytes, agents: i.agents, containers: i.containers, current: currentIds.has(i.id) }))
      .sort((a, b) => a.kind.localeCompare(b.kind) || (a.tags[0] ?? '~').localeCompare(b.tags[0] ?? '~')),
    containers: {
      running: own.filter((c) => c.state === 'running').length,
      stopped: own.filter((c) => c.state !== 'running').length,
      otherDaemons: (s?.containers.length ?? 0) - own.length,
      items: own
        .filter((c) => {
          const task = opts.tasks.get(c.taskId);
          return opts.viewer === null || (task !== undefined && mine(task.owner));
        })
        .map((c) => ({ name: c.name, taskId: c.taskId, state: c.state, createdAt: iso(c.createdMs), ...(c.finishedMs && c.state !== 'running' ? { finishedAt: iso(c.finishedMs) } : {}) })),
    },
    hygiene: {
      actions: visibleActions.map(({ kind, target, reason, sizeBytes }) => ({ kind, target, reason, ...(sizeBytes !== undefined ? { sizeBytes } : {}) })),
      hidden: plan.actions.length - visibleActions.length,
    },
    limits: { ...opts.limits },
  };
}

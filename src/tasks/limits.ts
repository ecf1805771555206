// Per-task resource limits while a task runs: CPU, memory and disk sampled every stats_interval
// (stats from the engine, disk with du over SSH), `stats` events, the disk budget's warning and the
// stop when it is exceeded.
import type { ResourceLimits } from '../config/index.js';
import { formatBytes } from '../config/index.js';
import type { ContainerHandle, ContainerRuntime } from '../containers/index.js';
import type { Logger } from '../log/index.js';
import type { Task } from './task.js';
import { Rounds } from './rounds.js';

/**
 * The task's disk use in bytes: its home (repositories, caches, the agent's files), /tmp and
 * /var/tmp, on the container's own filesystem (-x). What the user cannot read is not counted.
 */
export const DISK_USAGE_COMMAND = `du -skx "$HOME" /tmp /var/tmp 2>/dev/null | awk '{ s += $1 } END { print s * 1024 }'`;
const DU_TIMEOUT_MS = 20_000;
/** A sample is logged (a `stats` event) when it moved this much since the last one logged, or after STATS_KEEPALIVE_MS. */
const CPU_STEP = 10;
const BYTES_STEP = 0.1;
const STATS_KEEPALIVE_MS = 10 * 60_000;

export interface Sample {
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  diskBytes: number | null;
}

interface Watch {
  warned: boolean;
  stopping: boolean;
  last: Sample | null;
  lastAt: number;
}

/** Whether a sample differs enough from the last logged one to be logged itself. */
export function worthLogging(prev: Sample | null, next: Sample, sinceMs: number): boolean {
  if (!prev || sinceMs >= STATS_KEEPALIVE_MS) return true;
  const moved = (a: number, b: number) => Math.abs(a - b) > Math.max(a, b) * BYTES_STEP;
  return (
    Math.abs(prev.cpuPercent - next.cpuPercent) >= CPU_STEP ||
    moved(prev.memoryBytes, next.memoryBytes) ||
    (next.diskBytes !== null && moved(prev.diskBytes ?? 0, next.diskBytes))
  );
}

export interface ResourceMonitorDeps {
  runtime: () => ContainerRuntime;
  limits: ResourceLimits;
  logger: Logger;
  /** Tasks whose agent runs (their container runs). */
  live: () => Iterable<Task>;
  /** The daemon's own stop of a task, the reason on its record. */
  stop: (taskId: string, reason: string) => Promise<void>;
}

export class ResourceMonitor {
  private readonly watches = new Map<string, Watch>();
  private readonly sampling: Rounds;
  /** Listeners of each finished sampling round (tests wait on them, not on time). */
  readonly rounds: Set<() => void>;

  constructor(private readonly deps: ResourceMonitorDeps) {
    this.sampling = new Rounds(deps.limits.statsIntervalMs, () => this.round());
    this.rounds = this.sampling.done;
  }

  start(): void {
    this.sampling.start();
  }

  close(): Promise<void> {
    return this.sampling.close();
  }

  /** One round over every live task (never two at once: a slow du skips a beat rather than piling up). */
  tick(): Promise<void> {
    return this.sampling.tick();
  }

  private async round(): Promise<void> {
    const seen = new Set<string>();
    await Promise.all(
      [...this.deps.live()].map(async (task) => {
        const handle = task.handle;
        if (!handle || handle.state !== 'running' || !handle.sshPort) return;
        seen.add(task.id);
        try {
          await this.sample(task, handle);
        } catch (err) {
          this.deps.logger.debug({ task: task.id, err: (err as Error).message }, 'resource sample failed');
        }
      }),
    );
    for (const id of this.watches.keys()) if (!seen.has(id)) this.watches.delete(id);
  }

  private async sample(task: Task, handle: ContainerHandle): Promise<void> {
    const runtime = this.deps.runtime();
    const { diskBytes: budget, diskWarnPercent } = this.deps.limits;
    const [stats, disk] = await Promise.all([runtime.stats(handle), this.diskUse(runtime, handle)]);
    // The task may have stopped while we measured.
    if (task.handle?.id !== handle.id || task.handle.state !== 'running') return;
    let w = this.watches.get(task.id);
    if (!w) this.watches.set(task.id, (w = { warned: false, stopping: false, last: null, lastAt: 0 }));
    const sample: Sample = { cpuPercent: Math.round(stats.cpuPercent * 10) / 10, memoryBytes: stats.memoryBytes, memoryLimitBytes: stats.memoryLimitBytes, diskBytes: disk };
    const now = Date.now();
    if (worthLogging(w.last, sample, now - w.lastAt)) {
      w.last = sample;
      w.lastAt = now;
      task.record({
        type: 'caic_stats',
        cpuPercent: sample.cpuPercent,
        memoryBytes: sample.memoryBytes,
        memoryLimitBytes: this.deps.limits.memoryBytes > 0 ? sample.memoryLimitBytes : 0,
        ...(disk !== null ? { diskBytes: disk } : {}),
        diskLimitBytes: budget,
      });
    }
    if (budget <= 0 || disk === null || w.stopping) return;
    const used = `${formatBytes(disk)} of the ${formatBytes(budget)} disk budget`;
    if (disk > budget) {
      w.stopping = true;
      await this.deps.stop(task.id, `the task uses ${used} ([limits] disk): it was stopped. Its files stay; free space before reviving it, or raise the budget.`);
      return;
    }
    if (!w.warned && disk >= (budget * diskWarnPercent) / 100) {
      w.warned = true;
      task.record({ type: 'caic_log', phase: 'limits', message: `disk: the task uses ${used} (${Math.floor((disk / budget) * 100)}%); above the budget it is stopped` });
    }
  }

  private async diskUse(runtime: ContainerRuntime, handle: ContainerHandle): Promise<number | null> {
    const r = await runtime.exec(handle, DISK_USAGE_COMMAND, { timeoutMs: DU_TIMEOUT_MS, maxBuffer: 256 });
    const n = Number(r.stdout.trim());
    return r.stdout.trim() !== '' && Number.isSafeInteger(n) && n >= 0 ? n : null;
  }
}

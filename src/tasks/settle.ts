// Where a task comes to rest when something fails midway (an operation, provisioning, a lost relay,
// a restart of the daemon): one rule for every transition, so no failure leaves a task in a state
// that refuses stop, purge and input alike.
import type { TaskState } from '../api/index.js';
import type { Task } from './task.js';

/** States a task only passes through while an operation runs; it never rests in one. */
export const TRANSIENT: ReadonlySet<TaskState> = new Set<TaskState>(['pending', 'branching', 'provisioning', 'starting', 'stopping', 'purging']);

/**
 * The resting state that matches what is real now:
 * - no container, or no agent ever started in it → `failed` (purge is left; the container goes);
 * - a container that is not running → `stopped` (revive, purge);
 * - a running container → `waiting` (input reattaches to or resumes the agent; stop, purge).
 */
export function restingState(task: Task): TaskState {
  if (!task.handle || !task.transcript?.agentStarted) return 'failed';
  if (task.handle.state !== 'running') return 'stopped';
  return 'waiting';
}

/** An error as one line of text for the transcript. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// TaskWorkspace: a live task's container as its owner may step into it (terminals, previews).
import type { Duplex } from 'node:stream';
import type { ContainerHandle, ContainerRuntime, ExecOptions, ExecResult, LoopbackAddress, PtySize, ShellChannel } from '../containers/index.js';
import { LIVE_STATES, type TaskState } from '../api/index.js';

/**
 * What the edge gets to reach a running task's container: only over the task's own SSH connection
 * (nothing is ever published on a host port), and only while the task is live. `onEnd` fires once
 * when the task leaves the live states (stopped, purged, failed, its container gone), so terminals
 * and previews close with it.
 */
export interface TaskWorkspace {
  readonly taskId: string;
  shell(size: PtySize, term?: string): Promise<ShellChannel>;
  /** A TCP connection to a port on the container's loopback (IPv4 unless `host` says ::1). */
  forward(port: number, host?: LoopbackAddress): Promise<Duplex>;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Registers a listener for the task leaving the live states; returns its removal. */
  onEnd(fn: () => void): () => void;
}

/** Live enough to step into: the agent may be working, idle or asking; the container runs. */
export function workspaceOpen(state: TaskState): boolean {
  return LIVE_STATES.includes(state) || state === 'starting';
}

export function makeWorkspace(
  taskId: string,
  runtime: ContainerRuntime,
  handle: () => ContainerHandle | null,
  watch: (fn: (state: TaskState) => void) => () => void,
): TaskWorkspace {
  const current = (): ContainerHandle => {
    const h = handle();
    if (!h) throw new Error(`task ${taskId} has no container`);
    return h;
  };
  return {
    taskId,
    shell: (size, term) => runtime.shell(current(), size, term),
    forward: (port, host) => runtime.forwardTcp(current(), port, host),
    exec: (command, opts) => runtime.exec(current(), command, opts),
    onEnd: (fn) => {
      let done = false;
      const stop = watch((state) => {
        if (done || workspaceOpen(state)) return;
        done = true;
        stop();
        fn();
      });
      return () => {
        done = true;
        stop();
      };
    },
  };
}

// Small display helpers shared by the views: money, durations, task states, URL slugs.
import { canDo, LIVE_STATES, type TaskState } from '../../../src/api/tasks.js';
import type { DiffStatEntry } from '../../../src/api/index.js';
// Byte counts are written the way the daemon and `caic doctor` write them (one definition, no DOM, no Node).
export { formatBytes } from '../../../src/config/units.js';

export function formatCost(usd: number): string {
  if (!usd) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? ` ${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  return `${h}h${m % 60 ? ` ${m % 60}m` : ''}`;
}

export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

export type StateTone = 'busy' | 'attention' | 'idle' | 'done' | 'bad';

const TONES: Record<TaskState, StateTone> = {
  pending: 'busy',
  branching: 'busy',
  provisioning: 'busy',
  starting: 'busy',
  running: 'busy',
  waiting: 'attention',
  asking: 'attention',
  has_plan: 'attention',
  stopping: 'busy',
  stopped: 'idle',
  purging: 'busy',
  purged: 'done',
  failed: 'bad',
  crashed: 'bad',
};

const LABELS: Record<TaskState, string> = {
  pending: 'Pending',
  branching: 'Branching',
  provisioning: 'Starting container',
  starting: 'Starting agent',
  running: 'Running',
  waiting: 'Waiting for you',
  asking: 'Asking a question',
  has_plan: 'Plan ready',
  stopping: 'Stopping',
  stopped: 'Stopped',
  purging: 'Purging',
  purged: 'Purged',
  failed: 'Failed',
  crashed: 'Crashed',
};

export const stateTone = (s: TaskState): StateTone => TONES[s];
export const stateLabel = (s: TaskState): string => LABELS[s];

// Buttons appear only where the task service would accept the action (its rules live in src/api);
// a race still gets a clear 409 message from the server.
export { LIVE_STATES };
export const canStop = (s: TaskState): boolean => canDo('stop', s);
export const canRevive = (s: TaskState): boolean => canDo('revive', s);
export const canPurge = (s: TaskState): boolean => canDo('purge', s);
export const canRestart = (s: TaskState): boolean => canDo('restart', s);

export function diffTotals(files: readonly DiffStatEntry[]): { files: number; added: number; deleted: number } {
  let added = 0;
  let deleted = 0;
  for (const f of files) {
    added += f.added;
    deleted += f.deleted;
  }
  return { files: files.length, added, deleted };
}

/** URL-friendly slug of a title: `/task/@<id>+<slug>` as in caic's web UI. */
export function slugify(title: string): string {
  return (
    title
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^\w\s-]/g, '')
      .trim()
      .replace(/[\s_-]+/g, '-')
      .slice(0, 48)
      .replace(/-+$/, '') || 'task'
  );
}

/** Parses the app's paths: `/`, `/task/@<id>[+slug]`, `/task/@<id>[+slug]/diff`, `/settings`. */
export type Route = { page: 'home' } | { page: 'task'; id: string } | { page: 'diff'; id: string } | { page: 'settings' };

export function parseRoute(pathname: string): Route {
  const m = /^\/task\/@([0-9a-z]+)(?:\+[^/]*)?(\/diff)?\/?$/.exec(pathname);
  if (m) return m[2] ? { page: 'diff', id: m[1]! } : { page: 'task', id: m[1]! };
  if (pathname === '/settings') return { page: 'settings' };
  return { page: 'home' };
}

export function taskPath(id: string, title: string, diff = false): string {
  return `/task/@${id}+${slugify(title)}${diff ? '/diff' : ''}`;
}

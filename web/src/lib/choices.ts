// The composer's choices: which agent and model to offer first (one that can run, not one that just
// failed), and the preferences as they stand after a task started (no reload needed to see them).
import type { HarnessInfo, Preferences, Task } from '../../../src/api/index.js';

/** Agents whose newest task failed: not picked by default again until one of them succeeds. */
export function failedAgents(tasks: Iterable<Task>): Set<string> {
  const newest = new Map<string, Task>();
  for (const t of tasks) {
    const seen = newest.get(t.harness);
    if (!seen || t.createdAt > seen.createdAt) newest.set(t.harness, t);
  }
  return new Set([...newest.values()].filter((t) => t.state === 'failed').map((t) => t.harness));
}

export interface AgentChoice {
  harness: string;
  model: string;
}

/**
 * The agent the composer starts with for a repository: the one remembered for that repository,
 * else the last one used, else Claude Code, else any other; each only when it is ready and its
 * newest task did not fail. When no agent qualifies, the first ready one, else the first
 * remembered one (the composer then shows why it cannot run).
 */
export function pickAgent(harnesses: readonly HarnessInfo[], prefs: Preferences | null, repo: string, failed: ReadonlySet<string> = new Set()): AgentChoice | null {
  if (harnesses.length === 0) return null;
  const forRepo = prefs?.repositories.find((r) => r.name === repo);
  const order = [forRepo?.harness, prefs?.harness, 'claude', ...harnesses.map((h) => h.name)].filter((n): n is string => !!n && harnesses.some((h) => h.name === n));
  const ready = (n: string) => harnesses.find((h) => h.name === n)?.ready === true;
  const name = order.find((n) => ready(n) && !failed.has(n)) ?? order.find(ready) ?? order[0]!;
  const model = forRepo && forRepo.harness === name ? forRepo.model : (prefs?.models[name] ?? '');
  const known = harnesses.find((h) => h.name === name)!;
  // A remembered model the agent no longer offers falls back to its default.
  return { harness: name, model: model && !known.models.includes(model) ? '' : model };
}

export const EMPTY_PREFERENCES: Preferences = { repositories: [], harness: '', models: {}, settings: {} };

/**
 * The preferences after `task` was created: what the server records (for a task with a
 * repository), applied here at once so the next new task starts from them without a reload.
 */
export function rememberTask(prefs: Preferences | null, task: Pick<Task, 'repos' | 'harness' | 'model' | 'createdAt'>, maxRecent = 20): Preferences {
  const base = prefs ?? EMPTY_PREFERENCES;
  const repo = task.repos[0];
  if (!repo) return base;
  return {
    ...base,
    harness: task.harness,
    models: { ...base.models, [task.harness]: task.model },
    repositories: [
      { name: repo.name, baseBranch: repo.baseBranch, harness: task.harness, model: task.model, lastUsed: task.createdAt },
      ...base.repositories.filter((r) => r.name !== repo.name),
    ].slice(0, maxRecent),
  };
}

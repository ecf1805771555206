// Sync's host side: the diff a task shows once its container is gone (what a sync pushed), and the
// diff, safety scan and push of a commit fetched from the container (under the repository's lock).
import type { DiffStatEntry, SyncResp } from '../api/index.js';
import { parseNumstat } from '../containers/index.js';
import { TaskError } from './errors.js';
import { isCommitId } from './records.js';
import { git } from './repos.js';
import { scan } from './safety.js';
import { errorText } from './settle.js';
import type { Task } from './task.js';

/** The commit the task's branch started from (empty for a task without a repository). */
export function baseCommitOf(task: Task): string {
  return task.meta.repos[0]?.baseCommit ?? '';
}

/**
 * Without a running container, the host holds only what a sync pushed: the remote-tracking ref
 * of the task branch. That is the diff then, never the host's local branch (which still points
 * at the base and would claim "no changes"); with no such ref the answer says why.
 */
export async function syncedDiff(task: Task, info: { path: string; remote: string }, path: string | undefined): Promise<{ files: DiffStatEntry[]; diff: string }> {
  const repo = task.meta.repos[0]!;
  const base = baseCommitOf(task);
  const ref = info.remote && repo.branch ? `refs/remotes/${info.remote}/${repo.branch}` : '';
  const synced = ref && base ? (await git(info.path, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => '')).trim() : '';
  if (!synced) {
    const why = task.state === 'stopped' ? 'the task container is stopped (revive the task to see its changes)' : 'the task container is gone';
    throw new TaskError('CONFLICT', `${why}, and its branch was never synced: the host holds none of its changes`, { state: task.state });
  }
  const only = path ? ['--', path] : [];
  const [stat, patch] = await Promise.all([
    git(info.path, ['diff', '--numstat', '--no-renames', base, synced, ...only]),
    git(info.path, ['diff', '--no-color', '--no-renames', base, synced, ...only]),
  ]);
  return { files: parseNumstat(stat), diff: patch };
}

/** Diff, safety scan and push of a fetched commit (under the repository's lock). */
export async function pushFetched(task: Task, info: { path: string; remote: string }, sha: string, base: string, force: boolean): Promise<SyncResp> {
  const branch = task.meta.repos[0]!.branch;
  const done = (resp: SyncResp, pushed?: string): SyncResp => {
    task.record({ type: 'caic_sync', ...resp, ...(pushed ? { pushed } : {}) });
    // The branch as this sync committed it: where a restart from a later message goes back to.
    if (isCommitId(sha)) task.record({ type: 'caic_head', event: task.transcript!.lastEventId, commit: sha });
    return resp;
  };
  const diffStat = base ? parseNumstat(await git(info.path, ['diff', '--numstat', '--no-renames', base, sha])) : [];
  if (!base || sha === base || diffStat.length === 0) return done({ status: 'empty', branch, diffStat, safetyIssues: [], forge: null });
  const patch = await git(info.path, ['diff', '-U0', '--no-color', '--no-renames', base, sha]);
  const binaries = await Promise.all(
    diffStat.filter((d) => d.binary).map(async (d) => ({ path: d.path, bytes: Number((await git(info.path, ['cat-file', '-s', `${sha}:${d.path}`]).catch(() => '0')).trim()) })),
  );
  const issues = scan(patch, binaries, task.secretValues);
  if (issues.length && !force) return done({ status: 'blocked', branch, diffStat, safetyIssues: issues, forge: null });
  // The branch may be shared (a task continuing someone's branch, a PR others push to): the push
  // replaces only what caic last saw there (the commit it fetched or pushed), never commits
  // pushed meanwhile. A branch caic has not pushed yet must not exist unless the task continues it.
  const t = task.transcript!;
  const expected = t.pushed || (t.continued ? base : '');
  // A log from before pushes were recorded: the remote-tracking ref is what caic last saw.
  const lease = expected || !t.syncedBefore ? `--force-with-lease=refs/heads/${branch}:${expected}` : `--force-with-lease=refs/heads/${branch}`;
  try {
    await git(info.path, ['push', '--quiet', '--no-verify', lease, info.remote, `${sha}:refs/heads/${branch}`], 5 * 60_000);
  } catch (err) {
    if (/stale info/i.test(errorText(err))) {
      throw new TaskError('CONFLICT', `${branch} on ${info.remote} has commits caic has not seen (someone pushed to it since ${expected ? expected.slice(0, 10) : 'the task started'}); nothing was pushed`, { branch });
    }
    // The remote refused (no permission, a protected branch, unreachable): its reason, without
    // credentials a remote URL may carry.
    throw new TaskError('CONFLICT', `pushing ${branch} to ${info.remote} failed: ${errorText(err).replace(/\/\/[^/@\s]*@/g, '//')}`, { branch });
  }
  const resp = done({ status: 'synced', branch, diffStat, safetyIssues: issues, forge: null }, sha);
  task.record({ type: 'caic_diff_stat', files: diffStat });
  return resp;
}

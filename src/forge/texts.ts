// What caic writes on a forge and to the agent: the pull request body and the CI failure summary.
import type { DiffStatEntry, TaskForge } from '../api/index.js';
import type { IssueRef } from '../tasks/index.js';
import type { CIFailure } from './types.js';

/** GitHub refuses bodies over 65,536 characters; the agent's result is cut well below. */
const MAX_RESULT = 20_000;
const MAX_STAT_FILES = 50;
/** Failures and log lines the agent gets: enough to fix, bounded so one broken job cannot flood it. */
const MAX_FAILURES = 10;
const MAX_LOG_LINES = 200;
const MAX_LOG_CHARS = 16_000;

/** The agent's last result, the diff stat, "Created by caic", and `Fixes #N` for a task from an issue. */
export function prBody(result: string, diffStat: DiffStatEntry[], issue: IssueRef | null): string {
  const parts: string[] = [];
  const r = result.trim();
  if (r) parts.push(r.length > MAX_RESULT ? `${r.slice(0, MAX_RESULT)}\n\n… (cut)` : r);
  if (diffStat.length) {
    const added = diffStat.reduce((n, d) => n + d.added, 0);
    const deleted = diffStat.reduce((n, d) => n + d.deleted, 0);
    const lines = diffStat.slice(0, MAX_STAT_FILES).map((d) => `${d.binary ? 'bin' : `+${d.added} -${d.deleted}`}\t${d.path}`);
    if (diffStat.length > MAX_STAT_FILES) lines.push(`… and ${diffStat.length - MAX_STAT_FILES} more files`);
    parts.push(`${diffStat.length} file${diffStat.length === 1 ? '' : 's'} changed, +${added} -${deleted}\n\n\`\`\`\n${lines.join('\n')}\n\`\`\``);
  }
  if (issue) parts.push(`Fixes #${issue.number}`);
  parts.push('Created by caic');
  return parts.join('\n\n');
}

function tail(log: string): string {
  let lines = log.split('\n');
  if (lines.length > MAX_LOG_LINES) lines = lines.slice(-MAX_LOG_LINES);
  let text = lines.join('\n').trimEnd();
  if (text.length > MAX_LOG_CHARS) text = text.slice(-MAX_LOG_CHARS);
  // A log line of backticks must not end the fence early.
  return text.replaceAll('```', "'''");
}

/** The summary the agent gets (it starts "CI failed", which the fake agent recognises). */
export function ciSummary(forge: TaskForge, sha: string, failures: CIFailure[], autoFix: boolean): string {
  const failing = failures.length ? failures : (forge.ci?.checks ?? []).filter((c) => c.state === 'failure').map((c) => ({ name: c.name, url: c.url, log: '' }));
  const out = [`CI failed on ${sha.slice(0, 10)} for pull request #${forge.number} (${forge.url}).`, ''];
  if (!failing.length) out.push('The forge reported a failure without naming a check.');
  for (const f of failing.slice(0, MAX_FAILURES)) {
    out.push(`- ${f.name}${f.url ? ` (${f.url})` : ''}`);
    const log = tail(f.log);
    if (log) out.push('', '```', log, '```', '');
  }
  if (failing.length > MAX_FAILURES) out.push(`… and ${failing.length - MAX_FAILURES} more failing checks`);
  out.push('', autoFix ? 'Fix what makes these checks fail. When your turn ends, caic pushes your fix to the pull request and watches CI again.' : 'Fix what makes these checks fail, then sync the task again.');
  return out.join('\n');
}

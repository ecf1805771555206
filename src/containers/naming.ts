// Container names: `caic-<repo>-<branch>`, sanitised to what Docker accepts.

/** Keeps [A-Za-z0-9_.-], turns separators into '-', collapses runs, trims; never empty. */
export function sanitizeName(value: string): string {
  const cleaned = value
    .replace(/[/@#:~\s]+/g, '-')
    .replace(/[^A-Za-z0-9_.-]/g, '')
    .replace(/[-_.]{2,}/g, '-')
    .replace(/^[-_.]+|[-_.]+$/g, '');
  return cleaned || 'unnamed';
}

const MAX_NAME = 100;

/** The base name of a task's container; the caller adds a suffix when it is taken. */
export function containerName(repo: string | undefined, branch: string | undefined, taskId: string): string {
  const parts = repo ? [sanitizeName(repo), sanitizeName(branch ?? taskId)] : ['task', sanitizeName(taskId)];
  return `caic-${parts.join('-')}`.slice(0, MAX_NAME).replace(/[-_.]+$/, '');
}

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

/**
 * The directory under /home/user/src that holds a repository in its container: the last component
 * of its name, as it is when Docker-safe characters make it up (every name before names could hold
 * others), else sanitised ("My Project" → "My-Project").
 */
export function repoDirName(repoName: string): string {
  const last = repoName.split('/').pop() ?? '';
  return /^[A-Za-z0-9._-]+$/.test(last) && last !== '.' && last !== '..' ? last : sanitizeName(last);
}

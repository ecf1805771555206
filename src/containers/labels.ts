// The Docker labels a container carries: how the daemon finds it again and knows what it is.
import type { RepoLabel } from './types.js';

export const LABEL = {
  task: 'caic',
  harness: 'caic.harness',
  repos: 'caic.repos',
  sudo: 'caic.sudo',
  sudoPassword: 'caic.sudo-password',
  hostKey: 'caic.host-key',
} as const;

export interface LabelSet {
  taskId: string;
  harness: string;
  repos: RepoLabel[];
  sudo: boolean;
  sudoPassword?: string;
  hostKeyFingerprint: string;
}

export function encodeLabels(l: LabelSet): Record<string, string> {
  const labels: Record<string, string> = {
    [LABEL.task]: l.taskId,
    [LABEL.harness]: l.harness,
    [LABEL.repos]: Buffer.from(JSON.stringify(l.repos)).toString('base64'),
    [LABEL.sudo]: l.sudo ? '1' : '0',
    [LABEL.hostKey]: l.hostKeyFingerprint,
  };
  if (l.sudo && l.sudoPassword) labels[LABEL.sudoPassword] = l.sudoPassword;
  return labels;
}

function decodeRepos(value: string | undefined): RepoLabel[] {
  if (!value) return [];
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.flatMap((r: unknown) => {
      const o = r as Partial<RepoLabel>;
      return typeof o?.name === 'string' && typeof o.branch === 'string'
        ? [{ name: o.name, branch: o.branch, baseBranch: typeof o.baseBranch === 'string' ? o.baseBranch : '' }]
        : [];
    });
  } catch {
    return [];
  }
}

/** Null when the container is not one of ours (no `caic` label or no host key fingerprint). */
export function decodeLabels(labels: Record<string, string> | undefined): LabelSet | null {
  const taskId = labels?.[LABEL.task];
  const hostKeyFingerprint = labels?.[LABEL.hostKey];
  if (!labels || !taskId || !hostKeyFingerprint) return null;
  const sudo = labels[LABEL.sudo] === '1';
  const password = labels[LABEL.sudoPassword];
  return {
    taskId,
    harness: labels[LABEL.harness] ?? '',
    repos: decodeRepos(labels[LABEL.repos]),
    sudo,
    ...(sudo && password ? { sudoPassword: password } : {}),
    hostKeyFingerprint,
  };
}

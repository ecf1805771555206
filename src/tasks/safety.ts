// The pre-push safety scan: secrets in added lines, large binaries. A safety net, not a boundary.
import type { SafetyIssue } from '../api/index.js';

export const LARGE_BINARY_BYTES = 500 * 1024;

const PATTERNS: { name: string; re: RegExp }[] = [
  { name: 'AWS access key', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { name: 'GitHub token', re: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b/ },
  { name: 'private key', re: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/ },
  { name: 'API key', re: /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}\b/ },
  {
    name: 'hard-coded credential',
    re: /\b(?:password|passwd|secret|token|api[_-]?key)\s*[:=]\s*["'][^"'\s]{8,}["']/i,
  },
];

/** Added lines per file from a `git diff -U0` patch. */
export function addedLines(patch: string): Map<string, string[]> {
  const files = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of patch.split('\n')) {
    if (line.startsWith('+++ ')) {
      const path = line.slice(4).replace(/^b\//, '');
      current = path === '/dev/null' ? null : (files.get(path) ?? files.set(path, []).get(path)!);
    } else if (line.startsWith('diff --git ')) current = null;
    else if (current && line.startsWith('+')) current.push(line.slice(1));
  }
  return files;
}

/**
 * Finds secrets in added lines (one finding per file and kind) and binaries over the size limit.
 * `values`: the task's own secrets (from the vault) — an added line holding one is a finding,
 * named by the variable, never quoting the value.
 */
export function scan(patch: string, binaries: { path: string; bytes: number }[], values: Readonly<Record<string, string>> = {}): SafetyIssue[] {
  const issues: SafetyIssue[] = [];
  const own = Object.entries(values).filter(([, v]) => v.length > 0);
  for (const [file, lines] of addedLines(patch)) {
    const found = new Set<string>();
    for (const line of lines) {
      for (const [name, v] of own) {
        if (!found.has(name) && line.includes(v)) {
          found.add(name);
          issues.push({ file, kind: 'secret', detail: `the value of the task's secret ${name} in an added line` });
        }
      }
      for (const p of PATTERNS) {
        if (!found.has(p.name) && p.re.test(line)) {
          found.add(p.name);
          issues.push({ file, kind: 'secret', detail: `${p.name} in an added line` });
        }
      }
    }
  }
  for (const b of binaries) {
    if (b.bytes > LARGE_BINARY_BYTES) issues.push({ file: b.path, kind: 'large_binary', detail: `${Math.round(b.bytes / 1024)} KiB binary file` });
  }
  return issues;
}

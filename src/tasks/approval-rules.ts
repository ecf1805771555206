// Tool-approval rules: which rule decides a tool call (first match wins), by tool-name and argument globs.
import { compileGlob, type Glob, type PermissionRule } from '../api/index.js';

/** Argument names that carry a call's main argument, by kind, across the agents' tool vocabularies. */
const MAIN_ARGS = ['command', 'cmd', 'file_path', 'notebook_path', 'path', 'filePath', 'url', 'uri', 'pattern', 'query'];

/**
 * The call's main argument a rule's pattern is matched against: the command of a shell tool, the
 * path of a file tool, the URL of a web tool; '' when it has none. An argv array (Codex) is joined.
 */
export function mainArgument(input: unknown): string {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return '';
  const o = input as Record<string, unknown>;
  for (const k of MAIN_ARGS) {
    const v = o[k];
    if (typeof v === 'string' && v) return v;
    if (Array.isArray(v) && v.length && v.every((x) => typeof x === 'string')) return v.join(' ');
  }
  return '';
}

/** A path pattern is a path glob (`*` stays within a directory); a pattern without a slash matches the file's name anywhere. */
function isPathArgument(input: unknown): boolean {
  const o = (input ?? {}) as Record<string, unknown>;
  return ['file_path', 'notebook_path', 'path', 'filePath'].some((k) => typeof o[k] === 'string' && o[k]) && !(typeof o.command === 'string' || Array.isArray(o.command));
}

/**
 * A call's argument (or tool name) longer than this is matched by no pattern, so the call is asked:
 * matching costs time linear in it, and a deny rule must not be outrun by padding.
 */
export const MAX_MATCHED_CHARS = 16 * 1024;

const cache = new Map<string, Glob>();

/** A compiled glob; `words`: `*` crosses slashes too (a command line or URL is not a path). */
function glob(pattern: string, words: boolean): Glob {
  const key = `${words ? 'w' : 'p'}\0${pattern}`;
  let m = cache.get(key);
  if (!m) {
    m = words ? compileGlob(pattern, { path: false }) : compileGlob(pattern, { path: true, basename: !pattern.includes('/') });
    if (cache.size > 10_000) cache.clear();
    cache.set(key, m);
  }
  return m;
}

/** The first rule that matches a call of `tool` with `input`, or null. */
export function matchRule(rules: readonly PermissionRule[], tool: string, input: unknown): PermissionRule | null {
  let arg: string | undefined;
  let pathy = false;
  if (tool.length > MAX_MATCHED_CHARS) return null;
  for (const r of rules) {
    if (!glob(r.tool, true)(tool)) continue;
    if (r.pattern === undefined) return r;
    if (arg === undefined) {
      arg = mainArgument(input);
      pathy = isPathArgument(input);
    }
    if (arg && arg.length <= MAX_MATCHED_CHARS && glob(r.pattern, !pathy)(arg)) return r;
  }
  return null;
}

/** A rule as people write it: `Bash(git push*) → ask`. */
export function describeRule(r: PermissionRule): string {
  return `${r.tool}${r.pattern !== undefined ? `(${r.pattern})` : ''} → ${r.action}`;
}

// Redacted summaries of tool arguments for the audit log: identifiers kept, free text reduced to its size.
/** Arguments whose values identify what was acted on and carry no secret. */
const KEPT = new Set(['task', 'limit', 'cursor', 'harness', 'model', 'repo', 'baseBranch', 'force', 'path', 'name', 'requestId', 'decision']);
/** Lists of identifiers (a task's secret names): kept when every item is a short string. */
const KEPT_LISTS = new Set(['secrets']);

/** A clone URL without credentials, query or fragment (they can carry tokens). */
function safeUrl(value: string): string {
  try {
    const u = new URL(value);
    return `${u.protocol}//${u.host}${u.pathname}`.slice(0, 200);
  } catch {
    // scp-like git@host:path: keep the host and path, drop anything before an @.
    const at = value.lastIndexOf('@');
    return `…${value.slice(at + 1)}`.slice(0, 200);
  }
}

export function summarizeArgs(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined) continue;
    if (k === 'url' && typeof v === 'string') out[k] = safeUrl(v);
    else if (KEPT.has(k) && (typeof v !== 'string' || v.length <= 200)) out[k] = v;
    else if (KEPT_LISTS.has(k) && Array.isArray(v) && v.length <= 64 && v.every((x) => typeof x === 'string' && x.length <= 64)) out[k] = v;
    else if (typeof v === 'string') out[k] = `<${v.length} chars>`;
    else out[k] = `<${typeof v}>`;
  }
  return out;
}

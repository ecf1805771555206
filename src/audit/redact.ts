// What may enter an audit record: no token, code, secret or credential, whatever the caller passes.
const SECRET_KEY = /token|secret|password|passwd|credential|authorization|cookie|code_verifier|^code$|assertion|private|api[_-]?key/i;
/** Looks like a bearer credential: a JWT, or a long opaque random string. */
const SECRET_VALUE = /^(?:ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|[A-Za-z0-9_-]{40,}|(?:gh[opsu]|github_pat|glpat|sk)[-_][A-Za-z0-9_-]{8,}.*)$/;
/** Identifiers caic itself hands out (grant, client, user, task ids): long and random, but not credentials. */
const ID_KEY = /^(?:grant|grantId|client|clientId|user|userId|task|taskId|id)$/;
const MAX_STRING = 200;
const MAX_DEPTH = 4;

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    if (SECRET_VALUE.test(value)) return '[redacted]';
    return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_KEY.test(k)) out[k] = '[redacted]';
    else if (ID_KEY.test(k) && typeof v === 'string' && v.length <= 512 && !/^ey/.test(v)) out[k] = v;
    else out[k] = redactValue(v, depth + 1);
  }
  return out;
}

/**
 * A copy of `record` fit for the audit log: values under secret-looking keys and values that look
 * like credentials are replaced by `[redacted]`, long strings cut, deep structures summarised.
 * Identifiers caic chooses itself (grant ids, client ids, user ids) are short and pass through.
 */
export function redactRecord(record: Record<string, unknown>): Record<string, unknown> {
  const out = redactValue(record, 0) as Record<string, unknown>;
  // The chain's own fields are set by the log, never by the caller.
  delete out.seq;
  delete out.prev;
  delete out.ts;
  return out;
}

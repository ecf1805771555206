// What both forge clients share: a fetch with a deadline per call, and forge errors that never carry a token.
import { ForgeError } from './types.js';

/** Deadline of one forge API call (a log download included). */
export const FORGE_TIMEOUT_MS = 30_000;

/** `fetch` that gives up after `timeoutMs`, also when the caller passed its own signal. */
export function timedFetch(timeoutMs: number, base: typeof fetch = fetch): typeof fetch {
  return (input, init) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    return base(input, { ...init, signal });
  };
}

/** Removes every occurrence of the secrets from a text (a forge may echo what it was sent). */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('****');
  return out;
}

/** One line from whatever a forge answered (JSON message, array of messages, text), bounded. */
export function forgeMessage(data: unknown): string {
  if (typeof data === 'string') return data.slice(0, 300);
  if (data && typeof data === 'object') {
    const d = data as { message?: unknown; error?: unknown; errors?: unknown };
    const parts: string[] = [];
    const m = d.message ?? d.error;
    if (typeof m === 'string') parts.push(m);
    else if (Array.isArray(m)) parts.push(m.filter((x) => typeof x === 'string').join('; '));
    else if (m && typeof m === 'object') parts.push(JSON.stringify(m));
    if (Array.isArray(d.errors)) {
      for (const e of d.errors) {
        if (typeof e === 'string') parts.push(e);
        else if (e && typeof e === 'object') {
          const x = e as { message?: unknown; code?: unknown; field?: unknown };
          parts.push(typeof x.message === 'string' ? x.message : [x.code, x.field].filter((v) => typeof v === 'string').join(' '));
        }
      }
    }
    return parts.filter(Boolean).join(': ').slice(0, 300);
  }
  return '';
}

export function forgeError(what: string, status: number, detail: string, secrets: readonly string[]): ForgeError {
  const text = status === 0 ? `${what}: ${detail || 'the forge could not be reached'}` : `${what}: ${status}${detail ? ` ${detail}` : ''}`;
  return new ForgeError(scrub(text, secrets), status);
}

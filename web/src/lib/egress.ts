// Network egress in the UI, pure: the allowlist entry of a blocked destination, the composer's
// choice as the request's field, and the entry the API would refuse.
import { egressEntryProblem, type EgressBlocked, type EgressMode } from '../../../src/api/index.js';

export interface EgressChoice {
  /** '': the server's default ([egress] of its config, per repository). */
  mode: '' | EgressMode;
  text: string;
}

export const defaultEgressChoice: EgressChoice = { mode: '', text: '' };

const entries = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((e) => e.trim())
    .filter(Boolean);

/** The first entry the API would refuse, with why; '' when all pass. */
export function egressProblem(c: EgressChoice): string {
  if (c.mode !== 'allowlist') return '';
  for (const e of entries(c.text)) {
    const p = egressEntryProblem(e);
    if (p) return `"${e}" ${p}`;
  }
  return '';
}

/** The request's `egress` field (absent: the server's default). */
export function egressField(c: EgressChoice): { egress?: { mode: EgressMode; allow?: string[] } } {
  if (!c.mode) return {};
  const list = entries(c.text);
  return { egress: { mode: c.mode, ...(c.mode === 'allowlist' && list.length ? { allow: list } : {}) } };
}

/** The allowlist entry that lets a blocked destination through (a lookup, port 0, and 80/443: the name alone). */
export function allowEntry(b: Pick<EgressBlocked, 'host' | 'port'>): string {
  if (b.port === 0 || b.port === 80 || b.port === 443) return b.host;
  return `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`;
}

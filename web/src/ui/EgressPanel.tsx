// The task view's "Blocked connections": what the task's egress policy refused (host, port, count),
// each with its allowlist entry to copy, so a person widens the list deliberately.
import { useState } from 'react';
import type { EgressBlocked, EgressPolicy } from '../../../src/api/index.js';
import { allowEntry } from '../lib/egress';

export function EgressPanel({ policy, blocked }: { policy: EgressPolicy; blocked: readonly EgressBlocked[] | null }) {
  const [copied, setCopied] = useState('');
  if (policy.mode === 'open') return null;
  const rows = [...(blocked ?? [])].sort((a, b) => b.lastAt.localeCompare(a.lastAt));
  const copy = (entry: string) => {
    void navigator.clipboard?.writeText(entry).then(() => setCopied(entry), () => setCopied(''));
  };
  return (
    <details className="egress-panel" data-testid="egress-panel" open={rows.length > 0}>
      <summary>
        Network: {policy.mode === 'none' ? 'no egress' : `allowlist (${policy.allow.length})`} · Blocked connections{rows.length ? ` (${rows.reduce((n, r) => n + r.count, 0)})` : ''}
      </summary>
      {policy.mode === 'allowlist' && <p className="muted small">Allowed: {policy.allow.join(', ') || 'nothing'}</p>}
      {rows.length === 0 ? (
        <p className="muted small">Nothing blocked so far.</p>
      ) : (
        <table className="small">
          <thead>
            <tr>
              <th>Host</th>
              <th>Port</th>
              <th>Count</th>
              <th>Last</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const entry = allowEntry(r);
              return (
                <tr key={`${r.host}:${r.port}`}>
                  <td>{r.host}</td>
                  <td>{r.port === 0 ? 'lookup' : r.port}</td>
                  <td>{r.count}</td>
                  <td title={r.lastAt}>{new Date(r.lastAt).toLocaleTimeString()}</td>
                  <td>
                    <button type="button" className="small" title={`Copy the allowlist entry "${entry}"`} onClick={() => copy(entry)}>
                      {copied === entry ? 'Copied' : `Copy ${entry}`}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </details>
  );
}

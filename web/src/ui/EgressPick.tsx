// The composer's network choice for a new task: the configured default, open, an allowlist (entries
// typed one per line or comma-separated, checked as the API checks them) or none.
import { egressProblem, type EgressChoice } from '../lib/egress';

export { defaultEgressChoice, egressField, egressProblem, type EgressChoice } from '../lib/egress';

export function EgressPick({ value, onChange }: { value: EgressChoice; onChange: (c: EgressChoice) => void }) {
  const problem = egressProblem(value);
  return (
    <details className="egress-pick">
      <summary>Network{value.mode ? `: ${value.mode}` : ''}</summary>
      <div className="stack" role="group" aria-label="Network egress for this task">
        <select aria-label="Network egress" value={value.mode} onChange={(e) => onChange({ ...value, mode: e.target.value as EgressChoice['mode'] })}>
          <option value="">server default</option>
          <option value="open">open</option>
          <option value="allowlist">allowlist</option>
          <option value="none">none</option>
        </select>
        {value.mode === 'allowlist' && (
          <textarea
            aria-label="Allowed hosts"
            rows={3}
            placeholder={'@registries @forge @model\napi.example.com *.example.org 10.0.0.0/8:8080\n(empty: the server’s list)'}
            value={value.text}
            onChange={(e) => onChange({ ...value, text: e.target.value })}
          />
        )}
        {problem && <span className="bad small">{problem}</span>}
      </div>
    </details>
  );
}

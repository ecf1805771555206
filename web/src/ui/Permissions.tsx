// The new-task form's tool approval choice: the server's default, bypass, ask or rules, with a
// compact rules editor (tool, argument pattern, action; first match wins) for `rules`.
import { useState } from 'react';
import type { PermissionRule, Preferences } from '../../../src/api/index.js';
import { NEW_RULE, PERMISSION_MODES, PERMISSIONS_SETTING, permissionsReq, savedChoice, type PermissionChoice } from '../lib/approvals';
import { api, errorMessage } from './client';
import './approval.css';

/** Rules a new `rules` choice starts with: the read-only tools run unasked, everything else asks. */
const STARTER_RULES: PermissionRule[] = [
  { tool: 'Read', action: 'allow' },
  { tool: 'Grep', action: 'allow' },
  { tool: 'Glob', action: 'allow' },
];

export function PermissionPicker({ value, onChange, disabled = false }: { value: PermissionChoice; onChange: (v: PermissionChoice) => void; disabled?: boolean }) {
  const rules = value.mode === 'default' ? [] : value.rules;
  const setRules = (next: PermissionRule[]) => value.mode !== 'default' && onChange({ mode: value.mode, rules: next });
  const setRule = (i: number, patch: Partial<PermissionRule>) => setRules(rules.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const hint = PERMISSION_MODES.find((m) => m.mode === value.mode)?.hint ?? 'As the server is configured ([approval] mode).';
  return (
    <>
      <label className="field" title={hint}>
        <span>Tool approval</span>
        <select
          aria-label="Tool approval"
          data-testid="permission-mode"
          value={value.mode}
          disabled={disabled}
          onChange={(e) => {
            const mode = e.target.value as PermissionChoice['mode'];
            if (mode === 'default') onChange({ mode });
            else onChange({ mode, rules: mode === 'rules' && rules.length === 0 ? STARTER_RULES : rules });
          }}
        >
          <option value="default">default</option>
          {PERMISSION_MODES.map((m) => (
            <option key={m.mode} value={m.mode}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      {value.mode === 'rules' && (
        <fieldset className="permission-pick" disabled={disabled} data-testid="permission-rules">
          <legend className="muted small">{hint}</legend>
          <ol className="permission-rules plain">
            {rules.map((r, i) => (
              <li key={i} className="permission-rule" data-testid="permission-rule">
                <input className="rule-tool" aria-label={`Rule ${i + 1}: tool`} placeholder="Tool (Bash, mcp__*)" maxLength={200} value={r.tool} onChange={(e) => setRule(i, { tool: e.target.value })} />
                <input
                  className="rule-pattern"
                  aria-label={`Rule ${i + 1}: argument pattern`}
                  placeholder="Pattern (git push*), empty: any"
                  maxLength={1000}
                  value={r.pattern ?? ''}
                  onChange={(e) => setRule(i, { pattern: e.target.value })}
                />
                <select aria-label={`Rule ${i + 1}: action`} value={r.action} onChange={(e) => setRule(i, { action: e.target.value as PermissionRule['action'] })}>
                  <option value="allow">allow</option>
                  <option value="ask">ask</option>
                  <option value="deny">deny</option>
                </select>
                <button type="button" className="small" aria-label={`Remove rule ${i + 1}`} title="Remove" onClick={() => setRules(rules.filter((_, j) => j !== i))}>
                  ×
                </button>
              </li>
            ))}
          </ol>
          <div className="row">
            <button type="button" className="small" onClick={() => setRules([...rules, { ...NEW_RULE }])}>
              + Add rule
            </button>
          </div>
        </fieldset>
      )}
    </>
  );
}

/** Settings → Tool approval: the choice the new-task form starts with, kept in the user's preferences. */
export function ApprovalSettings({ preferences, onPreferences }: { preferences: Preferences | null; onPreferences: (p: Preferences) => void }) {
  const [choice, setChoice] = useState<PermissionChoice | null>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const shown = choice ?? savedChoice(preferences?.settings);
  const save = async () => {
    const req = permissionsReq(shown);
    if (req.problem) return setStatus(req.problem);
    setBusy(true);
    try {
      const rest = Object.fromEntries(Object.entries(preferences?.settings ?? {}).filter(([k]) => k !== PERMISSIONS_SETTING));
      onPreferences(await api('setPreferences', { body: { settings: req.permissions ? { ...rest, [PERMISSIONS_SETTING]: req.permissions } : rest } }));
      setChoice(null);
      setStatus('Saved: new tasks start with this choice.');
    } catch (err) {
      setStatus(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="stack" data-testid="approval-settings">
      <p className="muted small">
        What the new-task form starts with. <em>default</em> is the server&apos;s <code>[approval] mode</code>; a request nobody answers is denied after <code>[approval] timeout</code>.
      </p>
      <div className="composer-opts">
        <PermissionPicker
          value={shown}
          disabled={!preferences || busy}
          onChange={(v) => {
            setChoice(v);
            setStatus('');
          }}
        />
        <button type="button" className="primary" disabled={!preferences || busy || choice === null} onClick={() => void save()}>
          Save
        </button>
      </div>
      {status && (
        <span className="muted small" role="status">
          {status}
        </span>
      )}
    </div>
  );
}

// Settings → Secrets: the caller's vault: names and dates, set or rotate a value (never shown back), delete.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { SecretMeta } from '../../../src/api/index.js';
import { api, errorMessage } from './client';
import { Banner } from './Banner';

/** The caller's secret names (for the composer's picker and this panel); reload() after a change. */
export function useSecretNames(): { secrets: SecretMeta[]; reload: () => void; error: string } {
  const [secrets, setSecrets] = useState<SecretMeta[]>([]);
  const [error, setError] = useState('');
  const reload = useCallback(() => {
    api('listSecrets')
      .then((r) => {
        setSecrets(r.secrets);
        setError('');
      })
      .catch((err: unknown) => setError(errorMessage(err)));
  }, []);
  useEffect(reload, [reload]);
  return { secrets, reload, error };
}

export function SecretsSettings() {
  const { secrets, reload, error: loadError } = useSecretNames();
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [status, setStatus] = useState('');
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const rotated = secrets.some((s) => s.name === name);
      await api('setSecret', { params: { name }, body: { value } });
      // The value leaves the page's state at once: it is never shown again.
      setValue('');
      setName('');
      setStatus(rotated ? `${name} rotated.` : `${name} stored.`);
      reload();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const remove = async (n: string) => {
    if (!window.confirm(`Delete the secret ${n}? Running tasks keep the value they were given.`)) return;
    setError('');
    try {
      await api('deleteSecret', { params: { name: n } });
      setStatus(`${n} deleted.`);
      reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <div className="stack" data-testid="secrets-settings">
      <p className="muted">
        Stored encrypted on this server. A task you start with a secret finds it in <code>~/.env</code>; wherever its agent prints the value, caic shows{' '}
        <code>****</code> and its last 4 characters instead. Values are never shown again.
      </p>
      {(error || loadError) && <Banner tone="bad">{error || loadError}</Banner>}
      {status && <p className="muted" role="status">{status}</p>}
      {secrets.length > 0 ? (
        <ul className="plain" aria-label="Your secrets">
          {secrets.map((s) => (
            <li key={s.name} className="row">
              <code>{s.name}</code>
              <span className="muted">set {new Date(s.updatedAt).toLocaleString()}</span>
              <button type="button" className="link" onClick={() => setName(s.name)}>
                Rotate
              </button>
              <button type="button" className="link danger" aria-label={`Delete ${s.name}`} onClick={() => void remove(s.name)}>
                Delete
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No secrets yet.</p>
      )}
      <form className="row wrap" onSubmit={(e) => void save(e)} aria-label="Store a secret">
        <input aria-label="Secret name" placeholder="NAME (e.g. NPM_TOKEN)" value={name} onChange={(e) => setName(e.target.value.toUpperCase())} pattern="[A-Z_][A-Z0-9_]{0,63}" required />
        <input aria-label="Secret value" type="password" autoComplete="off" placeholder="value" value={value} onChange={(e) => setValue(e.target.value)} minLength={8} required />
        <button type="submit" disabled={busy || !name || value.length < 8}>
          {secrets.some((s) => s.name === name) ? 'Rotate' : 'Store'}
        </button>
      </form>
    </div>
  );
}

// Settings: browser notifications, the remembered repositories/agents (from the preferences API)
// and the server's capabilities.
import { useState } from 'react';
import type { Preferences, ServerConfigResp, UserResp } from '../../../src/api/index.js';
import { api, errorMessage } from './client';
import { navigate } from './router';
import { Banner } from './Banner';

export const NOTIFY_KEY = 'caic.notify';

export function Settings({ preferences, config, user, onPreferences }: { preferences: Preferences | null; config: ServerConfigResp; user: UserResp | null; onPreferences: (p: Preferences) => void }) {
  const [notify, setNotify] = useState(() => localStorage.getItem(NOTIFY_KEY) === '1' && typeof Notification !== 'undefined' && Notification.permission === 'granted');
  const [error, setError] = useState('');
  const toggleNotify = async (on: boolean) => {
    if (on && typeof Notification !== 'undefined' && Notification.permission !== 'granted') {
      const p = await Notification.requestPermission();
      if (p !== 'granted') {
        setError('The browser refused notifications for this site.');
        return;
      }
    }
    localStorage.setItem(NOTIFY_KEY, on ? '1' : '0');
    setNotify(on);
  };
  const forget = async () => {
    try {
      onPreferences(await api('setPreferences', { body: { settings: {} } }));
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <section className="settings" aria-label="Settings">
      <header className="task-head">
        <div className="task-title-row">
          <button type="button" className="icon back" aria-label="Back" onClick={() => navigate('/')}>
            ←
          </button>
          <h1 className="task-title">Settings</h1>
        </div>
      </header>
      <div className="stack pad">
        {error && (
          <Banner tone="bad">
            {error}
          </Banner>
        )}
        <label className="check">
          <input type="checkbox" checked={notify} disabled={typeof Notification === 'undefined'} onChange={(e) => void toggleNotify(e.target.checked)} /> Notify me when a task waits for me
          (needs HTTPS or localhost)
        </label>
        <h2>Recent repositories</h2>
        {(preferences?.repositories.length ?? 0) === 0 ? (
          <p className="muted">None yet: the agent and model you pick for a repository are remembered here.</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>Repository</th>
                <th>Base branch</th>
                <th>Agent</th>
                <th>Model</th>
              </tr>
            </thead>
            <tbody>
              {preferences!.repositories.map((r) => (
                <tr key={r.name}>
                  <td>{r.name}</td>
                  <td>{r.baseBranch}</td>
                  <td>{r.harness}</td>
                  <td>{r.model || 'default'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {preferences && Object.keys(preferences.settings).length > 0 && (
          <button type="button" onClick={() => void forget()}>
            Reset settings
          </button>
        )}
        <h2>Server</h2>
        <ul className="plain">
          <li>caic {config.version}</li>
          <li>Login: {config.authEnabled ? `on (${config.authProviders.join(', ')})${user ? `, signed in as ${user.username}` : ''}` : 'off'}</li>
          <li>Containers: {config.capabilities.dockerAvailable ? 'available' : 'the container engine does not answer'}</li>
        </ul>
        {user && (
          <button
            type="button"
            onClick={() =>
              void api('authLogout')
                .then(() => location.assign('/'))
                .catch((err: unknown) => setError(errorMessage(err)))
            }
          >
            Sign out
          </button>
        )}
      </div>
    </section>
  );
}

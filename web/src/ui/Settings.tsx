// Settings: browser notifications, the remembered repositories/agents (from the preferences API),
// where repositories are looked for (with a rescan), agent usage per day and week, connected apps
// (OAuth grants of MCP clients, revocable) and the server's capabilities.
import { useEffect, useState } from 'react';
import type { OAuthGrant, Preferences, Repo, ServerConfigResp, UsageResp, UserResp } from '../../../src/api/index.js';
import { formatCost, formatDuration, formatTokens } from '../lib/format';
import { api, errorMessage } from './client';
import { navigate } from './router';
import { Banner } from './Banner';
import { CIDot, ciLabel } from './Forge';
import { PushSettings } from './Push';
import { SecretsSettings } from './Secrets';
import { ApprovalSettings } from './Permissions';
import { DoctorPanel } from './Doctor';

export const NOTIFY_KEY = 'caic.notify';

/** Per-user forge preferences (the preferences' settings); the server reads them when CI reports. */
const FORGE_FLAGS: [string, string][] = [
  ['autoFixOnCIFailure', 'When CI fails on a task’s pull request, let the agent fix it and push again (up to the server’s limit of attempts)'],
  ['autoMergeOnGreen', 'Squash-merge a task’s pull request when its CI passes'],
  ['autoFixOnPROpen', 'Start a review-and-fix task when a pull request is opened (webhooks)'],
];

interface Props {
  preferences: Preferences | null;
  config: ServerConfigResp;
  user: UserResp | null;
  repos: Repo[];
  onRescan: () => Promise<Repo[]>;
  onPreferences: (p: Preferences) => void;
}

export function Settings({ preferences, config, user, repos, onRescan, onPreferences }: Props) {
  const [scan, setScan] = useState<{ busy: boolean; found?: number }>({ busy: false });
  const rescan = async () => {
    setScan({ busy: true });
    setError('');
    try {
      setScan({ busy: false, found: (await onRescan()).length });
    } catch (err) {
      setError(errorMessage(err));
      setScan({ busy: false });
    }
  };
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
  const setForgeFlag = async (key: string, on: boolean) => {
    try {
      onPreferences(await api('setPreferences', { body: { settings: { ...(preferences?.settings ?? {}), [key]: on } } }));
    } catch (err) {
      setError(errorMessage(err));
    }
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
        <h2>Push notifications</h2>
        <PushSettings />
        <h2>Secrets</h2>
        <SecretsSettings />
        <h2>Tool approval</h2>
        <ApprovalSettings preferences={preferences} onPreferences={onPreferences} />
        <h2>Repositories</h2>
        <div className="row" data-testid="repo-root">
          <span>
            Looked for under <code>{config.root || '(unknown)'}</code>, three levels deep: {repos.length} found.
          </span>
          <button type="button" className="small" disabled={scan.busy} onClick={() => void rescan()}>
            {scan.busy ? 'Rescanning…' : 'Rescan'}
          </button>
          {scan.found !== undefined && (
            <span className="muted small" role="status">
              Rescanned: {scan.found} repositor{scan.found === 1 ? 'y' : 'ies'}.
            </span>
          )}
        </div>
        <p className="muted small">
          Set <code>[core] root</code> in config.toml to look elsewhere. The server also rescans by itself; Rescan picks up a repository added just now.
        </p>
        {repos.some((r) => r.forge) && (
          <ul className="plain" data-testid="repo-ci">
            {repos
              .filter((r) => r.forge)
              .map((r) => (
                <li key={r.name} className="row">
                  <CIDot ci={r.ci} testId={`repo-ci-${r.name}`} /> {r.name} <span className="muted small">{r.baseBranch}: {ciLabel(r.ci)}</span>
                </li>
              ))}
          </ul>
        )}
        <h2>Pull requests and CI</h2>
        {FORGE_FLAGS.map(([key, label]) => (
          <label className="check" key={key}>
            <input type="checkbox" data-testid={`pref-${key}`} checked={preferences?.settings[key] === true} disabled={!preferences} onChange={(e) => void setForgeFlag(key, e.target.checked)} /> {label}
          </label>
        ))}
        <h2>Usage</h2>
        <Usage />
        <h2>Server health</h2>
        <DoctorPanel />
        <h2>Connected apps</h2>
        <ConnectedApps />
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
          <p>
            <button
              type="button"
              onClick={() =>
                void api('authLogout')
                  .then(() => location.assign('/'))
                  .catch((err: unknown) => setError(errorMessage(err)))
              }
            >
              Sign out
            </button>{' '}
            <button
              type="button"
              title="Ends every session of yours (all browsers, all app sign-ins) and unpairs your devices; connected MCP apps stay"
              onClick={() => {
                if (!confirm('Sign out of caic everywhere? Every browser and app signed in as you, and every paired device, must sign in again.')) return;
                void api('authLogoutEverywhere')
                  .then(() => location.assign('/'))
                  .catch((err: unknown) => setError(errorMessage(err)));
              }}
            >
              Sign out everywhere
            </button>
          </p>
        )}
      </div>
    </section>
  );
}

/** MCP clients (Claude, ChatGPT, editors) and paired devices (the app, the `caic` command) the caller allowed through OAuth; each can be revoked. */
function ConnectedApps() {
  const [grants, setGrants] = useState<OAuthGrant[] | null>(null);
  const [error, setError] = useState('');
  const load = (signal?: AbortSignal) =>
    api('oauthGrants', undefined, signal ? { signal } : {})
      .then((r) => setGrants(r.grants))
      .catch((err: unknown) => {
        if (!signal?.aborted) setError(errorMessage(err));
      });
  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    return () => ac.abort();
  }, []);
  const revoke = (g: OAuthGrant) => {
    api('oauthGrantRevoke', { params: { id: g.id } })
      .then(() => load())
      .catch((err: unknown) => setError(errorMessage(err)));
  };
  if (error) return <p className="muted">Connected apps are not available: {error}</p>;
  if (!grants) return <p className="muted">Loading connected apps…</p>;
  if (grants.length === 0)
    return (
      <p className="muted" data-testid="apps-empty">
        No app is connected. Apps such as Claude or ChatGPT connect at <code>/api/v1/mcp</code>; the caic app and the <code>caic</code> command pair with a code shown at <code>/oauth/device</code>.
      </p>
    );
  return (
    <table className="table" data-testid="connected-apps">
      <thead>
        <tr>
          <th>App</th>
          <th>Kind</th>
          <th>May</th>
          <th>Connected</th>
          <th>Last used</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {grants.map((g) => (
          <tr key={g.id}>
            <td title={g.clientId}>{g.clientName}</td>
            <td>{g.kind === 'device' ? 'paired device' : 'MCP app'}</td>
            <td>{g.scopes.join(', ')}</td>
            <td>{new Date(g.createdAt).toLocaleString()}</td>
            <td>{g.lastUsedAt ? new Date(g.lastUsedAt).toLocaleString() : 'never'}</td>
            <td>
              <button type="button" onClick={() => revoke(g)} aria-label={`Revoke ${g.clientName}`}>
                Revoke
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Agent cost, tokens and working time per week and per day (the caller's tasks). */
function Usage() {
  const [usage, setUsage] = useState<UsageResp | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const ac = new AbortController();
    api('usage', undefined, { signal: ac.signal })
      .then(setUsage)
      .catch((err: unknown) => {
        if (!ac.signal.aborted) setError(errorMessage(err));
      });
    return () => ac.abort();
  }, []);
  if (error) return <p className="muted">Usage is not available: {error}</p>;
  if (!usage) return <p className="muted">Loading usage…</p>;
  if (!usage.weeks.some((w) => w.turns > 0 || w.costUSD > 0)) return <p className="muted" data-testid="usage-empty">No agent activity in the last eight weeks.</p>;
  const maxCost = Math.max(...usage.days.map((d) => d.costUSD), 0);
  const tokens = (p: UsageResp['days'][number]) => p.tokens.inputTokens + p.tokens.outputTokens + p.tokens.cacheReadInputTokens + p.tokens.cacheCreationInputTokens;
  const week = usage.weeks.at(-1);
  return (
    <div className="usage stack" data-testid="usage">
      {week && (
        <p className="usage-summary">
          This week: <strong>{formatCost(week.costUSD)}</strong>, {formatTokens(tokens(week))} tokens, {formatDuration(week.agentMs)} of agent time, {week.turns} turn{week.turns === 1 ? '' : 's'} in{' '}
          {week.tasks} task{week.tasks === 1 ? '' : 's'}.
        </p>
      )}
      <div className="usage-days" role="img" aria-label="Cost per day, last 14 days">
        {usage.days.map((d) => (
          <div key={d.start} className="usage-day" title={`${d.start}: ${formatCost(d.costUSD)}, ${formatTokens(tokens(d))} tokens, ${formatDuration(d.agentMs)} agent time`}>
            <div className="usage-bar" style={{ height: `${maxCost > 0 ? Math.max(2, Math.round((d.costUSD / maxCost) * 100)) : 2}%` }} />
            <span className="usage-label">{d.start.slice(8)}</span>
          </div>
        ))}
      </div>
      <div className="table-scroll">
        <table className="table usage-table">
          <thead>
            <tr>
              <th>Week of</th>
              <th>Cost</th>
              <th>Tokens (in / out)</th>
              <th>Agent time</th>
              <th>Turns</th>
              <th>Tasks</th>
            </tr>
          </thead>
          <tbody>
            {[...usage.weeks].reverse().map((w) => (
              <tr key={w.start} className={w.turns === 0 && w.costUSD === 0 ? 'muted' : undefined}>
                <td>{w.start}</td>
                <td>{formatCost(w.costUSD)}</td>
                <td>
                  {formatTokens(w.tokens.inputTokens + w.tokens.cacheReadInputTokens + w.tokens.cacheCreationInputTokens)} / {formatTokens(w.tokens.outputTokens)}
                </td>
                <td>{formatDuration(w.agentMs)}</td>
                <td>{w.turns}</td>
                <td>{w.tasks}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

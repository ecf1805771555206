// The new-task form: prompt with images, repository and base branch (filterable), agent and model
// remembered per repository (only agents that can run here are offered first; the others say why
// and how to fix it), sudo and GitHub-token toggles, and a clone-a-repository dialog.
import { forwardRef, useEffect, useMemo, useState } from 'react';
import type { HarnessInfo, Preferences, Repo, Task } from '../../../src/api/index.js';
import { useSecretNames } from './Secrets';
import { failedAgents, pickAgent } from '../lib/choices';
import { taskPath } from '../lib/format';
import { api, errorMessage } from './client';
import { Dialog } from './Dialog';
import { PromptBox, toPrompt, type PromptValue } from './PromptBox';
import { navigate } from './router';
import { Banner } from './Banner';
import { defaultEgressChoice, egressField, egressProblem, EgressPick, type EgressChoice } from './EgressPick';
import { PermissionPicker } from './Permissions';
import { permissionsReq, savedChoice, type PermissionChoice } from '../lib/approvals';

interface Props {
  repos: Repo[];
  /** False until the first repository list arrived. */
  reposLoaded: boolean;
  harnesses: HarnessInfo[];
  preferences: Preferences | null;
  tasks: ReadonlyMap<string, Task>;
  /** The resolved directory repositories are looked for under. */
  root: string;
  onReposChanged: () => void;
  onRescan: () => Promise<unknown>;
  onCreated: (task: Task) => void;
  gitHubAvailable: boolean;
  /** The engine gives sudo in containers (not rootless Podman): else the toggle is not offered. */
  sudoAvailable: boolean;
}

export const Composer = forwardRef<HTMLTextAreaElement, Props>(function Composer(
  { repos, reposLoaded, harnesses, preferences, tasks, root, onReposChanged, onRescan, onCreated, gitHubAvailable, sudoAvailable },
  ref,
) {
  const [prompt, setPrompt] = useState<PromptValue>({ text: '', images: [] });
  const [repo, setRepo] = useState('');
  const [baseBranch, setBaseBranch] = useState('');
  const [branches, setBranches] = useState<{ repo: string; names: string[] }>({ repo: '', names: [] });
  const [baseTyped, setBaseTyped] = useState(false);
  const [harness, setHarness] = useState('');
  const [model, setModel] = useState('');
  const [sudo, setSudo] = useState(false);
  const [gitHubToken, setGitHubToken] = useState(false);
  // Names of the caller's secrets this task gets in ~/.env (Settings → Secrets stores them).
  const { secrets: secretList } = useSecretNames();
  const [secrets, setSecrets] = useState<string[]>([]);
  const [egress, setEgress] = useState<EgressChoice>(defaultEgressChoice);
  // Tool approval: the user's saved default (Settings), else the server's, unless chosen here.
  const [permissions, setPermissions] = useState<PermissionChoice>(() => savedChoice(preferences?.settings));
  useEffect(() => setPermissions(savedChoice(preferences?.settings)), [preferences?.settings]);
  // Start from: a new caic-N branch (default), an existing branch to continue, or a forge issue.
  const [from, setFrom] = useState<'new' | 'branch' | 'issue'>('new');
  const [continueBranch, setContinueBranch] = useState('');
  const [issue, setIssue] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [cloneOpen, setCloneOpen] = useState(false);
  const [scanning, setScanning] = useState(false);

  // Defaults: the most recently used repository and its remembered agent, model and base branch.
  const recent = useMemo(() => [...(preferences?.repositories ?? [])].sort((a, b) => b.lastUsed.localeCompare(a.lastUsed)), [preferences]);
  const failed = useMemo(() => failedAgents(tasks.values()), [tasks]);
  const chooseAgent = (forRepo: string) => {
    const pick = pickAgent(harnesses, preferences, forRepo, failed);
    if (!pick) return;
    setHarness(pick.harness);
    setModel(pick.model);
  };
  const applyRepo = (name: string) => {
    setRepo(name);
    const pref = recent.find((r) => r.name === name);
    const r = repos.find((x) => x.name === name);
    setBaseBranch(pref?.baseBranch || r?.baseBranch || '');
    setBaseTyped(false);
    if (preferences !== null) chooseAgent(name);
  };
  // First defaults once the lists arrive: the most recent repository, then the agent and model
  // remembered for it (else the last agent used, else Claude Code), among the agents that can run.
  useEffect(() => {
    if (repo || repos.length === 0) return;
    applyRepo(recent.find((p) => repos.some((r) => r.name === p.name))?.name ?? repos[0]!.name);
    // Only when the list first arrives.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [repos, recent]);
  useEffect(() => {
    if (harness || harnesses.length === 0 || preferences === null) return;
    chooseAgent(repo);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [harnesses, preferences, harness, repo]);
  useEffect(() => {
    if (!repo) return;
    const ac = new AbortController();
    api('repoBranches', { query: { repo } }, { signal: ac.signal })
      .then((r) => setBranches({ repo, names: [...new Set(r.branches.map((b) => b.name))] }))
      .catch(() => setBranches({ repo, names: [] }));
    return () => ac.abort();
  }, [repo]);
  // A remembered base branch that is gone (or never was: a task failed on it) is not offered again;
  // one the user typed stays as typed.
  useEffect(() => {
    if (baseTyped || branches.repo !== repo || branches.names.length === 0 || !baseBranch || branches.names.includes(baseBranch)) return;
    setBaseBranch(repos.find((x) => x.name === repo)?.baseBranch ?? '');
  }, [baseTyped, branches, repo, repos, baseBranch]);

  const h = harnesses.find((x) => x.name === harness);
  const unavailable = harnesses.filter((x) => !x.ready);
  const repoInfo = repos.find((x) => x.name === repo);
  const onForge = !!repoInfo?.forge;
  const fromIssue = from === 'issue' && onForge ? issue.trim() : '';
  const fromBranch = from === 'branch' ? continueBranch.trim() : '';
  const submit = async () => {
    if (!prompt.text.trim() && !fromIssue) {
      setError('Write what the agent should do.');
      return;
    }
    if (from === 'issue' && onForge && !fromIssue) {
      setError('Name the issue: #12, owner/repo#12 or its URL.');
      return;
    }
    if (from === 'branch' && !fromBranch) {
      setError('Name the branch to continue.');
      return;
    }
    if (!harness) return;
    const perm = permissionsReq(permissions);
    if (perm.problem) {
      setError(perm.problem);
      return;
    }
    if (h && !h.ready) {
      setError(`${harness} cannot run here: ${h.reason || 'not ready'}.`);
      return;
    }
    setBusy(true);
    setError('');
    try {
      const task = await api('createTask', {
        body: {
          prompt: toPrompt(prompt),
          repos: repo ? [{ name: repo, ...(fromBranch ? { branch: fromBranch } : baseBranch ? { baseBranch } : {}) }] : [],
          ...(fromIssue ? { issue: fromIssue } : {}),
          harness: harness as HarnessInfo['name'],
          ...(model ? { model } : {}),
          ...(sudo && sudoAvailable ? { sudo: true } : {}),
          ...(gitHubToken ? { gitHubToken: true } : {}),
          ...(secrets.length ? { secrets } : {}),
          ...egressField(egress),
          ...(perm.permissions ? { permissions: perm.permissions } : {}),
        },
      });
      for (const img of prompt.images) URL.revokeObjectURL(img.url);
      setPrompt({ text: '', images: [] });
      setIssue('');
      setContinueBranch('');
      onCreated(task);
      navigate(taskPath(task.id, task.title));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const rescan = async () => {
    setScanning(true);
    try {
      await onRescan();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setScanning(false);
    }
  };

  return (
    <form
      className="composer"
      aria-label="New task"
      data-testid="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <PromptBox
        ref={ref}
        label="Prompt"
        placeholder={from === 'issue' && onForge ? 'Anything to add to the issue? (optional)' : 'What should the agent do? (Enter starts, Shift+Enter for a new line)'}
        value={prompt}
        onChange={setPrompt}
        onSubmit={() => void submit()}
        allowImages={h?.supportsImages ?? false}
        disabled={busy}
        onError={setError}
      />
      <div className="composer-opts">
        <label className="field">
          <span>Repository</span>
          <input list="caic-repos" aria-label="Repository" value={repo} onChange={(e) => (repos.some((r) => r.name === e.target.value) ? applyRepo(e.target.value) : setRepo(e.target.value))} placeholder={repos.length ? 'Filter…' : 'No repository found'} />
          <datalist id="caic-repos">
            {repos.map((r) => (
              <option key={r.name} value={r.name} />
            ))}
          </datalist>
        </label>
        {repo && (
          <label className="field">
            <span>Start from</span>
            <select aria-label="Start from" data-testid="start-from" value={from} onChange={(e) => setFrom(e.target.value as typeof from)}>
              <option value="new">a new branch</option>
              <option value="branch">an existing branch</option>
              {onForge && <option value="issue">an issue</option>}
            </select>
          </label>
        )}
        {from === 'branch' && repo ? (
          <label className="field">
            <span>Branch to continue</span>
            <input list="caic-branches" aria-label="Branch to continue" data-testid="continue-branch" value={continueBranch} onChange={(e) => setContinueBranch(e.target.value)} placeholder="feature-x" />
          </label>
        ) : (
          <label className="field">
            <span>Base branch</span>
            <input
              list="caic-branches"
              aria-label="Base branch"
              value={baseBranch}
              onChange={(e) => {
                setBaseBranch(e.target.value);
                setBaseTyped(true);
              }}
              placeholder="default branch"
            />
            <datalist id="caic-branches">
              {(branches.repo === repo ? branches.names : []).map((b) => (
                <option key={b} value={b} />
              ))}
            </datalist>
          </label>
        )}
        {from === 'issue' && onForge && (
          <label className="field">
            <span>Issue</span>
            <input aria-label="Issue" data-testid="issue" value={issue} onChange={(e) => setIssue(e.target.value)} placeholder="#12, owner/repo#12 or URL" />
          </label>
        )}
        <label className="field">
          <span>Agent</span>
          <select
            aria-label="Agent"
            value={harness}
            onChange={(e) => {
              setHarness(e.target.value);
              const models = harnesses.find((x) => x.name === e.target.value)?.models ?? [];
              const remembered = preferences?.models[e.target.value] ?? '';
              setModel(models.includes(remembered) ? remembered : '');
            }}
          >
            {harnesses.map((x) => (
              <option key={x.name} value={x.name} disabled={!x.ready} title={x.ready ? undefined : x.reason}>
                {x.name}
                {x.ready ? '' : ` — ${shortReason(x)}`}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Model</span>
          <select aria-label="Model" value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="">default{h?.defaultModel ? ` (${h.defaultModel})` : ''}</option>
            {(h?.models ?? []).map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        {sudoAvailable && (
          <label className="check">
            <input type="checkbox" checked={sudo} onChange={(e) => setSudo(e.target.checked)} /> sudo
          </label>
        )}
        {gitHubAvailable && (
          <label className="check">
            <input type="checkbox" checked={gitHubToken} onChange={(e) => setGitHubToken(e.target.checked)} /> GitHub token
          </label>
        )}
        {secretList.length > 0 && (
          <details className="secret-pick">
            <summary>Secrets{secrets.length ? ` (${secrets.length})` : ''}</summary>
            <div className="stack" role="group" aria-label="Secrets for this task">
              {secretList.map((s) => (
                <label key={s.name} className="check">
                  <input
                    type="checkbox"
                    checked={secrets.includes(s.name)}
                    onChange={(e) => setSecrets((cur) => (e.target.checked ? [...cur, s.name] : cur.filter((n) => n !== s.name)))}
                  />{' '}
                  <code>{s.name}</code>
                </label>
              ))}
            </div>
          </details>
        )}
        <EgressPick value={egress} onChange={setEgress} />
        <PermissionPicker value={permissions} onChange={setPermissions} disabled={busy} />
        <button type="button" onClick={() => setCloneOpen(true)}>
          Clone…
        </button>
        <button type="submit" className="primary" disabled={busy || !harness || (h !== undefined && !h.ready) || egressProblem(egress) !== ''}>
          {busy ? 'Starting…' : 'Start task'}
        </button>
      </div>
      {h && !h.ready && (
        <Banner tone="warn" testId="agent-not-ready">
          <strong>{h.name}</strong> cannot run here: {h.reason || 'not ready'}.{h.fix && <> Fix: <code>{h.fix}</code></>}
        </Banner>
      )}
      {unavailable.length > 0 && (
        // Open from the start when no real agent can run: that is what a newcomer must fix first.
        <details className="agents-off muted small" data-testid="agents-off" open={harnesses.every((x) => !x.ready || x.name === 'fake')}>
          <summary>
            {unavailable.length} agent{unavailable.length === 1 ? '' : 's'} cannot run here
          </summary>
          <ul>
            {unavailable.map((x) => (
              <li key={x.name}>
                <strong>{x.name}</strong>: {x.reason || 'not ready'}.{x.fix && <> Fix: <code>{x.fix}</code></>}
              </li>
            ))}
          </ul>
        </details>
      )}
      {reposLoaded && repos.length === 0 && (
        <div className="muted small" role="note" data-testid="no-repos">
          <p>
            No git repository was found under <code>{root || 'the root folder'}</code> (searched three levels deep; <code>[core] root</code> in config.toml). Put or clone one there
            and <em>Rescan</em>, clone one with <em>Clone…</em>, or start a task without a repository.
          </p>
          <button type="button" className="small" disabled={scanning} onClick={() => void rescan()}>
            {scanning ? 'Rescanning…' : 'Rescan'}
          </button>
        </div>
      )}
      {error && (
        <Banner tone="bad">
          {error}
        </Banner>
      )}
      <CloneDialog
        open={cloneOpen}
        onClose={() => setCloneOpen(false)}
        onCloned={(name) => {
          onReposChanged();
          applyRepo(name);
        }}
      />
    </form>
  );
});

/** A few words for the agent menu; the full reason and the fix are listed under the form. */
function shortReason(h: HarnessInfo): string {
  if (!h.installed) return 'not installed';
  if (!h.credentials) return 'no credentials';
  return 'unavailable';
}

function CloneDialog({ open, onClose, onCloned }: { open: boolean; onClose: () => void; onCloned: (name: string) => void }) {
  const [url, setUrl] = useState('');
  const [path, setPath] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const clone = async () => {
    setBusy(true);
    setError('');
    try {
      const r = await api('cloneRepo', { body: { url, ...(path ? { path } : {}) } });
      onCloned(r.name);
      setUrl('');
      setPath('');
      onClose();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} title="Clone a repository" onClose={onClose}>
      <div className="stack">
        <label className="field">
          <span>Git URL</span>
          <input aria-label="Git URL" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://github.com/owner/repo.git" autoFocus />
        </label>
        <label className="field">
          <span>Folder under the root (optional)</span>
          <input aria-label="Folder under the root" value={path} onChange={(e) => setPath(e.target.value)} placeholder="owner/repo" />
        </label>
        {error && (
          <Banner tone="bad">
            {error}
          </Banner>
        )}
        <div className="row end">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="primary" disabled={!url || busy} onClick={() => void clone()}>
            {busy ? 'Cloning…' : 'Clone'}
          </button>
        </div>
      </div>
    </Dialog>
  );
}

// The new-task form: prompt with images, repository and base branch (filterable), agent and model
// remembered per repository, sudo and GitHub-token toggles, and a clone-a-repository dialog.
import { forwardRef, useEffect, useMemo, useState } from 'react';
import type { HarnessInfo, Preferences, Repo } from '../../../src/api/index.js';
import { taskPath } from '../lib/format';
import { api, errorMessage } from './client';
import { Dialog } from './Dialog';
import { PromptBox, toPrompt, type PromptValue } from './PromptBox';
import { navigate } from './router';
import { Banner } from './Banner';

interface Props {
  repos: Repo[];
  harnesses: HarnessInfo[];
  preferences: Preferences | null;
  onReposChanged: () => void;
  gitHubAvailable: boolean;
}

export const Composer = forwardRef<HTMLTextAreaElement, Props>(function Composer({ repos, harnesses, preferences, onReposChanged, gitHubAvailable }, ref) {
  const [prompt, setPrompt] = useState<PromptValue>({ text: '', images: [] });
  const [repo, setRepo] = useState('');
  const [baseBranch, setBaseBranch] = useState('');
  const [branches, setBranches] = useState<string[]>([]);
  const [harness, setHarness] = useState('');
  const [model, setModel] = useState('');
  const [sudo, setSudo] = useState(false);
  const [gitHubToken, setGitHubToken] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [cloneOpen, setCloneOpen] = useState(false);

  // Defaults: the most recently used repository and its remembered agent, model and base branch.
  const recent = useMemo(() => [...(preferences?.repositories ?? [])].sort((a, b) => b.lastUsed.localeCompare(a.lastUsed)), [preferences]);
  const applyRepo = (name: string) => {
    setRepo(name);
    const pref = recent.find((r) => r.name === name);
    const r = repos.find((x) => x.name === name);
    setBaseBranch(pref?.baseBranch || r?.baseBranch || '');
    if (pref?.harness && harnesses.some((h) => h.name === pref.harness)) {
      setHarness(pref.harness);
      setModel(pref.model);
    }
  };
  // First defaults once the lists arrive: the most recent repository, then the agent and model
  // remembered for it (else the last agent used, else Claude Code).
  useEffect(() => {
    if (repo || repos.length === 0) return;
    applyRepo(recent.find((p) => repos.some((r) => r.name === p.name))?.name ?? repos[0]!.name);
    // Only when the list first arrives.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [repos, recent]);
  useEffect(() => {
    if (harness || harnesses.length === 0 || preferences === null) return;
    const known = (h: string | undefined) => (h && harnesses.some((x) => x.name === h) ? h : undefined);
    const forRepo = recent.find((p) => p.name === repo);
    const preferred = known(forRepo?.harness) ?? known(preferences.harness) ?? known('claude') ?? harnesses[0]!.name;
    setHarness(preferred);
    setModel(forRepo && forRepo.harness === preferred ? forRepo.model : (preferences.models[preferred] ?? ''));
  }, [harnesses, preferences, harness, recent, repo]);
  useEffect(() => {
    if (!repo) return;
    const ac = new AbortController();
    api('repoBranches', { query: { repo } }, { signal: ac.signal })
      .then((r) => setBranches(r.branches.map((b) => b.name)))
      .catch(() => setBranches([]));
    return () => ac.abort();
  }, [repo]);

  const h = harnesses.find((x) => x.name === harness);
  const submit = async () => {
    if (!prompt.text.trim()) {
      setError('Write what the agent should do.');
      return;
    }
    if (!harness) return;
    setBusy(true);
    setError('');
    try {
      const task = await api('createTask', {
        body: {
          prompt: toPrompt(prompt),
          repos: repo ? [{ name: repo, ...(baseBranch ? { baseBranch } : {}) }] : [],
          harness: harness as HarnessInfo['name'],
          ...(model ? { model } : {}),
          ...(sudo ? { sudo: true } : {}),
          ...(gitHubToken ? { gitHubToken: true } : {}),
        },
      });
      for (const img of prompt.images) URL.revokeObjectURL(img.url);
      setPrompt({ text: '', images: [] });
      navigate(taskPath(task.id, task.title));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
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
        placeholder="What should the agent do? (Enter starts, Shift+Enter for a new line)"
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
        <label className="field">
          <span>Base branch</span>
          <input list="caic-branches" aria-label="Base branch" value={baseBranch} onChange={(e) => setBaseBranch(e.target.value)} placeholder="default branch" />
          <datalist id="caic-branches">
            {branches.map((b) => (
              <option key={b} value={b} />
            ))}
          </datalist>
        </label>
        <label className="field">
          <span>Agent</span>
          <select
            aria-label="Agent"
            value={harness}
            onChange={(e) => {
              setHarness(e.target.value);
              setModel(preferences?.models[e.target.value] ?? '');
            }}
          >
            {harnesses.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Model</span>
          <select aria-label="Model" value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="">default</option>
            {(h?.models ?? []).map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={sudo} onChange={(e) => setSudo(e.target.checked)} /> sudo
        </label>
        {gitHubAvailable && (
          <label className="check">
            <input type="checkbox" checked={gitHubToken} onChange={(e) => setGitHubToken(e.target.checked)} /> GitHub token
          </label>
        )}
        <button type="button" onClick={() => setCloneOpen(true)}>
          Clone…
        </button>
        <button type="submit" className="primary" disabled={busy || !harness}>
          {busy ? 'Starting…' : 'Start task'}
        </button>
      </div>
      {repos.length === 0 && (
        <p className="muted small" role="note">
          No git repository was found under the server&apos;s root folder (<code>[core] root</code> in config.toml; by default the folder caic was started in, searched three levels
          deep). Clone one with <em>Clone…</em>, or start a task without a repository.
        </p>
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

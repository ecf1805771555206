// One task: header with its state, title (renamable) and actions, the live transcript, the todo
// panel and the input box. Esc interrupts the agent's running turn.
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { HarnessInfo, Repo, SyncResp, Task } from '../../../src/api/index.js';
import { canDo } from '../../../src/api/tasks.js';
import { canPurge, canRestart, canRevive, canStop, formatCost, formatDuration, formatTokens, LIVE_STATES, stateLabel, stateTone, taskPath } from '../lib/format';
import { openAsk, showsError, type AskAnswer } from '../lib/transcript';
import { api, errorMessage } from './client';
import type { CardContext } from './cards';
import { Confirm, Dialog } from './Dialog';
import { PromptBox, toPrompt, type PromptValue } from './PromptBox';
import { navigate, onLinkClick } from './router';
import { useTaskEvents } from './stores';
import { Transcript } from './Transcript';
import { Banner } from './Banner';
import { PrBadge } from './Forge';
import { VoiceButton } from './Voice';
import { TaskStats } from './TaskStats';
import { EgressPanel } from './EgressPanel';
import { PreviewButtons, PreviewPanel, usePreviewPorts } from './Preview';

// xterm.js is loaded when a terminal is first opened.
const TerminalPane = lazy(() => import('./Terminal').then((m) => ({ default: m.TerminalPane })));

/** The actions that ask first: what the dialog says and the route it calls. */
const CONFIRMS = {
  purge: {
    title: 'Purge this task?',
    message: 'The container and everything in it that was not synced are deleted. The transcript stays.',
    confirmLabel: 'Purge',
    danger: true,
    route: 'taskPurge',
  },
  stop: {
    title: 'Stop this task?',
    message: 'The agent finishes its current step and the container stops. You can revive it later.',
    confirmLabel: 'Stop',
    route: 'taskStop',
  },
  clear: {
    title: 'Clear the context?',
    message: 'The agent starts a new session in the same container; the files stay.',
    confirmLabel: 'Clear context',
    route: 'taskClearContext',
  },
} as const;

export function TaskView({
  task,
  harnesses,
  inputRef,
  repos = [],
}: {
  task: Task;
  harnesses: readonly HarnessInfo[];
  inputRef: React.RefObject<HTMLTextAreaElement | null>;
  repos?: readonly Repo[];
}) {
  const repoForge = repos.find((r) => r.name === task.repos[0]?.name)?.forge ?? '';
  const events = useTaskEvents(task.id);
  const [error, setError] = useState('');
  const [prompt, setPrompt] = useState<PromptValue>({ text: '', images: [] });
  const [sending, setSending] = useState(false);
  const [confirm, setConfirm] = useState<keyof typeof CONFIRMS | null>(null);
  const [sync, setSync] = useState<SyncResp | null>(null);
  const [syncTarget, setSyncTarget] = useState<'branch' | 'pr'>('branch');
  const [busy, setBusy] = useState('');
  const [sudoPassword, setSudoPassword] = useState<string | null>(null);
  const [renaming, setRenaming] = useState(false);
  // The terminal stays mounted (its shell alive) while the transcript is shown, once opened.
  const [tab, setTab] = useState<'transcript' | 'terminal'>('transcript');
  const [terminalOpened, setTerminalOpened] = useState(false);
  const [previewPort, setPreviewPort] = useState<number | null>(null);
  const harness = harnesses.find((h) => h.name === task.harness);
  const live = LIVE_STATES.includes(task.state);
  const hasRepo = task.repos.length > 0;
  const previews = usePreviewPorts(task.id, live);
  // Without a live agent the container may be gone: the diff then comes from the last sync.
  const synced = useMemo(() => events.transcript.items.some((i) => i.type === 'system' && i.subtype === 'sync' && (i.detail as { status?: unknown } | null)?.status === 'synced'), [events.transcript.items]);
  const diffAvailable = hasRepo && (live || synced);
  const ask = openAsk(events.transcript);
  const drafts = useRef(new Map<string, AskAnswer[]>()).current;
  const ctx: CardContext = useMemo(
    () => ({
      taskId: task.id,
      title: task.title,
      canAnswer: task.state === 'asking',
      canExecutePlan: task.state === 'has_plan',
      failed: task.state === 'failed',
      drafts,
      onError: setError,
      canRestartFrom: canDo('restart', task.state),
      canFork: hasRepo && !!task.repos[0]?.branch,
    }),
    [task.id, task.title, task.state, drafts, hasRepo, task.repos],
  );
  // Only a turn in progress can be interrupted; waiting, asking and plan states have none.
  const canInterrupt = task.state === 'running' && canDo('interrupt', task.state) && harness?.supportsInterrupt === true;
  const interrupt = useCallback(async () => {
    setError('');
    try {
      await api('taskInterrupt', { params: { id: task.id } });
    } catch (err) {
      setError(errorMessage(err));
    }
  }, [task.id]);
  // Esc while the agent works stops its turn (as in the agents' own terminals). Captured before the
  // app's Esc (back); not while a dialog is open or another field (the rename box) has the focus.
  useEffect(() => {
    if (!canInterrupt) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.shiftKey) return;
      if (document.querySelector('dialog[open]')) return;
      const t = e.target as HTMLElement | null;
      if (t && t !== inputRef.current && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
      e.preventDefault();
      void interrupt();
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [canInterrupt, interrupt, inputRef]);

  const act = async (name: string, fn: () => Promise<unknown>) => {
    setBusy(name);
    setError('');
    try {
      await fn();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy('');
    }
  };
  const send = async () => {
    if (!prompt.text.trim() && prompt.images.length === 0) return;
    setSending(true);
    setError('');
    try {
      await api('taskInput', { params: { id: task.id }, body: { prompt: toPrompt(prompt) } });
      for (const img of prompt.images) URL.revokeObjectURL(img.url);
      setPrompt({ text: '', images: [] });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setSending(false);
    }
  };
  const doSync = (force: boolean, target: 'branch' | 'pr' = syncTarget) =>
    act(target === 'pr' ? 'pr' : 'sync', async () => {
      setSyncTarget(target);
      const r = await api('taskSync', { params: { id: task.id }, body: { ...(force ? { force: true } : {}), ...(target === 'pr' ? { target } : {}) } });
      setSync(r);
    });

  const todos = events.transcript.todos;
  const usage = events.transcript.usage;
  const ctxWindow = events.transcript.contextWindow || task.contextWindowLimit;
  const disconnected = events.connection.state !== 'open' && (events.ready || events.connection.error);
  return (
    <section className="task-view" aria-label={`Task ${task.title}`} data-testid="task-view" data-state={task.state}>
      <header className="task-head">
        <div className="task-title-row">
          <button type="button" className="icon back" aria-label="Back to the task list" onClick={() => navigate('/')}>
            ←
          </button>
          {renaming ? (
            <RenameForm
              title={task.title}
              onDone={() => setRenaming(false)}
              onSave={async (title) => {
                const t = await api('renameTask', { params: { id: task.id }, body: { title } });
                navigate(taskPath(t.id, t.title), true);
              }}
            />
          ) : (
            <>
              <h1 className="task-title" title={task.title}>
                {task.title}
              </h1>
              {canDo('rename', task.state) && (
                <button type="button" className="icon" aria-label="Rename the task" title="Rename" onClick={() => setRenaming(true)}>
                  ✎
                </button>
              )}
            </>
          )}
          <span className={`badge ${stateTone(task.state)}`} data-testid="task-state">
            {stateLabel(task.state)}
          </span>
          {task.forge && <PrBadge forge={task.forge} />}
          <VoiceButton where="task" />
        </div>
        <div className="task-meta muted small">
          {task.repos.map((r) => (
            <span key={r.name}>
              {r.name}
              {r.branch ? ` · ${r.branch}` : ''} ← {r.baseBranch}
            </span>
          ))}
          <span>
            {task.harness}
            {task.model ? ` · ${task.model}` : ''}
          </span>
          <span>{formatCost(task.costUSD)}</span>
          {task.durationMs > 0 && <span>{formatDuration(task.durationMs)}</span>}
          {usage && ctxWindow > 0 && (
            <span title="Context used">
              {formatTokens(task.activeInputTokens || usage.inputTokens + usage.cacheReadInputTokens + usage.cacheCreationInputTokens)} / {formatTokens(ctxWindow)} context
            </span>
          )}
          <TaskStats stats={events.transcript.stats} live={LIVE_STATES.includes(task.state)} />
        </div>
        <EgressPanel policy={task.egress} blocked={events.transcript.egress} />
        <div className="actions" role="toolbar" aria-label="Task actions">
          {canInterrupt && (
            <button type="button" onClick={() => void interrupt()} title="Stop the agent's current turn; the task keeps running (Esc)">
              Interrupt <kbd>Esc</kbd>
            </button>
          )}
          {diffAvailable && (
            <a className="button" href={taskPath(task.id, task.title, true)} onClick={(e) => onLinkClick(e, taskPath(task.id, task.title, true))}>
              Diff{task.diffStat.length ? ` (${task.diffStat.length})` : ''}
            </a>
          )}
          {live && hasRepo && (
            <button type="button" disabled={busy !== ''} onClick={() => void doSync(false)}>
              {busy === 'sync' ? 'Syncing…' : 'Sync to branch'}
            </button>
          )}
          {live && hasRepo && repoForge !== '' && (
            <button type="button" disabled={busy !== ''} onClick={() => void doSync(false, 'pr')} data-testid="create-pr" title="Push the branch, then open (or update) its pull request; caic watches its CI">
              {busy === 'pr' ? 'Pushing…' : task.forge?.state === 'open' ? 'Update PR' : 'Create PR'}
            </button>
          )}
          {canRestart(task.state) && (
            <button type="button" disabled={busy !== ''} onClick={() => setConfirm('clear')}>
              Clear context
            </button>
          )}
          {live && harness?.supportsCompact && (
            <button type="button" disabled={busy !== ''} onClick={() => void act('compact', () => api('taskCompact', { params: { id: task.id }, body: {} }))}>
              Compact
            </button>
          )}
          {live && <PreviewButtons taskId={task.id} ports={previews.ports} onPanel={setPreviewPort} onError={setError} />}
          {task.sudo && task.state !== 'purged' && (
            <button
              type="button"
              disabled={busy !== ''}
              onClick={() => void act('sudo', async () => setSudoPassword((await api('taskSudoPassword', { params: { id: task.id } })).password))}
            >
              Sudo password
            </button>
          )}
          {canStop(task.state) && (
            <button type="button" disabled={busy !== ''} onClick={() => setConfirm('stop')}>
              Stop
            </button>
          )}
          {canRevive(task.state) && (
            <button type="button" disabled={busy !== ''} onClick={() => void act('revive', () => api('taskRevive', { params: { id: task.id } }))}>
              {busy === 'revive' ? 'Reviving…' : 'Revive'}
            </button>
          )}
          {canPurge(task.state) && (
            <button type="button" className="danger" disabled={busy !== ''} onClick={() => setConfirm('purge')}>
              Purge
            </button>
          )}
        </div>
      </header>
      {disconnected && (
        <Banner tone="warn" testId="reconnecting">
          Disconnected{events.connection.error ? ` (${events.connection.error})` : ''} — reconnecting…
        </Banner>
      )}
      {events.fatal && (
        <Banner tone="bad">
          {events.fatal}
        </Banner>
      )}
      {error && (
        <Banner tone="bad" onDismiss={() => setError('')}>
          {error}
        </Banner>
      )}
      {/* The error once: above only when the transcript does not already show it. */}
      {task.error && events.ready && !showsError(events.transcript, task.error) && (
        <Banner tone="bad" testId="task-error">
          {task.error}
        </Banner>
      )}
      {(live || terminalOpened) && (
        <div className="task-tabs" role="tablist" aria-label="Task view">
          <button type="button" role="tab" aria-selected={tab === 'transcript'} onClick={() => setTab('transcript')}>
            Transcript
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={tab === 'terminal'}
            title="A shell in the task's container"
            onClick={() => {
              setTab('terminal');
              setTerminalOpened(true);
            }}
          >
            Terminal
          </button>
        </div>
      )}
      {terminalOpened && (
        <Suspense fallback={<p className="muted pad">Loading the terminal…</p>}>
          <div className="terminal-host" hidden={tab !== 'terminal'}>
            <TerminalPane key={task.id} taskId={task.id} />
          </div>
        </Suspense>
      )}
      <div className="task-body" hidden={tab !== 'transcript'}>
        <Transcript transcript={events.transcript} ctx={ctx} ready={events.ready} focusKey={ask?.key} />
        {live && previewPort !== null && <PreviewPanel taskId={task.id} port={previewPort} onClose={() => setPreviewPort(null)} />}
        {todos.length > 0 && (
          <aside className="todos" aria-label="Todo list">
            <div className="label">
              Todo {todos.filter((t) => t.status === 'completed').length}/{todos.length}
            </div>
            <ul>
              {todos.map((t, i) => (
                <li key={i} className={t.status}>
                  <span aria-hidden="true">{t.status === 'completed' ? '✓' : t.status === 'in_progress' ? '▸' : '○'}</span> {t.status === 'in_progress' && t.activeForm ? t.activeForm : t.content}
                </li>
              ))}
            </ul>
          </aside>
        )}
      </div>
      <form
        hidden={tab !== 'transcript'}
        className="input-row"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <PromptBox
          ref={inputRef}
          label="Message to the agent"
          placeholder={live ? (ask ? 'Answer the question above, or type a reply…' : 'Message the agent (Enter sends, Shift+Enter for a new line)') : 'The agent is not running'}
          value={prompt}
          onChange={setPrompt}
          onSubmit={() => void send()}
          allowImages={harness?.supportsImages ?? false}
          disabled={!live || sending}
          onError={setError}
          rows={2}
        />
        <button type="submit" className="primary" disabled={!live || sending || (!prompt.text.trim() && prompt.images.length === 0)}>
          Send
        </button>
      </form>
      {confirm && (
        <Confirm
          open
          {...CONFIRMS[confirm]}
          onConfirm={() => void act(confirm, () => api(CONFIRMS[confirm].route, { params: { id: task.id } }))}
          onClose={() => setConfirm(null)}
        />
      )}
      <Dialog open={sudoPassword !== null} title="Sudo password" onClose={() => setSudoPassword(null)}>
        <p>
          The password of <code>user</code> in this task&apos;s container (for <code>sudo</code>):
        </p>
        <div className="row">
          <input className="secret" readOnly value={sudoPassword ?? ''} aria-label="Sudo password" onFocus={(e) => e.target.select()} />
          <button type="button" onClick={() => void navigator.clipboard?.writeText(sudoPassword ?? '')}>
            Copy
          </button>
        </div>
      </Dialog>
      <Dialog open={sync !== null} title={syncTarget === 'pr' ? 'Create pull request' : 'Sync to branch'} onClose={() => setSync(null)}>
        {sync && <SyncResult result={sync} busy={busy === 'sync' || busy === 'pr'} onForce={() => void doSync(true)} />}
      </Dialog>
    </section>
  );
}

function RenameForm({ title, onSave, onDone }: { title: string; onSave: (title: string) => Promise<void>; onDone: () => void }) {
  const [value, setValue] = useState(title);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const save = async () => {
    const next = value.trim();
    if (!next || next === title) return onDone();
    setBusy(true);
    try {
      await onSave(next);
      onDone();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <form
      className="rename"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <input
        aria-label="Task title"
        value={value}
        maxLength={200}
        autoFocus
        disabled={busy}
        onChange={(e) => setValue(e.target.value)}
        onFocus={(e) => e.target.select()}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            onDone();
          }
        }}
      />
      <button type="submit" className="primary small" disabled={busy || !value.trim()}>
        Save
      </button>
      <button type="button" className="small" onClick={onDone}>
        Cancel
      </button>
      {error && (
        <span className="muted small" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

function SyncResult({ result, busy, onForce }: { result: SyncResp; busy: boolean; onForce: () => void }) {
  const [sure, setSure] = useState(false);
  const pr = result.forge && (
    <p data-testid="sync-pr">
      {result.forge.kind === 'gitlab' ? 'Merge request' : 'Pull request'}{' '}
      <a href={result.forge.url} target="_blank" rel="noreferrer noopener">
        #{result.forge.number}
      </a>
      : caic watches its CI and reports it here.
    </p>
  );
  if (result.status === 'empty')
    return (
      <>
        <p>Nothing new to push: the branch has no changes.</p>
        {pr}
      </>
    );
  if (result.status === 'synced')
    return (
      <>
        <p data-testid="sync-ok">
          Pushed {result.diffStat.length} file{result.diffStat.length === 1 ? '' : 's'} to <code>{result.branch}</code>.
        </p>
        {pr}
      </>
    );
  return (
    <div data-testid="sync-blocked">
      <p>The push was blocked: the changes look like they contain secrets or large binaries.</p>
      <ul className="findings">
        {result.safetyIssues.map((s, i) => (
          <li key={i}>
            <code>{s.file}</code> — {s.detail}
          </li>
        ))}
      </ul>
      <label className="option">
        <input type="checkbox" checked={sure} onChange={(e) => setSure(e.target.checked)} /> I checked these findings; push anyway
      </label>
      <div className="row end">
        <button type="button" className="danger" disabled={!sure || busy} onClick={onForce}>
          {busy ? 'Pushing…' : 'Force push'}
        </button>
      </div>
    </div>
  );
}

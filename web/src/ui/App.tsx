// The application shell: login gate, data loading, layout (task list beside the page on desktop,
// one column on a phone), keyboard shortcuts, notifications and the title/favicon badge.
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import type { HarnessInfo, Preferences, Repo, ServerConfigResp, Task, UserResp } from '../../../src/api/index.js';
import { ApiError } from '../lib/api';
import { rememberTask, EMPTY_PREFERENCES } from '../lib/choices';
import { stateLabel, taskPath, canPurge } from '../lib/format';
import { api, errorMessage, UNAUTHORIZED_EVENT } from './client';
import { Composer } from './Composer';
import { Confirm, Dialog } from './Dialog';
import { GearIcon } from './icons';
import { Login } from './Login';
import { navigate, onLinkClick, useRoute } from './router';
import { NOTIFY_KEY, Settings } from './Settings';
import { pushOnHere } from './Push';
import { useTaskList } from './stores';
import { orderedTasks, TaskList } from './TaskList';
import { TaskView } from './TaskView';
import { Banner } from './Banner';
import { VoiceButton, VoiceProvider } from './Voice';

const ATTENTION = new Set(['waiting', 'asking', 'has_plan']);
// The diff viewer carries the syntax highlighter: loaded when a diff is first opened.
const DiffPage = lazy(() => import('./DiffPage').then((m) => ({ default: m.DiffPage })));

type Boot = { phase: 'loading' } | { phase: 'error'; message: string; offline: boolean } | { phase: 'login'; config: ServerConfigResp; error?: string } | { phase: 'ready'; config: ServerConfigResp; user: UserResp | null };

export function App() {
  const [boot, setBoot] = useState<Boot>({ phase: 'loading' });
  useEffect(() => {
    (async () => {
      const config = await api('serverConfig');
      if (!config.authEnabled) return setBoot({ phase: 'ready', config, user: null });
      try {
        setBoot({ phase: 'ready', config, user: await api('authMe') });
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 404)) setBoot({ phase: 'login', config });
        else throw err;
      }
    })().catch((err: unknown) => setBoot({ phase: 'error', message: errorMessage(err), offline: !(err instanceof ApiError) }));
  }, []);
  useEffect(() => {
    // Offline start (the service worker's cached shell): try again when the network is back.
    const back = () => setBoot((b) => (b.phase === 'error' && b.offline ? (location.reload(), b) : b));
    window.addEventListener('online', back);
    return () => window.removeEventListener('online', back);
  }, []);
  useEffect(() => {
    // A notification click (service worker) opens the task in this tab.
    const sw = 'serviceWorker' in navigator ? navigator.serviceWorker : null;
    const onMessage = (e: MessageEvent) => {
      const d = e.data as { type?: string; url?: string } | null;
      if (d?.type === 'caic:open' && typeof d.url === 'string' && d.url.startsWith('/')) navigate(d.url);
    };
    sw?.addEventListener('message', onMessage);
    return () => sw?.removeEventListener('message', onMessage);
  }, []);
  useEffect(() => {
    const onUnauthorized = () => setBoot((b) => (b.phase === 'ready' && b.config.authEnabled ? { phase: 'login', config: b.config, error: 'Your session ended; sign in again.' } : b));
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, []);
  if (boot.phase === 'loading') return <div className="boot muted">Loading…</div>;
  if (boot.phase === 'error')
    return (
      <div className="boot">
        {boot.offline ? (
          <Banner tone="bad">
            <span data-testid="offline">Offline: the caic server cannot be reached.</span>
          </Banner>
        ) : (
          <Banner tone="bad">Cannot reach the caic server: {boot.message}</Banner>
        )}
        <button type="button" onClick={() => location.reload()}>
          Retry
        </button>
      </div>
    );
  if (boot.phase === 'login') return <Login providers={boot.config.authProviders} {...(boot.error ? { error: boot.error } : {})} />;
  return <Main config={boot.config} user={boot.user} />;
}

/** A task URL before its task is known: loading, or "not found" once the server said so. */
function TaskPending({ missing }: { missing: boolean }) {
  if (!missing) return <p className="muted pad">Loading the task…</p>;
  return (
    <div className="pad stack" data-testid="task-not-found">
      <h1 className="task-title">Task not found</h1>
      <p className="muted">No task of yours has this address: it may have been mistyped, or belong to someone else.</p>
      <p>
        <a href="/" onClick={(e) => onLinkClick(e, '/')}>
          Back to the task list
        </a>
      </p>
    </div>
  );
}

function setFavicon(badge: boolean): void {
  const link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) return;
  const dot = badge ? '<circle cx="25" cy="7" r="6" fill="#f03e3e" stroke="#fff" stroke-width="1.5"/>' : '';
  link.href = `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#3b5bdb"/><path d="M9 11h14M9 16h10M9 21h12" stroke="#fff" stroke-width="2.6" stroke-linecap="round"/>${dot}</svg>`)}`;
}

function isTyping(el: EventTarget | null): boolean {
  const t = el as HTMLElement | null;
  return !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
}

function Main({ config, user }: { config: ServerConfigResp; user: UserResp | null }) {
  const route = useRoute();
  const [repos, setRepos] = useState<Repo[]>([]);
  const [reposLoaded, setReposLoaded] = useState(false);
  const [harnesses, setHarnesses] = useState<HarnessInfo[]>([]);
  const [preferences, setPreferences] = useState<Preferences | null>(null);
  const [loadError, setLoadError] = useState('');
  const [fetched, setFetched] = useState<Task | null>(null);
  // The task id of the URL when the server does not know it (404): "not found", not "Loading".
  const [missing, setMissing] = useState('');
  const [help, setHelp] = useState(false);
  const [purgeAsk, setPurgeAsk] = useState<Task | null>(null);
  const composerRef = useRef<HTMLTextAreaElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);

  const notify = useCallback((before: Task | undefined, after: Task) => {
    // A new tool call waiting for approval is news whatever the state did.
    const approval = after.pendingApprovals > (before?.pendingApprovals ?? 0);
    if (!approval && (!ATTENTION.has(after.state) || before?.state === after.state)) return;
    if (localStorage.getItem(NOTIFY_KEY) !== '1' || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    if (document.visibilityState === 'visible' && document.hasFocus()) return;
    // This browser gets the same news as a push (the service worker shows it): one notification, not two.
    if (pushOnHere()) return;
    const n = new Notification(`${approval ? 'Approval needed' : stateLabel(after.state)}: ${after.title}`, { body: approval ? 'A tool call waits for your answer.' : after.result || after.repos[0]?.name || '', tag: after.id });
    n.onclick = () => {
      window.focus();
      navigate(taskPath(after.id, after.title));
    };
  }, []);
  // The voice session hears of tasks that start waiting for the person, so the model can say so.
  const voiceTaskChanged = useRef<(before: Task | undefined, after: Task) => void>(() => {});
  const onTaskChange = useCallback(
    (before: Task | undefined, after: Task) => {
      notify(before, after);
      voiceTaskChanged.current(before, after);
    },
    [notify],
  );
  const list = useTaskList(onTaskChange);

  const gotRepos = useCallback((list: Repo[]) => {
    setRepos(list);
    setReposLoaded(true);
  }, []);
  const loadRepos = useCallback(() => {
    api('listRepos')
      .then(gotRepos)
      .catch((err: unknown) => setLoadError(errorMessage(err)));
  }, [gotRepos]);
  const rescan = useCallback(
    () =>
      api('rescanRepos').then((list) => {
        gotRepos(list);
        return list;
      }),
    [gotRepos],
  );
  // What the server records when a task starts, applied here too: the next new task starts from it.
  const onCreated = useCallback((t: Task) => setPreferences((p) => rememberTask(p, t)), []);
  useEffect(() => {
    loadRepos();
    api('harnesses')
      .then(setHarnesses)
      .catch((err: unknown) => setLoadError(errorMessage(err)));
    // Without preferences the composer still works, with plain defaults.
    api('getPreferences')
      .then(setPreferences)
      .catch(() => setPreferences(EMPTY_PREFERENCES));
  }, [loadRepos]);

  // A task opened by URL before the list has it (or one the list no longer shows).
  const routeId = route.page === 'task' || route.page === 'diff' ? route.id : undefined;
  const listed = routeId ? list.tasks.get(routeId) : undefined;
  useEffect(() => {
    if (!routeId || listed || !list.loaded) return;
    api('getTask', { params: { id: routeId } })
      .then(setFetched)
      .catch((err: unknown) => {
        // Not a task id (400) or not a task of this user (404): say so instead of loading forever.
        if (err instanceof ApiError && (err.status === 404 || err.status === 400)) setMissing(routeId);
        else setLoadError(errorMessage(err));
      });
  }, [routeId, listed, list.loaded]);
  const task = listed ?? (fetched?.id === routeId ? fetched : undefined);

  // Badge: how many tasks wait for the user (an answer, a plan, an approval).
  const waiting = [...list.tasks.values()].filter((t) => ATTENTION.has(t.state) || t.pendingApprovals > 0).length;
  useEffect(() => {
    document.title = `${waiting ? `(${waiting}) ` : ''}${task ? `${task.title} · ` : ''}caic`;
    setFavicon(waiting > 0);
  }, [waiting, task]);

  // Keyboard: n new task, j/k or arrows move between tasks, i focuses the input, Esc leaves a text
  // field or goes back (the task view takes it first to interrupt a running turn), Shift+Delete
  // purges the selected task (after confirmation), ? shows the list.
  const tasksRef = useRef(list.tasks);
  tasksRef.current = list.tasks;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
      if (document.querySelector('dialog[open]')) return;
      if (isTyping(e.target)) {
        if (e.key === 'Escape') (e.target as HTMLElement).blur();
        return;
      }
      const ordered = orderedTasks(tasksRef.current);
      const at = ordered.findIndex((t) => t.id === routeId);
      const go = (i: number) => {
        const t = ordered[Math.max(0, Math.min(ordered.length - 1, i))];
        if (t) navigate(taskPath(t.id, t.title));
      };
      if (e.key === 'n') {
        e.preventDefault();
        navigate('/');
        requestAnimationFrame(() => composerRef.current?.focus());
      } else if (e.key === 'j' || e.key === 'ArrowDown') {
        if (ordered.length === 0) return;
        e.preventDefault();
        go(at < 0 ? 0 : at + 1);
      } else if (e.key === 'k' || e.key === 'ArrowUp') {
        if (ordered.length === 0) return;
        e.preventDefault();
        go(at < 0 ? 0 : at - 1);
      } else if (e.key === 'i' || e.key === '/') {
        e.preventDefault();
        (inputRef.current ?? composerRef.current)?.focus();
      } else if (e.key === 'Escape' && route.page !== 'home') {
        navigate(route.page === 'diff' && task ? taskPath(task.id, task.title) : '/');
      } else if (e.key === 'Delete' && e.shiftKey && task && canPurge(task.state)) {
        setPurgeAsk(task);
      } else if (e.key === '?') {
        setHelp(true);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [routeId, route.page, task]);

  const conn = list.connection;
  return (
    <VoiceProvider status={config.voice} tasks={list.tasks} taskChanged={voiceTaskChanged}>
      <div className={`app page-${route.page}`}>
        <header className="topbar">
          <a className="logo" href="/" onClick={(e) => onLinkClick(e, '/')} aria-label="caic home">
            caic
          </a>
          <a className="button primary small" href="/" onClick={(e) => onLinkClick(e, '/')} title="New task (n)">
            + New task
          </a>
          <span className="spacer" />
          {conn.state !== 'open' && list.loaded && (
            <span className="conn warn" role="status">
              reconnecting…
            </span>
          )}
          {/* On a phone the task list sits below the new-task form: the microphone is at hand up here. */}
          {route.page === 'home' && (
            <span className="narrow-only">
              <VoiceButton where="topbar" />
            </span>
          )}
          <button type="button" className="icon" aria-label="Keyboard shortcuts" onClick={() => setHelp(true)}>
            ?
          </button>
          <a className="icon" href="/settings" onClick={(e) => onLinkClick(e, '/settings')} aria-label="Settings">
            <GearIcon />
          </a>
        </header>
        <div className="layout">
          <aside className="sidebar">
            <TaskList tasks={list.tasks} selectedId={routeId} loaded={list.loaded} page={route.page} />
          </aside>
          <main className="main">
            {loadError && (
              <Banner tone="bad" onDismiss={() => setLoadError('')}>
                {loadError}
              </Banner>
            )}
            {!config.capabilities.dockerAvailable && (
              <Banner tone="warn">
                The container engine does not answer: tasks cannot start until Docker runs.
              </Banner>
            )}
            {route.page === 'home' && (
              <Composer
                ref={composerRef}
                repos={repos}
                reposLoaded={reposLoaded}
                harnesses={harnesses}
                preferences={preferences}
                tasks={list.tasks}
                root={config.root}
                onReposChanged={loadRepos}
                onRescan={rescan}
                onCreated={onCreated}
                gitHubAvailable={config.capabilities.gitHubAppEnabled || config.authProviders.includes('github')}
                sudoAvailable={config.capabilities.sudoAvailable}
              />
            )}
            {route.page === 'settings' && <Settings preferences={preferences} config={config} user={user} repos={repos} onRescan={rescan} onPreferences={setPreferences} />}
            {route.page === 'task' && (task ? <TaskView key={task.id} task={task} harnesses={harnesses} inputRef={inputRef} repos={repos} /> : <TaskPending missing={missing === routeId} />)}
            {route.page === 'diff' &&
              (task ? (
                <Suspense fallback={<p className="muted pad">Loading the diff viewer…</p>}>
                  <DiffPage task={task} />
                </Suspense>
              ) : (
                <TaskPending missing={missing === routeId} />
              ))}
          </main>
        </div>
        <Dialog open={help} title="Keyboard shortcuts" onClose={() => setHelp(false)}>
          <table className="table">
            <tbody>
              {[
                ['n', 'New task'],
                ['j / ↓, k / ↑', 'Next / previous task'],
                ['i or /', 'Focus the message box'],
                ['Enter / Shift+Enter', 'Send / new line'],
                ['Esc', 'Interrupt the agent’s turn while it runs; otherwise leave the text box, or go back'],
                ['Shift+Delete', 'Purge the open task'],
              ].map(([k, v]) => (
                <tr key={k}>
                  <td>
                    <kbd>{k}</kbd>
                  </td>
                  <td>{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Dialog>
        <Confirm
          open={purgeAsk !== null}
          title={`Purge “${purgeAsk?.title ?? ''}”?`}
          message="The container and any unsynced work in it are deleted."
          confirmLabel="Purge"
          danger
          onConfirm={() => {
            if (purgeAsk) void api('taskPurge', { params: { id: purgeAsk.id } }).catch((err: unknown) => setLoadError(errorMessage(err)));
          }}
          onClose={() => setPurgeAsk(null)}
        />
      </div>
    </VoiceProvider>
  );
}

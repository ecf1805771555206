// The task list: live tasks grouped by repository, newest first, each with its state, cost,
// duration, diff summary and quick actions; finished (purged) tasks collapse into a history group.
import { memo, useMemo, useState } from 'react';
import type { Task } from '../../../src/api/index.js';
import { canPurge, canRevive, canStop, diffTotals, formatCost, formatDuration, stateLabel, stateTone, taskPath } from '../lib/format';
import { api, errorMessage } from './client';
import { Confirm } from './Dialog';
import { ReviveIcon, StopIcon, TrashIcon } from './icons';
import { onLinkClick } from './router';
import { Banner } from './Banner';
import { PrBadge } from './Forge';
import { VoiceButton } from './Voice';
import { ApprovalInbox } from './ApprovalInbox';

export function groupTasks(tasks: Iterable<Task>): { active: [string, Task[]][]; done: Task[] } {
  const byRepo = new Map<string, Task[]>();
  const done: Task[] = [];
  for (const t of tasks) {
    if (t.state === 'purged') {
      done.push(t);
      continue;
    }
    const repo = t.repos[0]?.name ?? '(no repository)';
    (byRepo.get(repo) ?? byRepo.set(repo, []).get(repo)!).push(t);
  }
  const newest = (a: Task, b: Task) => b.createdAt.localeCompare(a.createdAt);
  for (const list of byRepo.values()) list.sort(newest);
  done.sort(newest);
  return { active: [...byRepo.entries()].sort((a, b) => a[0].localeCompare(b[0])), done };
}

const TaskCard = memo(function TaskCard({ task, selected, onError }: { task: Task; selected: boolean; onError: (m: string) => void }) {
  const [confirm, setConfirm] = useState<null | 'stop' | 'purge'>(null);
  const totals = diffTotals(task.diffStat);
  const href = taskPath(task.id, task.title);
  const run = (fn: () => Promise<unknown>) => fn().catch((err: unknown) => onError(errorMessage(err)));
  return (
    <li className={`task-card ${stateTone(task.state)}${selected ? ' selected' : ''}`} data-testid="task-item" data-id={task.id} data-state={task.state}>
      <a href={href} onClick={(e) => onLinkClick(e, href)} aria-current={selected ? 'page' : undefined}>
        <span className={`state-dot ${stateTone(task.state)}`} aria-hidden="true" />
        <span className="task-card-main">
          <span className="task-card-title" title={task.title}>
            {task.title}
          </span>
          <span className="task-card-meta">
            {task.pendingApprovals > 0 && (
              <span className="badge approval-badge" data-testid="approval-badge" title="Tool calls waiting for your approval">
                {task.pendingApprovals} approval{task.pendingApprovals === 1 ? '' : 's'}
              </span>
            )}
            <span className="state-label">{stateLabel(task.state)}</span>
            <span>
              {task.harness}
              {task.model ? `·${task.model}` : ''}
            </span>
            {task.costUSD > 0 && <span>{formatCost(task.costUSD)}</span>}
            {task.durationMs > 0 && <span>{formatDuration(task.durationMs)}</span>}
            {totals.files > 0 && (
              <span title={`${totals.files} files changed`}>
                <span className="add">+{totals.added}</span> <span className="del">−{totals.deleted}</span> {totals.files}f
              </span>
            )}
          </span>
        </span>
      </a>
      <span className="task-card-actions">
        {task.forge && <PrBadge forge={task.forge} />}
        {canStop(task.state) && (
          <button type="button" className="small" aria-label={`Stop ${task.title}`} title="Stop" onClick={() => setConfirm('stop')}>
            <StopIcon />
          </button>
        )}
        {canRevive(task.state) && (
          <button type="button" className="small" aria-label={`Revive ${task.title}`} title="Revive" onClick={() => void run(() => api('taskRevive', { params: { id: task.id } }))}>
            <ReviveIcon />
          </button>
        )}
        {canPurge(task.state) && (
          <button type="button" className="small danger" aria-label={`Purge ${task.title}`} title="Purge" onClick={() => setConfirm('purge')}>
            <TrashIcon />
          </button>
        )}
      </span>
      <Confirm
        open={confirm === 'stop'}
        title={`Stop “${task.title}”?`}
        message="The container stops; you can revive it later."
        confirmLabel="Stop"
        onConfirm={() => void run(() => api('taskStop', { params: { id: task.id } }))}
        onClose={() => setConfirm(null)}
      />
      <Confirm
        open={confirm === 'purge'}
        title={`Purge “${task.title}”?`}
        message="The container and any unsynced work in it are deleted. The transcript stays."
        confirmLabel="Purge"
        danger
        onConfirm={() => void run(() => api('taskPurge', { params: { id: task.id } }))}
        onClose={() => setConfirm(null)}
      />
    </li>
  );
});

export function TaskList({ tasks, selectedId, loaded, page }: { tasks: Map<string, Task>; selectedId: string | undefined; loaded: boolean; page: string }) {
  const [error, setError] = useState('');
  const [showDone, setShowDone] = useState(false);
  const { active, done } = useMemo(() => groupTasks(tasks.values()), [tasks]);
  return (
    <nav className="task-list" aria-label="Tasks" data-testid="task-list" data-loaded={loaded}>
      <div className="list-head">
        <span className="list-title">Tasks</span>
        <ApprovalInbox tasks={tasks} />
        <VoiceButton where="list" />
      </div>
      {error && (
        <Banner tone="bad" onDismiss={() => setError('')}>
          {error}
        </Banner>
      )}
      {loaded && active.length === 0 && (
        // Where the new-task form is depends on the layout: beside the list on a wide screen (on
        // the home page), above it on a phone (the only page that shows the list there).
        <p className="muted pad" data-testid="empty-list">
          No running tasks.{' '}
          <span className="wide-only">{page === 'home' ? 'Describe one in the form on the right and press Start task.' : 'Start one with + New task (n).'}</span>
          <span className="narrow-only">Start one with the form above.</span>
        </p>
      )}
      {active.map(([repo, list]) => (
        <section key={repo} className="repo-group" aria-label={repo}>
          <h3 className="repo-name">{repo}</h3>
          <ul>
            {list.map((t) => (
              <TaskCard key={t.id} task={t} selected={t.id === selectedId} onError={setError} />
            ))}
          </ul>
        </section>
      ))}
      {done.length > 0 && (
        <section className="repo-group" aria-label="Finished tasks">
          <button type="button" className="linkish" aria-expanded={showDone} onClick={() => setShowDone(!showDone)}>
            {showDone ? '▾' : '▸'} Finished ({done.length})
          </button>
          {showDone && (
            <ul>
              {done.map((t) => (
                <TaskCard key={t.id} task={t} selected={t.id === selectedId} onError={setError} />
              ))}
            </ul>
          )}
        </section>
      )}
    </nav>
  );
}

/** Tasks in the order the list shows them (for keyboard navigation). */
export function orderedTasks(tasks: Map<string, Task>): Task[] {
  const { active } = groupTasks(tasks.values());
  return active.flatMap(([, list]) => list);
}

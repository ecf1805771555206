// Every approval request waiting for the caller, across tasks (GET /api/v1/approvals): a button in
// the task list's head while any task waits, opening a dialog with one card per request.
import { useEffect, useState } from 'react';
import type { PendingApproval, Task } from '../../../src/api/index.js';
import { taskPath } from '../lib/format';
import { ApprovalCard } from './ApprovalCard';
import { Banner } from './Banner';
import { api, errorMessage } from './client';
import { Dialog } from './Dialog';
import { onLinkClick } from './router';

/** How many requests wait, from the task list's counts (live through the task-list stream). */
export function pendingTotal(tasks: Iterable<Task>): number {
  let n = 0;
  for (const t of tasks) n += t.pendingApprovals;
  return n;
}

export function ApprovalInbox({ tasks }: { tasks: ReadonlyMap<string, Task> }) {
  const [open, setOpen] = useState(false);
  const [list, setList] = useState<PendingApproval[] | null>(null);
  const [error, setError] = useState('');
  const total = pendingTotal(tasks.values());
  // Loaded on opening, and again whenever the count the task list shows changes while it is open.
  useEffect(() => {
    if (!open) return;
    let gone = false;
    api('listApprovals')
      .then((r) => !gone && setList(r.approvals))
      .catch((err: unknown) => !gone && setError(errorMessage(err)));
    return () => {
      gone = true;
    };
  }, [open, total]);
  if (total === 0 && !open) return null;
  return (
    <>
      <button type="button" className="small approval-inbox-button" data-testid="approval-inbox-button" onClick={() => setOpen(true)} title="Tool calls waiting for your approval">
        {total} approval{total === 1 ? '' : 's'}
      </button>
      <Dialog
        open={open}
        title="Waiting for your approval"
        onClose={() => {
          setOpen(false);
          setList(null);
          setError('');
        }}
      >
        <div className="approval-inbox" data-testid="approval-inbox">
          {error && (
            <Banner tone="bad" onDismiss={() => setError('')}>
              {error}
            </Banner>
          )}
          {list === null ? (
            <p className="muted">Loading…</p>
          ) : list.length === 0 ? (
            <p className="muted">Nothing waits for your approval.</p>
          ) : (
            list.map((a) => {
              const t = tasks.get(a.taskId);
              const href = taskPath(a.taskId, t?.title ?? '');
              return (
                <div key={`${a.taskId}/${a.requestId}`} className="stack">
                  <a
                    className="approval-inbox-task"
                    href={href}
                    onClick={(e) => {
                      setOpen(false);
                      onLinkClick(e, href);
                    }}
                  >
                    {t?.title ?? a.taskId}
                  </a>
                  <ApprovalCard
                    req={a}
                    canAnswer
                    where="inbox"
                    onError={setError}
                    onAnswered={() => setList((l) => l?.filter((x) => !(x.taskId === a.taskId && x.requestId === a.requestId)) ?? null)}
                  />
                </div>
              );
            })
          )}
        </div>
      </Dialog>
    </>
  );
}

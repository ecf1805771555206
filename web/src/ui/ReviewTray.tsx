// The review tray of a task's diff: the comments not sent yet (kept by the server, so they survive
// reloads), each editable and deletable, and "Send review", which sends them to the agent as one input.
import { useState } from 'react';
import type { ReviewComment, Task } from '../../../src/api/index.js';
import { canDo } from '../../../src/api/tasks.js';
import { api, errorMessage } from './client';

const lines = (c: ReviewComment) => (c.startLine === c.endLine ? `line ${c.startLine}` : `lines ${c.startLine}–${c.endLine}`);

export function ReviewTray({ task, comments, onChanged, onError }: { task: Task; comments: readonly ReviewComment[]; onChanged: () => void; onError: (message: string) => void }) {
  const [sending, setSending] = useState(false);
  const [sent, setSent] = useState(0);
  const canSend = canDo('input', task.state);
  if (comments.length === 0 && !sent) return null;
  const send = async () => {
    setSending(true);
    try {
      const r = await api('reviewSend', { params: { id: task.id } });
      setSent(r.sent);
    } catch (err) {
      onError(errorMessage(err));
    } finally {
      setSending(false);
      onChanged();
    }
  };
  return (
    <section className="review-tray" aria-label="Review" data-testid="review-tray">
      <header className="review-tray-head">
        <strong>
          Review · {comments.length} comment{comments.length === 1 ? '' : 's'}
        </strong>
        {comments.length > 0 && (
          <button type="button" className="primary" disabled={!canSend || sending} title={canSend ? undefined : `The task is ${task.state}: it cannot take input now`} onClick={() => void send()}>
            {sending ? 'Sending…' : 'Send review'}
          </button>
        )}
      </header>
      {comments.length === 0 && sent > 0 && (
        <p className="muted small" role="status">
          Sent {sent} comment{sent === 1 ? '' : 's'} to the agent.
        </p>
      )}
      {!canSend && comments.length > 0 && <p className="muted small">The task is {task.state}: the review can be sent once it takes input again.</p>}
      <ol className="review-list">
        {comments.map((c) => (
          <TrayItem key={c.id} task={task} comment={c} onChanged={onChanged} onError={onError} />
        ))}
      </ol>
    </section>
  );
}

function TrayItem({ task, comment, onChanged, onError }: { task: Task; comment: ReviewComment; onChanged: () => void; onError: (message: string) => void }) {
  const [editing, setEditing] = useState(false);
  const [body, setBody] = useState(comment.body);
  const [busy, setBusy] = useState(false);
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await fn();
      setEditing(false);
      onChanged();
    } catch (err) {
      onError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const params = { id: task.id, commentId: comment.id };
  return (
    <li className="review-item" data-testid="review-comment">
      <div className="review-where">
        <code>{comment.file}</code> · {lines(comment)} <span className="muted">({comment.side})</span>
      </div>
      {comment.quote && <pre className="review-quote">{comment.quote}</pre>}
      {editing ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (body.trim()) void run(() => api('reviewEdit', { params, body: { body: body.trim() } }));
          }}
        >
          <textarea aria-label="Edit the comment" value={body} maxLength={8000} rows={3} autoFocus onChange={(e) => setBody(e.target.value)} />
          <div className="row end">
            <button type="button" disabled={busy} onClick={() => (setEditing(false), setBody(comment.body))}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={busy || !body.trim()}>
              Save
            </button>
          </div>
        </form>
      ) : (
        <>
          <div className="review-body">{comment.body}</div>
          <div className="row end">
            <button type="button" disabled={busy} onClick={() => setEditing(true)}>
              Edit
            </button>
            <button type="button" disabled={busy} onClick={() => void run(() => api('reviewDelete', { params }))}>
              Delete
            </button>
          </div>
        </>
      )}
    </li>
  );
}

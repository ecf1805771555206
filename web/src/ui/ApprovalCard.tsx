// A tool call waiting for a person: the tool, its arguments (a command, a file, an edit as a diff, a
// URL, else JSON; always as text), the agent's reason, the time left, and Allow once / Allow for
// this task / Deny with a message; once settled, the outcome and who or what settled it.
import { memo, useEffect, useId, useState } from 'react';
import type { ApprovalDecision } from '../../../src/api/index.js';
import { editLines, outcomeText, timeLeft, toolLine, toolView, type ToolView } from '../lib/approvals';
import type { ApprovalOutcome } from '../lib/transcript';
import { api, errorMessage } from './client';
import './approval.css';

export interface ApprovalRequest {
  taskId: string;
  requestId: string;
  tool: string;
  input: unknown;
  reason: string;
  expiresAt: string;
}

/** The current time, ticking every second while `on` (one timer per card that shows a countdown). */
function useNow(on: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [on]);
  return now;
}

function ToolArgs({ view, reason }: { view: ToolView; reason: string }) {
  switch (view.kind) {
    case 'command':
      return (
        <>
          {/* Claude Code's reason for a Bash call is often the command's own description: said once. */}
          {view.description && view.description !== reason && <div className="muted small">{view.description}</div>}
          <pre className="code approval-command" data-testid="approval-command">
            <span className="muted" aria-hidden="true">$ </span>
            {view.command}
          </pre>
        </>
      );
    case 'file':
      return (
        <div className="approval-path">
          <code>{view.path}</code>
          {view.detail && <span className="muted small"> · {view.detail}</span>}
        </div>
      );
    case 'edit':
      return (
        <>
          <div className="approval-path">
            <code>{view.path}</code>
          </div>
          {view.hunks.map((h, i) => (
            <pre key={i} className="code approval-diff" aria-label={`Change ${i + 1} of ${view.hunks.length}`}>
              {editLines(h).map((l, j) => (
                <span key={j} className={l.sign === '+' ? 'add' : 'del'}>
                  {l.sign} {l.text}
                  {'\n'}
                </span>
              ))}
            </pre>
          ))}
        </>
      );
    case 'write':
      return (
        <>
          <div className="approval-path">
            <code>{view.path}</code> <span className="muted small">(whole file)</span>
          </div>
          <pre className="code approval-diff">
            {editLines({ old: '', new: view.content }).map((l, j) => (
              <span key={j} className="add">
                + {l.text}
                {'\n'}
              </span>
            ))}
          </pre>
        </>
      );
    case 'url':
      return (
        <div className="approval-path">
          <code>{view.url}</code>
          {view.detail && <div className="muted small">{view.detail}</div>}
        </div>
      );
    case 'json':
      return <pre className="code">{view.json}</pre>;
  }
}

/**
 * One approval request. `canAnswer`: the task is live (a stopped task's requests are settled by the
 * server). `where`: in the transcript a pending request is one line pointing at the tray above the
 * message box, where its full card is answered (one set of buttons per request on the page); once
 * settled the transcript shows the full card with its outcome. The inbox shows compact cards.
 * `onAnswered` hears a decision the server took (the inbox drops the request).
 */
export const ApprovalCard = memo(function ApprovalCard({
  req,
  resolved,
  canAnswer,
  where,
  onError,
  onAnswered,
  heading,
}: {
  req: ApprovalRequest;
  resolved?: ApprovalOutcome | undefined;
  canAnswer: boolean;
  where: 'transcript' | 'tray' | 'inbox';
  onError: (message: string) => void;
  onAnswered?: (decision: ApprovalDecision) => void;
  heading?: React.ReactNode;
}) {
  const [message, setMessage] = useState('');
  const [sending, setSending] = useState<ApprovalDecision | null>(null);
  const [sent, setSent] = useState<ApprovalDecision | null>(null);
  const pending = !resolved;
  const now = useNow(pending);
  const left = timeLeft(req.expiresAt, now);
  const view = toolView(req.tool, req.input);
  const msgId = useId();
  const answer = async (decision: ApprovalDecision) => {
    setSending(decision);
    try {
      const body = decision === 'deny' && message.trim() ? { decision, message: message.trim() } : { decision };
      await api('answerApproval', { params: { id: req.taskId, requestId: req.requestId }, body });
      setSent(decision);
      onAnswered?.(decision);
    } catch (err) {
      onError(errorMessage(err));
    } finally {
      setSending(null);
    }
  };
  const elsewhere = pending && where === 'transcript';
  const compact = elsewhere || where === 'inbox';
  const active = pending && canAnswer && sent === null && !elsewhere;
  const outcome = resolved ? (resolved.decision === 'deny' ? 'denied' : 'allowed') : 'pending';
  return (
    <form
      className={`card approval ${outcome}${compact ? ' compact' : ''}`}
      aria-label={`Approval request: ${req.tool}`}
      data-testid="approval-card"
      data-where={where}
      data-request-id={req.requestId}
      data-outcome={outcome}
      onSubmit={(e) => {
        // Enter in the message box denies with that message (the safe default).
        e.preventDefault();
        if (active && sending === null) void answer('deny');
      }}
    >
      <div className="approval-head">
        <span className={`dot ${pending ? 'running' : outcome === 'denied' ? 'error' : 'ok'}`} aria-hidden="true" />
        <strong>{pending ? 'Approval needed' : outcome === 'denied' ? 'Denied' : 'Allowed'}</strong>
        <span className="tool-name">{req.tool}</span>
        {heading}
        <span className="spacer" />
        {pending && !elsewhere && (
          <span className="muted small" data-testid="approval-time-left" title={`Denied unanswered at ${new Date(req.expiresAt).toLocaleTimeString()}`}>
            {left ? `${left} left` : 'time is up'}
          </span>
        )}
      </div>
      {compact ? (
        <div className="approval-line" title={toolLine(view)}>
          <code>{toolLine(view)}</code>
        </div>
      ) : (
        <div className="approval-args">
          <ToolArgs view={view} reason={req.reason} />
        </div>
      )}
      {req.reason && !elsewhere && (
        <div className="approval-reason small">
          <span className="muted">Reason: </span>
          {req.reason}
        </div>
      )}
      {resolved ? (
        <div className="approval-outcome small" data-testid="approval-outcome" role="status">
          {outcomeText(resolved)}
          {resolved.message && `: “${resolved.message}”`}
        </div>
      ) : active ? (
        <div className="approval-actions">
          <label className="approval-message" htmlFor={msgId}>
            <span className="sr-only">Message to the agent if denied (optional)</span>
            <input id={msgId} type="text" maxLength={4000} placeholder="Message if denied (optional)" value={message} disabled={sending !== null} onChange={(e) => setMessage(e.target.value)} />
          </label>
          <div className="row">
            <button type="button" className="primary" disabled={sending !== null} onClick={() => void answer('allowOnce')}>
              {sending === 'allowOnce' ? 'Allowing…' : 'Allow once'}
            </button>
            <button type="button" disabled={sending !== null} onClick={() => void answer('allowTask')} title={`Allow this and every later ${req.tool} call of this task`}>
              {sending === 'allowTask' ? 'Allowing…' : 'Allow for this task'}
            </button>
            <button type="submit" className="danger" disabled={sending !== null}>
              {sending === 'deny' ? 'Denying…' : 'Deny'}
            </button>
          </div>
        </div>
      ) : (
        <div className="muted small">{elsewhere ? (canAnswer ? 'Waiting for your answer, above the message box.' : 'Unanswered.') : sent ? 'Answer sent…' : 'The agent is not running.'}</div>
      )}
    </form>
  );
});

// One card per transcript item: text, thinking, tool calls, questions, plans, results, errors and
// the provisioning progress.
import { memo, useState } from 'react';
import type { AskAnswer, Item } from '../lib/transcript';
import { formatAnswers, parseAnswers, systemLine } from '../lib/transcript';
import { diffTotals, formatCost, formatDuration, taskPath } from '../lib/format';
import { api, errorMessage } from './client';
import { ApprovalCard } from './ApprovalCard';
import { Markdown } from './Markdown';
import { navigate, onLinkClick } from './router';

export interface CardContext {
  taskId: string;
  title: string;
  /** The task's state allows answering (asking) / executing a plan (has_plan). */
  canAnswer: boolean;
  canExecutePlan: boolean;
  /** The task failed: a start card still collecting phases ended with it. */
  failed: boolean;
  /**
   * Answers being chosen on ask cards, by item key: a card scrolled out of the virtual list is
   * unmounted, and its choices must be there when it comes back.
   */
  drafts: Map<string, AskAnswer[]>;
  onError: (message: string) => void;
  /** A user message can restart the agent from it (an idle live task) / fork a new task from it (a task with a branch). */
  canRestartFrom: boolean;
  canFork: boolean;
  /** The agent runs: its approval requests can be answered. */
  canApprove: boolean;
}

type Of<T extends Item['type']> = Extract<Item, { type: T }>;

function toolSummary(input: unknown): string {
  const i = (input ?? {}) as Record<string, unknown>;
  const pick = (k: string) => (typeof i[k] === 'string' ? (i[k]) : '');
  const s =
    pick('command') || pick('file_path') || pick('path') || pick('pattern') || pick('url') || pick('query') || pick('description') || (Array.isArray(i.todos) ? `${i.todos.length} items` : '');
  if (s) return s.split('\n')[0]!.slice(0, 160);
  if (i.truncated) return '(large input)';
  const json = JSON.stringify(input);
  return json && json !== '{}' ? json.slice(0, 120) : '';
}

const ToolCard = memo(function ToolCard({ item, ctx }: { item: Of<'tool'>; ctx: CardContext }) {
  const [open, setOpen] = useState(false);
  const [full, setFull] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(false);
  const status = item.result ? (item.result.isError ? 'error' : 'ok') : item.ended ? 'ended' : 'running';
  const loadFull = async () => {
    setLoading(true);
    try {
      const r = await api('taskToolInput', { params: { id: ctx.taskId, toolUseId: item.toolUseId } });
      setFull(r.input);
    } catch (err) {
      ctx.onError(errorMessage(err));
    } finally {
      setLoading(false);
    }
  };
  const input = full ?? item.input;
  return (
    <div className={`card tool ${status}`}>
      <button type="button" className="tool-head" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span className={`dot ${status}`} aria-hidden="true" />
        <span className="tool-name">{item.name}</span>
        <span className="tool-summary">{toolSummary(item.input)}</span>
        <span className="tool-time" title={status === 'ended' ? 'Ended without a result' : undefined}>
          {item.result ? formatDuration(item.result.durationMs) : status === 'ended' ? '–' : '…'}
        </span>
      </button>
      {open && (
        <div className="tool-body">
          <div className="label">Input</div>
          <pre className="code">{JSON.stringify(input, null, 2)}</pre>
          {item.inputTruncated && full === undefined && (
            <button type="button" onClick={() => void loadFull()} disabled={loading}>
              {loading ? 'Loading…' : 'Load the full input'}
            </button>
          )}
          {item.result && (
            <>
              <div className="label">{item.result.isError ? 'Error' : 'Output'}</div>
              <pre className="code">{item.result.content || '(no output)'}</pre>
            </>
          )}
        </div>
      )}
    </div>
  );
});

const AskCard = memo(function AskCard({ item, ctx }: { item: Of<'ask'>; ctx: CardContext }) {
  // Answered: the choices are read back from the answer, so they survive unmounting and reloads.
  const [draft, setDraft] = useState<AskAnswer[]>(() => ctx.drafts.get(item.key) ?? item.questions.map(() => ({ selected: [], other: '' })));
  const answers = item.answered && item.answer !== undefined ? parseAnswers(item.questions, item.answer) : draft;
  const setAnswers = (update: (all: AskAnswer[]) => AskAnswer[]) =>
    setDraft((all) => {
      const next = update(all);
      ctx.drafts.set(item.key, next);
      return next;
    });
  const [sending, setSending] = useState(false);
  const active = ctx.canAnswer && !item.answered;
  const ready = answers.every((a) => a.selected.length > 0 || a.other.trim() !== '');
  const toggle = (qi: number, label: string, multi: boolean) =>
    setAnswers((all) =>
      all.map((a, i) => {
        if (i !== qi) return a;
        if (!multi) return { ...a, selected: [label] };
        return { ...a, selected: a.selected.includes(label) ? a.selected.filter((l) => l !== label) : [...a.selected, label] };
      }),
    );
  const send = async () => {
    setSending(true);
    try {
      await api('taskInput', { params: { id: ctx.taskId }, body: { prompt: { text: formatAnswers(item.questions, answers) } } });
    } catch (err) {
      ctx.onError(errorMessage(err));
    } finally {
      setSending(false);
    }
  };
  return (
    <form
      className={`card ask${active ? ' active' : ''}`}
      aria-label="Question from the agent"
      onSubmit={(e) => {
        e.preventDefault();
        if (active && ready) void send();
      }}
    >
      {item.questions.map((q, qi) => (
        <fieldset key={qi} disabled={!active || sending}>
          <legend>
            {q.header && <span className="chip">{q.header}</span>} {q.question}
          </legend>
          {q.options.map((o) => (
            <label key={o.label} className="option">
              <input type={q.multiSelect ? 'checkbox' : 'radio'} name={`q${item.key}-${qi}`} checked={answers[qi]!.selected.includes(o.label)} onChange={() => toggle(qi, o.label, q.multiSelect)} />
              <span>
                <strong>{o.label}</strong>
                {o.description && <span className="muted"> — {o.description}</span>}
              </span>
            </label>
          ))}
          <input
            type="text"
            className="other"
            placeholder="Other…"
            aria-label={`Other answer to: ${q.question}`}
            value={answers[qi]!.other}
            onChange={(e) => setAnswers((all) => all.map((a, i) => (i === qi ? { ...a, other: e.target.value } : a)))}
          />
        </fieldset>
      ))}
      {active ? (
        <div className="row end">
          <button type="submit" className="primary" disabled={!ready || sending}>
            {sending ? 'Sending…' : 'Send answer'}
          </button>
        </div>
      ) : (
        <div className="muted small" data-testid="ask-status">
          {item.answered ? 'Answered' : 'No longer waiting for an answer'}
        </div>
      )}
    </form>
  );
});

const PlanCard = memo(function PlanCard({ item, ctx }: { item: Of<'plan'>; ctx: CardContext }) {
  const [busy, setBusy] = useState(false);
  const execute = async () => {
    setBusy(true);
    try {
      await api('taskRestart', { params: { id: ctx.taskId }, body: {} });
    } catch (err) {
      ctx.onError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="card plan" aria-label="Plan">
      <div className="label">Plan</div>
      <Markdown text={item.plan} />
      {ctx.canExecutePlan && (
        <div className="row end">
          <button type="button" className="primary" disabled={busy} onClick={() => void execute()}>
            {busy ? 'Starting…' : 'Execute plan'}
          </button>
        </div>
      )}
    </div>
  );
});

function ResultCard({ item, ctx }: { item: Of<'result'>; ctx: CardContext }) {
  const e = item.ev;
  const totals = item.diffStat ? diffTotals(item.diffStat) : null;
  return (
    <div className={`card result${e.isError ? ' error' : ''}`} aria-label="Result">
      <div className="result-head">
        <strong>{e.isError ? 'Failed' : 'Done'}</strong>
        <span>{formatCost(e.costUSD)}</span>
        <span>{formatDuration(e.durationMs)}</span>
        <span>
          {e.numTurns} turn{e.numTurns === 1 ? '' : 's'}
        </span>
        {totals && totals.files > 0 && (
          <a href={taskPath(ctx.taskId, ctx.title, true)} onClick={(ev) => onLinkClick(ev, taskPath(ctx.taskId, ctx.title, true))}>
            {totals.files} file{totals.files === 1 ? '' : 's'} <span className="add">+{totals.added}</span> <span className="del">−{totals.deleted}</span>
          </a>
        )}
      </div>
      {e.result && e.isError && <div className="result-text">{e.result}</div>}
    </div>
  );
}

const PROVISION_LABEL = { running: 'Starting', done: 'Started', failed: 'Start failed' } as const;

function ProvisionCard({ item, ctx }: { item: Of<'provision'>; ctx: CardContext }) {
  const [open, setOpen] = useState(false);
  const status = item.status === 'running' && ctx.failed ? 'failed' : item.status;
  const total = item.phases.reduce((a, p) => a + (p.durationMs ?? 0), 0);
  const last = item.phases[item.phases.length - 1];
  return (
    <div className="card provision" data-testid="provision" data-status={status}>
      <button type="button" className="tool-head" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span className={`dot ${status === 'done' ? 'ok' : status === 'failed' ? 'error' : 'running'}`} aria-hidden="true" />
        <span className="tool-name">{PROVISION_LABEL[status]}</span>
        <span className="tool-summary">{status === 'running' ? last?.message : `${item.phases.length} steps`}</span>
        <span className="tool-time">{formatDuration(total)}</span>
      </button>
      {open && (
        <ol className="phases">
          {item.phases.map((p, i) => (
            <li key={i}>
              <span>{p.message}</span>
              {p.durationMs !== undefined && <span className="muted"> {formatDuration(p.durationMs)}</span>}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function Thinking({ item }: { item: Of<'thinking'> }) {
  return (
    <details className="card thinking">
      <summary>Thinking</summary>
      <div className="thinking-text">{item.text}</div>
    </details>
  );
}

export const Card = memo(function Card({ item, ctx }: { item: Item; ctx: CardContext }) {
  switch (item.type) {
    case 'text':
      return (
        <div className={`msg agent${item.streaming ? ' streaming' : ''}`}>
          <Markdown text={item.text} />
        </div>
      );
    case 'thinking':
      return <Thinking item={item} />;
    case 'user':
      return <UserMessage item={item} ctx={ctx} />;
    case 'review':
      return <ReviewCard item={item} />;
    case 'tool':
      return <ToolCard item={item} ctx={ctx} />;
    case 'ask':
      return <AskCard item={item} ctx={ctx} />;
    case 'plan':
      return <PlanCard item={item} ctx={ctx} />;
    case 'result':
      return <ResultCard item={item} ctx={ctx} />;
    case 'error':
      return (
        <div className="card error" role="alert">
          <strong>Error:</strong> {item.message}
          {item.line && <pre className="code">{item.line}</pre>}
        </div>
      );
    case 'provision':
      return <ProvisionCard item={item} ctx={ctx} />;
    case 'log':
      return <div className="line muted small">{item.message}</div>;
    case 'init':
      return (
        <div className="line muted small">
          Agent {item.agentVersion} · {item.model}
        </div>
      );
    case 'system':
      if (item.subtype === 'ci') return <CICard detail={item.detail} />;
      return <div className="line muted small">{systemLine(item.subtype, item.detail)}</div>;
    case 'approval':
      return <ApprovalCard req={{ ...item.ev, taskId: ctx.taskId }} resolved={item.resolved} canAnswer={ctx.canApprove} where="transcript" onError={ctx.onError} />;
    case 'subagent':
      return (
        <div className="line muted small">
          Subagent: {item.description}
          {item.status ? ` — ${item.status}` : ' …'}
        </div>
      );
  }
});

/**
 * A user message, with "Edit and restart from here" (the message, edited, starts a new session on
 * the branch as it was then) and "Fork from here" (a new task on a new branch at the commit the
 * task had once this message's turn ended).
 */
function UserMessage({ item, ctx }: { item: Of<'user'>; ctx: CardContext }) {
  const [mode, setMode] = useState<'restart' | 'fork' | null>(null);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const open = (m: 'restart' | 'fork') => {
    setMode(m);
    setText(m === 'restart' ? item.text : '');
  };
  const submit = async () => {
    if (!mode || !text.trim()) return;
    setBusy(true);
    try {
      const body = { eventId: item.eventId, prompt: { text } };
      if (mode === 'restart') await api('taskRestartFrom', { params: { id: ctx.taskId }, body });
      else {
        const t = await api('taskFork', { params: { id: ctx.taskId }, body });
        navigate(taskPath(t.id, t.title));
      }
      setMode(null);
    } catch (err) {
      ctx.onError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="user-turn" data-testid="user-message" data-event-id={item.eventId}>
      <div className="msg user">
        <div className="user-text">{item.text}</div>
        {item.images > 0 && (
          <div className="muted small">
            {item.images} image{item.images === 1 ? '' : 's'}
          </div>
        )}
      </div>
      {mode ? (
        <form
          className="user-rewind"
          aria-label={mode === 'restart' ? 'Edit and restart from this message' : 'Fork from this message'}
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <div className="muted small">
            {mode === 'restart'
              ? 'A new agent session starts with this message (edited), the earlier conversation summarised; the branch goes back to the commit it had when the message was sent (uncommitted work is stashed).'
              : 'A new task on a new branch, at the commit this task had once this message was answered; the conversation up to here is summarised before your prompt.'}
          </div>
          <textarea aria-label={mode === 'restart' ? 'Edited message' : 'Prompt of the new task'} value={text} rows={3} autoFocus onChange={(e) => setText(e.target.value)} />
          <div className="row end">
            <button type="button" disabled={busy} onClick={() => setMode(null)}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={busy || !text.trim()}>
              {busy ? 'Starting…' : mode === 'restart' ? 'Restart from here' : 'Fork'}
            </button>
          </div>
        </form>
      ) : (
        (ctx.canRestartFrom || ctx.canFork) && (
          <div className="user-actions">
            {ctx.canRestartFrom && (
              <button type="button" className="link small" onClick={() => open('restart')}>
                Edit and restart from here
              </button>
            )}
            {ctx.canFork && (
              <button type="button" className="link small" onClick={() => open('fork')}>
                Fork from here
              </button>
            )}
          </div>
        )
      )}
    </div>
  );
}

/** Review comments sent to the agent as one input: where each one is, the lines it quotes, what it says. */
function ReviewCard({ item }: { item: Of<'review'> }) {
  return (
    <div className="msg user review-card" data-testid="review-card" aria-label="Review">
      <div className="label">
        Review · {item.comments.length} comment{item.comments.length === 1 ? '' : 's'}
      </div>
      <ol>
        {item.comments.map((c, i) => (
          <li key={i}>
            <div className="small">
              <code>{c.file}</code> · {c.startLine === c.endLine ? `line ${c.startLine}` : `lines ${c.startLine}–${c.endLine}`}
            </div>
            {c.quote && <pre className="code">{c.quote}</pre>}
            <div className="user-text">{c.body}</div>
          </li>
        ))}
      </ol>
    </div>
  );
}

/** A CI result on the task's pull request: the first line, and the failing checks with their logs folded. */
function CICard({ detail }: { detail: unknown }) {
  const d = (detail ?? {}) as { message?: unknown; forge?: { ci?: { state?: unknown } | null; url?: unknown } | null };
  const message = typeof d.message === 'string' ? d.message : '';
  const state = typeof d.forge?.ci?.state === 'string' ? d.forge.ci.state : 'none';
  const [first, ...rest] = message.split('\n');
  const more = rest.join('\n').trim();
  return (
    <div className={`ci-card ci-${state} small`} data-testid="ci-card" data-ci={state}>
      <div>{first || systemLine('ci', detail)}</div>
      {more && (
        <details>
          <summary className="muted">Failing checks</summary>
          <pre>{more}</pre>
        </details>
      )}
    </div>
  );
}

// The transcript reducer: folds a task's event stream into the items the task view shows (text
// with its streaming deltas, tool calls joined with their results, asks, plans, results, the
// provisioning phases). Pure and incremental: events are applied in batches, never re-read.
// Also the pure helpers around it: answers to asks (formatted and read back), the text of
// system lines, whether an error is already in the transcript.
import type { DiffStatEntry, EventMessage, ReviewedLines, Usage } from '../../../src/api/index.js';
import { renderReview } from '../../../src/api/review.js';
import type { AskQuestionView } from '../../../src/client/asks.js';
export { formatAnswers, type AskQuestionView } from '../../../src/client/asks.js';

type Ev<K extends EventMessage['kind']> = Extract<EventMessage, { kind: K }>;

export type Item =
  | { key: string; type: 'text'; text: string; streaming: boolean; ts: string }
  | { key: string; type: 'thinking'; text: string; ts: string }
  | { key: string; type: 'user'; text: string; images: number; ts: string; eventId: number }
  /** Review comments sent as one input: shown instead of that input's plain text (`text`), once it is matched. */
  | { key: string; type: 'review'; comments: ReviewedLines[]; text: string; matched: boolean; ts: string }
  | {
      key: string;
      type: 'tool';
      toolUseId: string;
      name: string;
      input: unknown;
      inputTruncated: boolean;
      result?: { content: string; isError: boolean; durationMs: number };
      /** The turn or session ended without a result for this call: it no longer runs. */
      ended?: boolean;
      ts: string;
    }
  | {
      key: string;
      type: 'ask';
      toolUseId: string;
      questions: AskQuestionView[];
      answered: boolean;
      /** The user message that answered it (the card shows the choices it names). */
      answer?: string;
      ts: string;
    }
  | { key: string; type: 'plan'; toolUseId: string; plan: string; ts: string }
  | { key: string; type: 'result'; ev: Ev<'result'>; diffStat: DiffStatEntry[] | null }
  | { key: string; type: 'error'; message: string; line?: string; ts: string }
  | {
      key: string;
      type: 'provision';
      phases: { message: string; phase?: string; durationMs?: number; ts: string }[];
      /** Ends at the first event that is not a start phase: `failed` when that is an error. */
      status: 'running' | 'done' | 'failed';
    }
  | { key: string; type: 'log'; message: string; ts: string }
  | { key: string; type: 'init'; model: string; agentVersion: string; sessionId: string; ts: string }
  | { key: string; type: 'system'; subtype: string; detail?: unknown; ts: string }
  | { key: string; type: 'subagent'; taskId: string; description: string; status?: string; ts: string };

export interface TodoView {
  content: string;
  status: string;
  activeForm?: string;
}

export interface TranscriptState {
  /** Highest event id applied; events at or below it are duplicates and ignored. */
  lastId: number;
  items: readonly Item[];
  todos: readonly TodoView[];
  usage: Usage | null;
  contextWindow: number;
  /** The latest resource sample (CPU, memory, disk), shown in the task's header. */
  stats: Extract<EventMessage, { kind: 'stats' }> | null;
  /** The latest table of connections the task's egress policy refused (null before any). */
  egress: Extract<EventMessage, { kind: 'egress' }>['blocked'] | null;
  /** Index in `items` of the text still receiving deltas, or -1. */
  streamingAt: number;
  /** Indexes of tool items by toolUseId, to attach results. */
  tools: ReadonlyMap<string, number>;
  /** Indexes of tool items still waiting for their result (closed when the turn ends). */
  pendingTools: readonly number[];
  /** Index of the start-progress card while it still collects phases, or -1. */
  provisionAt: number;
  subagents: ReadonlyMap<string, number>;
  /** Count of events applied (for tests and the bench). */
  events: number;
  /** Live events whose id was not the next one: a lost event (always 0 unless something broke). */
  gaps: number;
}

export const emptyTranscript: TranscriptState = {
  lastId: 0,
  items: [],
  todos: [],
  usage: null,
  contextWindow: 0,
  stats: null,
  egress: null,
  streamingAt: -1,
  tools: new Map(),
  pendingTools: [],
  provisionAt: -1,
  subagents: new Map(),
  events: 0,
  gaps: 0,
};

/** Phases of a task start: shown together in one progress card, not one line each. */
const PROVISION_PHASES = /^(branch|container\.|provision|ssh|prepare|push|relay|env|agent)/;

function isPlanTool(name: string): boolean {
  return name === 'ExitPlanMode' || name === 'exit_plan_mode';
}

/** Session starts that begin a new conversation (the old todos and context no longer apply). */
const FRESH_SESSIONS = new Set(['clear', 'restart']);

/**
 * Applies a batch of events. Returns the same state object when nothing changed (all duplicates),
 * else a new state sharing every untouched item.
 */
export function applyEvents(state: TranscriptState, events: readonly EventMessage[], opts: { live?: boolean } = {}): TranscriptState {
  let items: Item[] | null = null;
  let tools: Map<string, number> | null = null;
  let subagents: Map<string, number> | null = null;
  let { lastId, todos, usage, contextWindow, stats, egress, streamingAt, pendingTools, provisionAt } = state;
  let applied = 0;
  let gaps = state.gaps;
  const list = (): Item[] => (items ??= state.items.slice());
  const toolMap = (): Map<string, number> => (tools ??= new Map(state.tools));
  const subMap = (): Map<string, number> => (subagents ??= new Map(state.subagents));
  const push = (item: Item): number => list().push(item) - 1;
  // The agent's message in progress ends where the agent does something else. A user message is
  // not such a thing: it is queued while the agent keeps streaming the same message.
  const endStream = () => {
    if (streamingAt >= 0) {
      const it = list()[streamingAt];
      if (it?.type === 'text') list()[streamingAt] = { ...it, streaming: false };
      streamingAt = -1;
    }
  };
  // The start card collects phases until the session starts or the agent speaks; an error ends it as failed.
  const endProvision = (status: 'done' | 'failed') => {
    if (provisionAt < 0) return;
    const it = list()[provisionAt];
    if (it?.type === 'provision') list()[provisionAt] = { ...it, status };
    provisionAt = -1;
  };
  // A turn or session that ended leaves no tool call running, whether or not its result came.
  const endTools = () => {
    if (pendingTools.length === 0) return;
    for (const at of pendingTools) {
      const it = list()[at];
      if (it?.type === 'tool' && !it.result) list()[at] = { ...it, ended: true };
    }
    pendingTools = [];
  };

  for (const e of events) {
    if (e.id <= lastId) continue;
    // History may skip ids (deltas a complete text replaced); live and resumed events may not.
    if (opts.live && lastId > 0 && e.id !== lastId + 1) gaps++;
    lastId = e.id;
    applied++;
    const key = String(e.id);
    if (e.kind === 'error') endProvision('failed');
    else if (e.kind !== 'log' && e.kind !== 'usage' && e.kind !== 'todo' && e.kind !== 'diffStat' && e.kind !== 'stats' && e.kind !== 'egress' && e.kind !== 'rateLimit' && (e.kind !== 'system' || e.subtype === 'session_start')) {
      endProvision('done');
    }
    switch (e.kind) {
      case 'textDelta': {
        const cur = streamingAt >= 0 ? list()[streamingAt] : undefined;
        if (cur?.type === 'text') list()[streamingAt] = { ...cur, text: cur.text + e.text };
        else streamingAt = push({ key, type: 'text', text: e.text, streaming: true, ts: e.ts });
        break;
      }
      case 'text': {
        // The complete message replaces the deltas that streamed it.
        if (streamingAt >= 0 && list()[streamingAt]?.type === 'text') {
          list()[streamingAt] = { key: list()[streamingAt]!.key, type: 'text', text: e.text, streaming: false, ts: e.ts };
          streamingAt = -1;
        } else push({ key, type: 'text', text: e.text, streaming: false, ts: e.ts });
        break;
      }
      case 'thinking':
        endStream();
        push({ key, type: 'thinking', text: e.text, ts: e.ts });
        break;
      case 'userInput':
        // A user message answers any open question.
        for (let i = list().length - 1; i >= 0; i--) {
          const it = list()[i]!;
          if (it.type === 'ask' && !it.answered) list()[i] = { ...it, answered: true, answer: e.text };
          if (it.type === 'user') break;
        }
        {
          // The input a review became is shown by its review card (the input may come before or after it).
          const at = findRecent(list(), (it) => it.type === 'review' && !it.matched && it.text === e.text);
          const rv = at >= 0 ? list()[at] : undefined;
          if (rv?.type === 'review') {
            list()[at] = { ...rv, matched: true };
            break;
          }
        }
        push({ key, type: 'user', text: e.text, images: e.images, ts: e.ts, eventId: e.id });
        break;
      case 'review': {
        const text = renderReview(e.comments);
        const at = findRecent(list(), (it) => it.type === 'user' && it.text === text);
        if (at >= 0) list()[at] = { key: list()[at]!.key, type: 'review', comments: e.comments, text, matched: true, ts: e.ts };
        else push({ key, type: 'review', comments: e.comments, text, matched: false, ts: e.ts });
        break;
      }
      case 'toolUse':
        endStream();
        if (isPlanTool(e.name)) {
          const plan = (e.input as { plan?: unknown } | null)?.plan;
          if (typeof plan === 'string') {
            push({ key, type: 'plan', toolUseId: e.toolUseId, plan, ts: e.ts });
            break;
          }
        }
        {
          const at = push({ key, type: 'tool', toolUseId: e.toolUseId, name: e.name, input: e.input, inputTruncated: e.inputTruncated, ts: e.ts });
          toolMap().set(e.toolUseId, at);
          pendingTools = [...pendingTools, at];
        }
        break;
      case 'toolResult': {
        const at = (tools ?? state.tools).get(e.toolUseId);
        const it = at === undefined ? undefined : list()[at];
        if (it?.type === 'tool') {
          list()[at!] = { ...it, result: { content: e.content, isError: e.isError, durationMs: e.durationMs } };
          pendingTools = pendingTools.filter((p) => p !== at);
        }
        break;
      }
      case 'ask': {
        endStream();
        // The question takes the place of the tool call that asked it: one card, answered or not.
        const at = (tools ?? state.tools).get(e.toolUseId);
        const ask: Item = { key, type: 'ask', toolUseId: e.toolUseId, questions: e.questions, answered: false, ts: e.ts };
        if (at !== undefined && list()[at]?.type === 'tool') {
          list()[at] = ask;
          pendingTools = pendingTools.filter((p) => p !== at);
        } else push(ask);
        break;
      }
      case 'todo':
        todos = e.todos;
        break;
      case 'usage':
        usage = e.usage;
        if (e.contextWindow) contextWindow = e.contextWindow;
        break;
      case 'result':
        endStream();
        endTools();
        push({ key, type: 'result', ev: e, diffStat: null });
        break;
      case 'diffStat': {
        // Attach to the latest result card so it can show what changed in that turn.
        for (let i = list().length - 1; i >= 0; i--) {
          const it = list()[i]!;
          if (it.type === 'result') {
            list()[i] = { ...it, diffStat: e.files };
            break;
          }
          if (it.type === 'user') break;
        }
        break;
      }
      case 'error':
        endStream();
        push({ key, type: 'error', message: e.message, ...(e.line !== undefined ? { line: e.line } : {}), ts: e.ts });
        break;
      case 'log': {
        const phase = { message: e.message, ...(e.phase !== undefined ? { phase: e.phase } : {}), ...(e.durationMs !== undefined ? { durationMs: e.durationMs } : {}), ts: e.ts };
        if (e.phase && PROVISION_PHASES.test(e.phase)) {
          const it = provisionAt >= 0 ? list()[provisionAt] : undefined;
          if (it?.type === 'provision') list()[provisionAt] = { ...it, phases: [...it.phases, phase] };
          else provisionAt = push({ key, type: 'provision', phases: [phase], status: 'running' });
        } else push({ key, type: 'log', message: e.message, ts: e.ts });
        break;
      }
      case 'init':
        endStream();
        push({ key, type: 'init', model: e.model, agentVersion: e.agentVersion, sessionId: e.sessionId, ts: e.ts });
        break;
      case 'system':
        if (e.subtype === 'session_start' || e.subtype === 'agent_exit') {
          endStream();
          endTools();
        }
        if (e.subtype === 'session_start' && FRESH_SESSIONS.has(String((e.detail as { reason?: unknown } | null)?.reason))) {
          todos = [];
          usage = null;
        }
        // Session boundaries are worth a line; the rest (hooks, status) is noise in a transcript.
        if (['session_start', 'compact_boundary', 'agent_exit', 'sync', 'pr', 'ci', 'merge'].includes(e.subtype)) push({ key, type: 'system', subtype: e.subtype, detail: e.detail, ts: e.ts });
        break;
      case 'subagentStart':
        subMap().set(e.taskId, push({ key, type: 'subagent', taskId: e.taskId, description: e.description, ts: e.ts }));
        break;
      case 'subagentEnd': {
        const at = (subagents ?? state.subagents).get(e.taskId);
        const it = at === undefined ? undefined : list()[at];
        if (it?.type === 'subagent') list()[at!] = { ...it, status: e.status };
        break;
      }
      case 'stats':
        stats = e;
        break;
      case 'egress':
        egress = e.blocked;
        break;
      case 'rateLimit':
        break;
    }
  }
  if (applied === 0) return state;
  return {
    lastId,
    items: items ?? state.items,
    todos,
    usage,
    contextWindow,
    stats,
    egress,
    streamingAt,
    tools: tools ?? state.tools,
    pendingTools,
    provisionAt,
    subagents: subagents ?? state.subagents,
    events: state.events + applied,
    gaps,
  };
}

/** Index of the latest of the last few items that `match`es, or -1. */
function findRecent(items: readonly Item[], match: (it: Item) => boolean, window = 40): number {
  for (let i = items.length - 1; i >= Math.max(0, items.length - window); i--) if (match(items[i]!)) return i;
  return -1;
}

/** The questions of the newest unanswered ask, if any (the task is `asking`). */
export function openAsk(state: TranscriptState): Extract<Item, { type: 'ask' }> | undefined {
  for (let i = state.items.length - 1; i >= 0; i--) {
    const it = state.items[i]!;
    if (it.type === 'ask') return it.answered ? undefined : it;
    if (it.type === 'user') return undefined;
  }
  return undefined;
}

export interface AskAnswer {
  selected: string[];
  other: string;
}

/**
 * Reads the choices back from the message that answered an ask (what formatAnswers wrote, or
 * anything the user typed instead): per question, the option labels it names and the rest as
 * free text. An answered card shows them however often it is scrolled away and back, or reloaded.
 */
export function parseAnswers(questions: readonly AskQuestionView[], text: string): AskAnswer[] {
  const lines = text.split('\n');
  return questions.map((q, i) => {
    let chosen = text;
    if (questions.length > 1) {
      const prefix = `${q.header ?? q.question}: `;
      chosen = lines.find((l) => l.startsWith(prefix))?.slice(prefix.length) ?? (i === 0 ? text : '');
    }
    // Labels may hold ", " themselves: match whole labels, longest first, between separators.
    let rest = `, ${chosen.trim()}, `;
    const selected: string[] = [];
    for (const o of [...q.options].sort((a, b) => b.label.length - a.label.length)) {
      const at = rest.indexOf(`, ${o.label}, `);
      if (at < 0 || !o.label) continue;
      selected.push(o.label);
      rest = rest.slice(0, at) + rest.slice(at + o.label.length + 2);
    }
    const order = q.options.map((o) => o.label);
    selected.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    return { selected: q.multiSelect ? selected : selected.slice(0, 1), other: rest.replace(/^(, )+|(, )+$/g, '').trim() };
  });
}

/** The one line a system event gets in the transcript. */
export function systemLine(subtype: string, detail: unknown): string {
  const d = (detail ?? {}) as Record<string, unknown>;
  switch (subtype) {
    case 'session_start':
      if (d.reason === 'start') return 'Session started';
      if (d.reason === 'clear') return 'Context cleared: a new session started';
      return `Session ${typeof d.n === 'number' ? d.n : ''} (${typeof d.reason === 'string' ? d.reason : ''})`;
    case 'compact_boundary':
      return 'Context compacted';
    case 'agent_exit':
      return 'The agent exited';
    case 'sync': {
      const branch = typeof d.branch === 'string' && d.branch ? ` ${d.branch}` : '';
      const issues = Array.isArray(d.safetyIssues) ? d.safetyIssues.length : 0;
      // The sync record carries its outcome: only `synced` pushed anything.
      switch (d.status) {
        case 'synced':
          return `Synced to${branch || ' the branch'}${issues ? ` (forced past ${issues} finding${issues === 1 ? '' : 's'})` : ''}`;
        case 'blocked':
          return `Sync to${branch || ' the branch'} blocked: ${issues} finding${issues === 1 ? '' : 's'} (secrets or large binaries); nothing was pushed`;
        case 'empty':
          return `Nothing to sync to${branch || ' the branch'}: no changes`;
        default:
          return `Sync to${branch || ' the branch'}: ${typeof d.status === 'string' ? d.status : 'unknown outcome'}`;
      }
    }
    case 'pr':
    case 'merge':
      return typeof d.message === 'string' && d.message ? d.message : subtype === 'pr' ? 'Pull request' : 'Merge';
    case 'ci':
      // The first line; the card shows the rest (failing checks and their logs).
      return typeof d.message === 'string' && d.message ? d.message.split('\n')[0]! : 'CI';
    default:
      return subtype;
  }
}

/** Whether the transcript already shows this error (then the page need not repeat it above). */
export function showsError(state: TranscriptState, message: string): boolean {
  if (!message) return false;
  for (let i = state.items.length - 1; i >= 0; i--) {
    const it = state.items[i]!;
    if (it.type === 'error' && it.message === message) return true;
  }
  return false;
}

// The transcript reducer: folds a task's event stream into the items the task view shows (text
// with its streaming deltas, tool calls joined with their results, asks, plans, results, the
// provisioning phases). Pure and incremental: events are applied in batches, never re-read.
import type { DiffStatEntry, EventMessage, Usage } from '../../../src/api/index.js';

type Ev<K extends EventMessage['kind']> = Extract<EventMessage, { kind: K }>;

export interface AskQuestionView {
  question: string;
  header?: string;
  options: { label: string; description?: string }[];
  multiSelect: boolean;
}

export type Item =
  | { key: string; type: 'text'; text: string; streaming: boolean; ts: string }
  | { key: string; type: 'thinking'; text: string; ts: string }
  | { key: string; type: 'user'; text: string; images: number; ts: string }
  | {
      key: string;
      type: 'tool';
      toolUseId: string;
      name: string;
      input: unknown;
      inputTruncated: boolean;
      result?: { content: string; isError: boolean; durationMs: number };
      ts: string;
    }
  | { key: string; type: 'ask'; toolUseId: string; questions: AskQuestionView[]; answered: boolean; ts: string }
  | { key: string; type: 'plan'; toolUseId: string; plan: string; ts: string }
  | { key: string; type: 'result'; ev: Ev<'result'>; diffStat: DiffStatEntry[] | null }
  | { key: string; type: 'error'; message: string; line?: string; ts: string }
  | { key: string; type: 'provision'; phases: { message: string; phase?: string; durationMs?: number; ts: string }[]; done: boolean }
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
  /** Index in `items` of the text still receiving deltas, or -1. */
  streamingAt: number;
  /** Indexes of tool items by toolUseId, to attach results. */
  tools: ReadonlyMap<string, number>;
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
  streamingAt: -1,
  tools: new Map(),
  subagents: new Map(),
  events: 0,
  gaps: 0,
};

/** Phases of a task start: shown together in one progress card, not one line each. */
const PROVISION_PHASES = /^(branch|container\.|provision|ssh|prepare|push|relay|env|agent)/;

function isPlanTool(name: string): boolean {
  return name === 'ExitPlanMode' || name === 'exit_plan_mode';
}

/**
 * Applies a batch of events. Returns the same state object when nothing changed (all duplicates),
 * else a new state sharing every untouched item.
 */
export function applyEvents(state: TranscriptState, events: readonly EventMessage[], opts: { live?: boolean } = {}): TranscriptState {
  let items: Item[] | null = null;
  let tools: Map<string, number> | null = null;
  let subagents: Map<string, number> | null = null;
  let { lastId, todos, usage, contextWindow, streamingAt } = state;
  let applied = 0;
  let gaps = state.gaps;
  const list = (): Item[] => (items ??= state.items.slice());
  const toolMap = (): Map<string, number> => (tools ??= new Map(state.tools));
  const subMap = (): Map<string, number> => (subagents ??= new Map(state.subagents));
  const push = (item: Item): number => list().push(item) - 1;
  const endStream = () => {
    if (streamingAt >= 0) {
      const it = list()[streamingAt];
      if (it?.type === 'text') list()[streamingAt] = { ...it, streaming: false };
      streamingAt = -1;
    }
  };

  for (const e of events) {
    if (e.id <= lastId) continue;
    // History may skip ids (deltas a complete text replaced); live and resumed events may not.
    if (opts.live && lastId > 0 && e.id !== lastId + 1) gaps++;
    lastId = e.id;
    applied++;
    const key = String(e.id);
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
        endStream();
        // A user message answers any open question.
        for (let i = list().length - 1; i >= 0; i--) {
          const it = list()[i]!;
          if (it.type === 'ask' && !it.answered) list()[i] = { ...it, answered: true };
          if (it.type === 'user') break;
        }
        push({ key, type: 'user', text: e.text, images: e.images, ts: e.ts });
        break;
      case 'toolUse':
        endStream();
        if (isPlanTool(e.name)) {
          const plan = (e.input as { plan?: unknown } | null)?.plan;
          if (typeof plan === 'string') {
            push({ key, type: 'plan', toolUseId: e.toolUseId, plan, ts: e.ts });
            break;
          }
        }
        toolMap().set(e.toolUseId, push({ key, type: 'tool', toolUseId: e.toolUseId, name: e.name, input: e.input, inputTruncated: e.inputTruncated, ts: e.ts }));
        break;
      case 'toolResult': {
        const at = (tools ?? state.tools).get(e.toolUseId);
        const it = at === undefined ? undefined : list()[at];
        if (it?.type === 'tool') list()[at!] = { ...it, result: { content: e.content, isError: e.isError, durationMs: e.durationMs } };
        break;
      }
      case 'ask':
        endStream();
        push({ key, type: 'ask', toolUseId: e.toolUseId, questions: e.questions, answered: false, ts: e.ts });
        break;
      case 'todo':
        todos = e.todos;
        break;
      case 'usage':
        usage = e.usage;
        if (e.contextWindow) contextWindow = e.contextWindow;
        break;
      case 'result':
        endStream();
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
          const last = list().length - 1;
          const it = list()[last];
          if (it?.type === 'provision' && !it.done) list()[last] = { ...it, phases: [...it.phases, phase] };
          else push({ key, type: 'provision', phases: [phase], done: false });
        } else push({ key, type: 'log', message: e.message, ts: e.ts });
        break;
      }
      case 'init': {
        endStream();
        const last = list().length - 1;
        const it = list()[last];
        if (it?.type === 'provision' && !it.done) list()[last] = { ...it, done: true };
        push({ key, type: 'init', model: e.model, agentVersion: e.agentVersion, sessionId: e.sessionId, ts: e.ts });
        break;
      }
      case 'system':
        // Session boundaries are worth a line; the rest (hooks, status) is noise in a transcript.
        if (['session_start', 'compact_boundary', 'agent_exit', 'sync'].includes(e.subtype)) push({ key, type: 'system', subtype: e.subtype, detail: e.detail, ts: e.ts });
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
      case 'rateLimit':
      case 'stats':
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
    streamingAt,
    tools: tools ?? state.tools,
    subagents: subagents ?? state.subagents,
    events: state.events + applied,
    gaps,
  };
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

/** Formats answers to an ask as the message sent to the agent. */
export function formatAnswers(questions: readonly AskQuestionView[], answers: readonly { selected: readonly string[]; other: string }[]): string {
  const parts = questions.map((q, i) => {
    const a = answers[i] ?? { selected: [], other: '' };
    const chosen = [...a.selected, ...(a.other.trim() ? [a.other.trim()] : [])].join(', ');
    return { q, chosen };
  });
  if (parts.length === 1) return parts[0]!.chosen;
  return parts.map(({ q, chosen }) => `${q.header ?? q.question}: ${chosen}`).join('\n');
}

// The voice client's logic without the DOM: the session's state as gateway messages change it, the task context the model is told, and running the model's tool calls through caic's API.
import type { Task, TaskState, VoiceClientMessage, VoiceGatewayMessage } from '../../../src/api/index.js';
import { VOICE_CHANNEL_LIMITS } from '../../../src/api/voice-channel.js';
import { ApiError, type ApiClient } from './api.js';

export type VoicePhase = 'idle' | 'connecting' | 'listening' | 'user-speaking' | 'assistant-speaking' | 'closed' | 'error';

export type VoiceLine =
  | { kind: 'user' | 'assistant' | 'assistant-text'; key: number; text: string }
  | { kind: 'tool'; key: number; id: string; name: string; args: string; status: 'running' | 'ok' | 'failed'; text: string }
  | { kind: 'notice'; key: number; text: string };

export interface VoiceState {
  phase: VoicePhase;
  /** What went wrong, in words a person can act on (set with phase `error`). */
  error: string;
  lines: VoiceLine[];
  /** The line a speaker's next delta extends, until the turn changes hands. */
  open: { user: number | null; assistant: number | null; 'assistant-text': number | null };
  nextKey: number;
}

export const initialVoiceState: VoiceState = { phase: 'idle', error: '', lines: [], open: { user: null, assistant: null, 'assistant-text': null }, nextKey: 1 };

/** The lines kept in the panel: a long walk must not grow the page without bound. */
export const MAX_LINES = 200;

/** What changes the state: the gateway's messages, and what the client itself learns. */
export type VoiceEvent =
  | VoiceGatewayMessage
  | { type: 'local.connecting' }
  | { type: 'local.tool.done'; id: string; ok: boolean; text: string }
  | { type: 'local.error'; message: string }
  | { type: 'local.notice'; text: string }
  | { type: 'local.closed' };

const CLOSED_OPEN = { user: null, assistant: null, 'assistant-text': null } as const;

/** A line before it has its key (Omit over each member of the union). */
type NewLine = VoiceLine extends infer L ? (L extends VoiceLine ? Omit<L, 'key'> : never) : never;

function push(s: VoiceState, line: NewLine): VoiceState {
  const lines: VoiceLine[] = [...s.lines, { ...line, key: s.nextKey }];
  return { ...s, lines: lines.length > MAX_LINES ? lines.slice(lines.length - MAX_LINES) : lines, nextKey: s.nextKey + 1 };
}

/** Appends speech or text to the speaker's open line, or starts a new one (which closes the others). */
function append(s: VoiceState, kind: 'user' | 'assistant' | 'assistant-text', text: string): VoiceState {
  if (!text) return s;
  const key = s.open[kind];
  const at = key === null ? -1 : s.lines.findIndex((l) => l.key === key);
  if (at >= 0) {
    const lines = s.lines.slice();
    const line = lines[at] as Extract<VoiceLine, { kind: typeof kind }>;
    lines[at] = { ...line, text: line.text + text };
    return { ...s, lines };
  }
  const next = push(s, { kind, text });
  // The other side's lines end when this one speaks; the assistant's speech and text run side by side.
  const open = kind === 'user' ? { ...CLOSED_OPEN, user: next.nextKey - 1 } : { ...s.open, user: null, [kind]: next.nextKey - 1 };
  return { ...next, open };
}

const speaking = (phase: VoicePhase) => phase === 'listening' || phase === 'user-speaking' || phase === 'assistant-speaking';

/** A tool call's arguments in a few words for its transcript line. */
export function shortArgs(args: Record<string, unknown>, max = 80): string {
  const parts = Object.entries(args).map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : JSON.stringify(v)}`);
  const s = parts.join(', ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The next state: pure, so every message's effect is tested without a browser. */
export function voiceReducer(s: VoiceState, e: VoiceEvent): VoiceState {
  switch (e.type) {
    case 'local.connecting':
      return { ...initialVoiceState, phase: 'connecting', nextKey: s.nextKey };
    case 'session.ready':
      return s.phase === 'connecting' ? { ...s, phase: 'listening' } : s;
    case 'transcript.delta':
      return append(s, e.speaker, e.text);
    case 'assistant.text.delta':
      return append(s, 'assistant-text', e.text);
    case 'speech.started': {
      const who = e.speaker ?? 'user';
      // A new utterance starts new lines for it.
      const open = who === 'user' ? { ...CLOSED_OPEN } : { ...s.open, user: null };
      return { ...s, open, phase: speaking(s.phase) ? (who === 'user' ? 'user-speaking' : 'assistant-speaking') : s.phase };
    }
    case 'speech.ended': {
      const who = e.speaker ?? 'user';
      const current = who === 'user' ? 'user-speaking' : 'assistant-speaking';
      return s.phase === current ? { ...s, phase: 'listening' } : s;
    }
    case 'tool.call':
      return { ...push(s, { kind: 'tool', id: e.id, name: e.name, args: shortArgs(e.args), status: 'running', text: '' }), open: { ...CLOSED_OPEN } };
    case 'local.tool.done': {
      // The newest running line of this id (ids may repeat across a long session).
      const at = s.lines.findLastIndex((l) => l.kind === 'tool' && l.id === e.id && l.status === 'running');
      if (at < 0) return s;
      const lines = s.lines.slice();
      lines[at] = { ...(lines[at] as Extract<VoiceLine, { kind: 'tool' }>), status: e.ok ? 'ok' : 'failed', text: e.text };
      return { ...s, lines };
    }
    case 'interrupted': {
      const next = push(s, { kind: 'notice', text: e.source === 'user' ? 'Interrupted: you spoke over the reply.' : 'Reply cancelled.' });
      return { ...next, open: { ...CLOSED_OPEN }, phase: speaking(s.phase) ? 'listening' : s.phase };
    }
    case 'error':
      if (e.recoverable) return push(s, { kind: 'notice', text: `Voice gateway: ${e.message}` });
      return { ...s, phase: 'error', error: `The voice gateway ended the session: ${e.message}`, open: { ...CLOSED_OPEN } };
    case 'local.notice':
      return push(s, { kind: 'notice', text: e.text });
    case 'local.error':
      return { ...s, phase: 'error', error: e.message, open: { ...CLOSED_OPEN } };
    case 'local.closed':
      return s.phase === 'error' ? s : { ...s, phase: 'closed', open: { ...CLOSED_OPEN } };
  }
}

// ---- What the model is told about the user's tasks ----

/** The user's tasks numbered as the tools number them: creation order (ids sort by creation), from 1. */
export function numberTasks(tasks: Iterable<Task>): Map<string, number> {
  const sorted = [...tasks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return new Map(sorted.map((t, i) => [t.id, i + 1]));
}

const STATE_WORDS: Partial<Record<TaskState, string>> = {
  waiting: 'waiting for the user (its turn is done)',
  asking: 'asking the user a question',
  has_plan: 'waiting for the user to approve its plan',
  running: 'working',
  failed: 'failed',
  stopped: 'stopped',
};

/** At most this many tasks are described (the newest); the tools reach the rest. */
const CONTEXT_TASKS = 30;

/** A short text of the user's tasks (number, state, title, repository) for session.setup's context. */
export function contextText(tasks: Iterable<Task>): string {
  const all = [...tasks];
  const numbers = numberTasks(all);
  const live = all.filter((t) => t.state !== 'purged').sort((a, b) => (a.id < b.id ? 1 : -1));
  const head = 'The user runs coding agents with caic. Refer to tasks by their number; tasks_list has the current list.';
  if (live.length === 0) return `${head}\nThe user has no active tasks.`;
  const lines = live.slice(0, CONTEXT_TASKS).map((t) => {
    const repo = t.repos[0];
    return `#${numbers.get(t.id)} [${STATE_WORDS[t.state] ?? t.state}] ${t.title.slice(0, 120)}${repo ? ` (${repo.name}${repo.branch ? ` @ ${repo.branch}` : ''})` : ''}`;
  });
  const more = live.length > CONTEXT_TASKS ? `\n…and ${live.length - CONTEXT_TASKS} older ones.` : '';
  return `${head}\nTheir tasks, newest first:\n${lines.join('\n')}${more}`.slice(0, VOICE_CHANNEL_LIMITS.context);
}

/** States in which a task waits for the person: worth telling them about. */
const ATTENTION: ReadonlySet<TaskState> = new Set(['waiting', 'asking', 'has_plan']);

/** The context.update to send when a task starts waiting for the user, or null when nothing changed that matters. */
export function attentionUpdate(before: Task | undefined, after: Task, tasks: Iterable<Task>): string | null {
  if (!ATTENTION.has(after.state) || before?.state === after.state) return null;
  // A task the list just learned of (a snapshot) is not news.
  if (before === undefined) return null;
  const n = numberTasks(tasks).get(after.id);
  const what = after.state === 'asking' ? 'is asking a question (agent_last_message reads it)' : after.state === 'has_plan' ? 'has a plan waiting for approval' : 'finished its turn and is waiting';
  return `Update: task #${n ?? '?'} "${after.title.slice(0, 120)}" ${what}. Tell the user briefly when there is a pause.`;
}

// ---- Running the model's tool calls ----

export interface ToolCallRun {
  /** What goes back to the gateway. */
  message: Extract<VoiceClientMessage, { type: 'tool.result' }>;
  ok: boolean;
  /** A short outcome for the transcript line. */
  text: string;
}

/**
 * Runs a `tool.call` through caic's API with the page's own session and makes its `tool.result`.
 * Never throws: a refusal (bad arguments, an unknown tool, a lost session) goes back to the model
 * as an error result it can talk about.
 */
export async function runToolCall(api: ApiClient, call: { id: string; name: string; args: Record<string, unknown> }): Promise<ToolCallRun> {
  try {
    const r = await api('voiceToolCall', { body: { name: call.name, args: call.args } });
    return { message: { type: 'tool.result', id: call.id, name: call.name, result: r.result ?? null }, ok: r.ok, text: firstLine(r.text) };
  } catch (err) {
    const code = err instanceof ApiError ? err.code : 'CLIENT_ERROR';
    const message = err instanceof Error ? err.message : String(err);
    return { message: { type: 'tool.result', id: call.id, name: call.name, result: { error: { code, message } } }, ok: false, text: message };
  }
}

function firstLine(s: string): string {
  const line = s.split('\n', 1)[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

/** A BCP-47 tag the gateway accepts, from the browser's language (else empty: the model's choice). */
export function voiceLanguage(lang: string | undefined): string {
  return lang && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(lang) && lang.length <= 35 ? lang : '';
}

/** The message of a failed gateway answer: its error envelope's, else the status. */
export function gatewayError(status: number, body: string): string {
  try {
    const env = JSON.parse(body) as { error?: { message?: unknown } };
    if (typeof env.error?.message === 'string' && env.error.message) return `${env.error.message} (HTTP ${status})`;
  } catch {
    // not JSON: a proxy's page
  }
  return `HTTP ${status}`;
}

// Going back to a user message of a task: the commit the repository had around it (from the
// caic_head records the daemon writes at each message and turn end), the conversation before it
// as a prompt, and the shell steps that put the container's branch back at a commit.
import type { EventMessage } from '../api/index.js';
import { shellQuote } from '../containers/index.js';
import { isCommitId } from './records.js';

/** Each earlier message (and answer) in a summary prompt is cut to this many characters. */
const MAX_TURN_CHARS = 4_000;
/** The summary keeps the latest turns within this many characters. */
const MAX_SUMMARY_CHARS = 48_000;

type UserInput = Extract<EventMessage, { kind: 'userInput' }>;

export interface Turn {
  /** The user message's event. */
  input: UserInput;
  /** What the agent answered (its result text, else its last message); '' while none. */
  answer: string;
  /** The id of the result that ended the turn; 0 while it runs. */
  resultId: number;
}

/** The conversation as user messages with the agent's answer to each, in order. */
export function turnsOf(events: readonly EventMessage[]): Turn[] {
  const turns: Turn[] = [];
  let lastText = '';
  for (const e of events) {
    const cur = turns[turns.length - 1];
    if (e.kind === 'userInput') {
      turns.push({ input: e, answer: '', resultId: 0 });
      lastText = '';
    } else if (e.kind === 'text') lastText = e.text;
    else if (e.kind === 'result' && cur && !cur.resultId) {
      cur.resultId = e.id;
      cur.answer = e.result || lastText;
    }
  }
  return turns;
}

/** The user message with this event id, or null when that event is no user message. */
export function messageAt(events: readonly EventMessage[], eventId: number): UserInput | null {
  const e = events[eventId - 1];
  return e && e.id === eventId && e.kind === 'userInput' ? e : null;
}

/** The head recorded at the latest event in [from, to), or null. */
function latestIn(heads: ReadonlyMap<number, string>, from: number, to: number): string | null {
  let best = 0;
  for (const id of heads.keys()) if (id >= from && id < to && id > best) best = id;
  return best ? heads.get(best)! : null;
}

/**
 * The commit the branch had when message `eventId` was sent: the HEAD recorded at the latest
 * event before it (a turn's end, a sync: moments the agent was idle), else the commit the branch
 * started from, else the HEAD recorded at the message itself (which the agent may already have
 * moved: its record is taken as the message arrives). Null when nothing was recorded.
 */
export function headBefore(heads: ReadonlyMap<number, string>, eventId: number, baseCommit: string): string | null {
  return latestIn(heads, 1, eventId) ?? (isCommitId(baseCommit) ? baseCommit : null) ?? heads.get(eventId) ?? null;
}

/**
 * The commit the branch had once message `eventId`'s turn ended: the HEAD recorded at the turn's
 * result, else the latest one before the next message (or at it). Null while the turn runs or
 * when nothing was recorded.
 */
export function headAfter(heads: ReadonlyMap<number, string>, turns: readonly Turn[], eventId: number): string | null {
  const i = turns.findIndex((t) => t.input.id === eventId);
  const t = turns[i];
  if (!t) return null;
  if (t.resultId && heads.get(t.resultId)) return heads.get(t.resultId)!;
  const next = turns[i + 1];
  if (!t.resultId && !next) return null;
  return latestIn(heads, eventId + 1, next ? next.input.id : Number.MAX_SAFE_INTEGER) ?? (next ? heads.get(next.input.id) ?? null : null);
}

const cut = (s: string) => (s.length > MAX_TURN_CHARS ? `${s.slice(0, MAX_TURN_CHARS)} […]` : s);

/** The turns as a readable history for a new session's prompt (the latest kept when it is long). */
export function summarise(turns: readonly Turn[]): string {
  const blocks: string[] = [];
  let size = 0;
  for (let i = turns.length - 1; i >= 0; i--) {
    const t = turns[i]!;
    const block = `User:\n${cut(t.input.text)}${t.answer ? `\n\nYou answered:\n${cut(t.answer)}` : ''}`;
    if (size + block.length > MAX_SUMMARY_CHARS && blocks.length) {
      blocks.push(`(${i + 1} earlier message${i === 0 ? '' : 's'} left out)`);
      break;
    }
    size += block.length;
    blocks.push(block);
  }
  return blocks.reverse().join('\n\n---\n\n');
}

/** The first input of a session restarted at a message: the message, then what came before it. */
export function restartPrompt(edited: string, before: readonly Turn[]): string {
  if (!before.length) return edited;
  return `${edited}\n\n<earlier-conversation>\nThis conversation was restarted from this message; the repository is back at the commit it had when it was first sent. Before it, the conversation went:\n\n${summarise(before)}\n</earlier-conversation>`;
}

/** The first input of a forked task: the conversation up to the fork, then what to do now. */
export function forkPrompt(next: string, upTo: readonly Turn[], from: { taskId: string; branch: string }): string {
  if (!upTo.length) return next;
  return `<earlier-conversation>\nThis task continues task ${from.taskId} (branch ${from.branch}) from the commit it had after the last message below. The conversation so far:\n\n${summarise(upTo)}\n</earlier-conversation>\n\n${next}`;
}

/** Prints the repository's HEAD commit (cheap: one git process, read only). */
export function headCommand(repoDir: string): string {
  return `git -C ${shellQuote(repoDir)} rev-parse --verify -q HEAD`;
}

/**
 * Puts the branch checked out in `repoDir` back at commit "$1": uncommitted work goes into
 * `git stash` first (nothing is lost; later commits stay in the reflog). Prints the stash's
 * message when it made one.
 */
export function resetCommand(repoDir: string): string {
  return [
    'set -e',
    `cd ${shellQuote(repoDir)}`,
    'git cat-file -e "$1^{commit}"',
    'if [ -n "$(git status --porcelain)" ]; then git -c user.name=caic -c user.email=caic@localhost stash push -q -u -m "$2"; echo stashed; fi',
    'git reset -q --hard "$1"',
  ].join('\n');
}

// Tool approval in the UI, without DOM: what a tool call's arguments look like on an approval card
// (a command, a file, an edit as a diff, a URL, else JSON), the outcome's words, the time left, and
// the permission choice of the new-task form.
import { TaskPermissions, type ApprovalDecision, type PermissionMode, type PermissionRule } from '../../../src/api/index.js';
import type { ApprovalOutcome } from './transcript.js';

/** How a card shows a tool call's arguments: every value is text, shown as text (never HTML). */
export type ToolView =
  | { kind: 'command'; command: string; description: string }
  | { kind: 'file'; path: string; detail: string }
  | { kind: 'edit'; path: string; hunks: { old: string; new: string }[] }
  | { kind: 'write'; path: string; content: string }
  | { kind: 'url'; url: string; detail: string }
  | { kind: 'json'; json: string };

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * The view of a tool call's input. Agents name their arguments differently (Claude Code's
 * `file_path`, Codex's `path`, ACP's `command` arrays); a shape this does not know is shown as JSON.
 */
export function toolView(tool: string, input: unknown): ToolView {
  const i = (input !== null && typeof input === 'object' && !Array.isArray(input) ? input : {}) as Record<string, unknown>;
  const path = str(i.file_path) || str(i.path) || str(i.notebook_path);
  const command = Array.isArray(i.command) && i.command.every((c) => typeof c === 'string') ? i.command.join(' ') : str(i.command) || str(i.cmd);
  const name = tool.toLowerCase();
  if (command && (name === 'bash' || name.includes('shell') || name.includes('exec') || name.includes('command') || !path)) {
    return { kind: 'command', command, description: str(i.description) };
  }
  if (path && typeof i.old_string === 'string' && typeof i.new_string === 'string') return { kind: 'edit', path, hunks: [{ old: i.old_string, new: i.new_string }] };
  if (path && Array.isArray(i.edits)) {
    const hunks = i.edits
      .filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object')
      .map((e) => ({ old: str(e.old_string), new: str(e.new_string) }));
    return { kind: 'edit', path, hunks };
  }
  if (path && typeof i.content === 'string') return { kind: 'write', path, content: i.content };
  if (path && typeof i.new_source === 'string') return { kind: 'write', path, content: i.new_source };
  if (path) return { kind: 'file', path, detail: str(i.pattern) || str(i.glob) };
  const url = str(i.url);
  if (url) return { kind: 'url', url, detail: str(i.prompt) || str(i.query) };
  if (str(i.pattern)) return { kind: 'file', path: str(i.pattern), detail: '' };
  return { kind: 'json', json: JSON.stringify(input ?? null, null, 2) ?? 'null' };
}

/** A one-line summary of the call (the pinned card and the inbox). */
export function toolLine(view: ToolView): string {
  switch (view.kind) {
    case 'command':
      return view.command.split('\n')[0]!;
    case 'file':
    case 'edit':
    case 'write':
      return view.path;
    case 'url':
      return view.url;
    case 'json':
      return view.json.replace(/\s+/g, ' ');
  }
}

/** The lines of an edit as a diff: the old text removed, the new text added. */
export function editLines(hunk: { old: string; new: string }): { sign: '-' | '+'; text: string }[] {
  const lines = (s: string) => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));
  return [...lines(hunk.old).map((text) => ({ sign: '-' as const, text })), ...lines(hunk.new).map((text) => ({ sign: '+' as const, text }))];
}

const DECISION_WORDS: Record<ApprovalDecision, string> = { allowOnce: 'Allowed once', allowTask: 'Allowed for this task', deny: 'Denied' };

/** The words of a settled request: "Allowed once by alice", "Denied (timeout)", "Allowed by a rule". */
export function outcomeText(o: Pick<ApprovalOutcome, 'decision' | 'by' | 'user'>): string {
  const what = DECISION_WORDS[o.decision];
  switch (o.by) {
    case 'user':
      return o.user ? `${what} by ${o.user}` : what;
    case 'rule':
      return `${what} by a rule`;
    case 'timeout':
      return `${what} (timeout)`;
    case 'agent':
      return `${what} (the agent withdrew the request)`;
  }
}

/** Time left until `expiresAt`, as a person reads it: "4:05", "0:09", or "" once it passed. */
export function timeLeft(expiresAt: string, now: number): string {
  const ms = Date.parse(expiresAt) - now;
  if (!(ms > 0)) return '';
  const s = Math.ceil(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** The new-task form's choice: the server's default (nothing sent) or a mode with its rules. */
export type PermissionChoice = { mode: 'default' } | TaskPermissions;

export const PERMISSION_MODES: readonly { mode: PermissionMode; label: string; hint: string }[] = [
  { mode: 'bypass', label: 'bypass', hint: 'The agent runs every tool without asking.' },
  { mode: 'ask', label: 'ask', hint: 'Every tool call that is not read-only waits for your approval.' },
  { mode: 'rules', label: 'rules', hint: 'Rules allow, ask or deny by tool and argument pattern; first match wins, no match asks.' },
];

/** The rule a new row of the editor starts as. */
export const NEW_RULE: PermissionRule = { tool: 'Bash', pattern: '', action: 'ask' };

/**
 * What goes into CreateTaskReq.permissions, or a reason the rules cannot be sent. A rule's empty
 * pattern means "any call of the tool" (the field is left out).
 */
export function permissionsReq(choice: PermissionChoice): { permissions?: TaskPermissions; problem?: string } {
  if (choice.mode === 'default') return {};
  const rules: PermissionRule[] = [];
  for (const [n, r] of choice.rules.entries()) {
    const tool = r.tool.trim();
    if (!tool) return { problem: `Rule ${n + 1} names no tool (a name like Bash, or a glob like mcp__*).` };
    const pattern = r.pattern?.trim() ?? '';
    rules.push({ tool, ...(pattern ? { pattern } : {}), action: r.action });
  }
  return { permissions: { mode: choice.mode, rules: choice.mode === 'rules' ? rules : [] } };
}

/** The preferences' settings key of the user's default choice for new tasks (Settings → Tool approval). */
export const PERMISSIONS_SETTING = 'permissions';

/** The user's saved default choice, or the server's default when none (or an unreadable one) is saved. */
export function savedChoice(settings: Record<string, unknown> | undefined): PermissionChoice {
  const r = TaskPermissions.safeParse(settings?.[PERMISSIONS_SETTING]);
  return r.success ? r.data : { mode: 'default' };
}

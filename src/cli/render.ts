// How a task's events and the task list look in a terminal: pure functions from API objects to
// lines, colour only when asked (a TTY without NO_COLOR).
import type { EventMessage, Task } from '../api/index.js';

export interface Style {
  color: boolean;
  /** Terminal width; lines of tool calls and results are cut to it. */
  width: number;
}

const SGR = { dim: '2', bold: '1', red: '31', green: '32', yellow: '33', blue: '34', magenta: '35', cyan: '36' } as const;
export function paint(s: Style, code: keyof typeof SGR, text: string): string {
  return s.color ? `\x1b[${SGR[code]}m${text}\x1b[0m` : text;
}

/** Colours on a terminal only, never with NO_COLOR (https://no-color.org: any non-empty value). */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR;
}

/** Text from the server or the agent, made safe for a terminal: no escape sequences or other control characters. */
export function clean(text: string): string {
  /* eslint-disable no-control-regex -- escape sequences and control characters are what is removed */
  return text
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)?/g, '')
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '');
  /* eslint-enable no-control-regex */
}

/** One line: newlines folded, cut to `width` with an ellipsis. */
export function oneLine(text: string, width: number): string {
  const flat = clean(text).replace(/\s*\n\s*/g, ' ⏎ ').trim();
  return flat.length > width ? `${flat.slice(0, Math.max(1, width - 1))}…` : flat;
}

/** The gist of a tool call's input: the command, the file, the pattern; else its JSON. */
export function toolGist(name: string, input: unknown): string {
  const i = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  for (const key of ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt']) {
    const v = i[key];
    if (typeof v === 'string' && v) return v;
  }
  if (name === 'TodoWrite') return `${Array.isArray(i.todos) ? i.todos.length : 0} items`;
  const json = JSON.stringify(input ?? null);
  return json === '{}' || json === 'null' ? '' : json;
}

function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** The lines an event shows as, or none (streaming deltas, usage and stats are left to the complete events). */
export function renderEvent(ev: EventMessage, s: Style): string[] {
  const w = Math.max(40, s.width);
  switch (ev.kind) {
    case 'init':
      return [paint(s, 'dim', `· agent session ${ev.sessionId.slice(0, 8)}, model ${clean(ev.model)}`)];
    case 'text':
      return clean(ev.text).trimEnd().split('\n');
    case 'thinking':
      return [paint(s, 'dim', `∴ ${oneLine(ev.text, w - 2)}`)];
    case 'toolUse': {
      // The question itself comes as the ask event.
      if (ev.name === 'AskUserQuestion') return [];
      const gist = toolGist(ev.name, ev.input);
      return [`${paint(s, 'cyan', `▸ ${clean(ev.name)}`)}${gist ? ` ${oneLine(gist, w - ev.name.length - 3)}` : ''}`];
    }
    case 'toolResult': {
      const lines = ev.content.split('\n').filter((l) => l.trim());
      const first = lines[0] ?? (ev.isError ? 'failed' : 'done');
      const more = lines.length > 1 ? ` (+${lines.length - 1} lines)` : '';
      const head = ev.isError ? paint(s, 'red', '  ✗ ') : paint(s, 'green', '  ✓ ');
      return [`${head}${paint(s, 'dim', oneLine(first, w - 4 - more.length) + more)}`];
    }
    case 'ask':
      return ev.questions.flatMap((q) => [
        paint(s, 'yellow', `? ${clean(q.header ? `${q.header}: ${q.question}` : q.question)}${q.multiSelect ? ' (one or more)' : ''}`),
        ...q.options.map((o, i) => `  ${i + 1}. ${clean(o.label)}${o.description ? paint(s, 'dim', ` — ${clean(o.description)}`) : ''}`),
      ]);
    case 'todo':
      return ev.todos.map((t) => `  ${t.status === 'completed' ? '[x]' : t.status === 'in_progress' ? '[~]' : '[ ]'} ${oneLine(t.content, w - 6)}`);
    case 'result': {
      const tail = ` ($${ev.costUSD.toFixed(4)}, ${ev.numTurns} turn${ev.numTurns === 1 ? '' : 's'}, ${seconds(ev.durationMs)})`;
      const head = `── ${ev.isError ? 'failed' : 'done'}: `;
      const line = `${head}${oneLine(ev.result || ev.subtype, w - head.length - tail.length)}${tail}`;
      return [paint(s, ev.isError ? 'red' : 'green', line)];
    }
    case 'system':
      return [paint(s, 'dim', `· ${clean(ev.subtype)}`)];
    case 'userInput':
      return [paint(s, 'bold', `> ${clean(ev.text)}${ev.images ? ` [${ev.images} image${ev.images === 1 ? '' : 's'}]` : ''}`)];
    case 'diffStat':
      return ev.files.length ? [paint(s, 'dim', `· changed: ${oneLine(ev.files.map((f) => `${f.path} +${f.added} -${f.deleted}`).join(', '), w - 11)}`)] : [];
    case 'error':
      return [paint(s, 'red', `error: ${clean(ev.message)}`)];
    case 'log':
      return [paint(s, 'dim', `· ${oneLine(ev.message, w - 2)}`)];
    case 'subagentStart':
      return [paint(s, 'magenta', `⤷ subagent: ${oneLine(ev.description, w - 12)}`)];
    case 'subagentEnd':
      return [paint(s, 'magenta', `⤶ subagent ${clean(ev.status)}`)];
    case 'review':
      return [
        paint(s, 'bold', `> review: ${ev.comments.length} comment${ev.comments.length === 1 ? '' : 's'}`),
        ...ev.comments.map((c) => `  ${oneLine(`${c.file}:${c.startLine}${c.endLine !== c.startLine ? `-${c.endLine}` : ''} ${c.body}`, w - 2)}`),
      ];
    case 'approval': {
      const gist = toolGist(ev.tool, ev.input);
      return [paint(s, 'yellow', `? ${clean(ev.tool)} waits for approval${gist ? `: ${oneLine(gist, w - ev.tool.length - 25)}` : ''}`)];
    }
    case 'approvalResolved':
      return [paint(s, ev.decision === 'deny' ? 'red' : 'green', `· ${ev.decision === 'deny' ? 'denied' : 'allowed'} by ${ev.by}${ev.user ? ` ${clean(ev.user)}` : ''}${ev.message ? `: ${oneLine(ev.message, w - 30)}` : ''}`)];
    case 'egress':
      return ev.blocked.length ? [paint(s, 'dim', `· egress blocked: ${oneLine(ev.blocked.map((b) => `${b.host}:${b.port} ×${b.count}`).join(', '), w - 18)}`)] : [];
    case 'textDelta':
    case 'usage':
    case 'rateLimit':
    case 'stats':
      return [];
  }
}

/** "3m", "2h", "5d": how long ago. */
export function age(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** The task table of `caic tasks`: id, state, repo, title, cost, age; the title takes what width is left. */
export function taskTable(tasks: readonly Task[], s: Style, now: number): string[] {
  const rows = tasks.map((t) => [t.id, t.state, t.repos.map((r) => r.name).join(',') || '-', clean(t.title || t.initialPrompt), `$${t.costUSD.toFixed(2)}`, age(t.createdAt, now)]);
  const header = ['ID', 'STATE', 'REPO', 'TITLE', 'COST', 'AGE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fixed = widths.reduce((a, b, i) => (i === 3 ? a : a + b + 2), 0);
  widths[3] = Math.max(5, Math.min(widths[3]!, s.width - fixed));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === 3 ? oneLine(c, widths[3]!) : c).padEnd(i === r.length - 1 ? 0 : widths[i]!))
      .join('  ')
      .trimEnd();
  return [paint(s, 'bold', fmt(header)), ...rows.map(fmt)];
}

// `caic logs [-f]`: a task's event stream rendered in the terminal; with -f it follows live
// events, resumes with Last-Event-ID across dropped connections, answers asks inline on a
// terminal, and ends when the agent has finished its turn or the task ended.
import { createInterface } from 'node:readline/promises';
import { EventMessage, routes, type Task, type TaskListEvent, type TaskState } from '../api/index.js';
import { formatAnswers, openStream, routeUrl, type ApiClient, type AskQuestionView, type Stream } from '../client/index.js';
import { UserError } from '../config/index.js';
import { loginHint } from './auth.js';
import { clean, paint, renderEvent, type Style } from './render.js';

/** States in which a followed task has nothing more to say until someone acts. */
const DONE: ReadonlySet<TaskState> = new Set(['waiting', 'has_plan', 'stopped', 'purged', 'failed', 'crashed']);

export interface FollowOptions {
  server: string;
  api: ApiClient;
  fetch: typeof globalThis.fetch;
  id: string;
  follow: boolean;
  /** NDJSON of the raw events instead of rendered lines. */
  json: boolean;
  /** Asks are answered at a prompt (stdin and stdout are terminals). */
  interactive: boolean;
  style: Style;
  out: (line: string) => void;
  err: (line: string) => void;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}

/** Prints the task's events; resolves when done (without -f: once the history is printed). */
export async function followTask(o: FollowOptions): Promise<void> {
  let lastShown = 0;
  let ready = false;
  let state: TaskState | undefined;
  /** When a done state was seen: the event id the stream must reach first (the task's last event then). */
  let target: number | undefined;
  let openAsk: AskQuestionView[] | undefined;
  let asking = false;
  let wasOpen = false;
  let finish!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const streams: Stream[] = [];

  const fatal = (status: number, message: string) =>
    fail(new UserError(status === 401 ? `${message}: ${loginHint(o.server)}` : status === 404 ? `no task ${o.id}: ${message}` : message));

  const check = () => {
    if (!ready) return;
    if (!o.follow) return finish();
    if (state === undefined || target === undefined || lastShown < target) return;
    if (state === 'asking') {
      // Interactive: answer at the prompt (once answered, the task moves on and the state changes).
      if (o.interactive) {
        if (!asking && openAsk) void answer(openAsk);
        return;
      }
      o.err(`caic: the agent asks; answer with: caic send ${o.id} <answer>`);
      return finish();
    }
    if (DONE.has(state)) finish();
  };

  /** The state changed: where the event stream must have got to before acting on it. */
  const onState = (s: TaskState) => {
    state = s;
    target = undefined;
    if (!DONE.has(s) && s !== 'asking') return;
    o.api('getTask', { params: { id: o.id } }).then(
      (t: Task) => {
        if (t.state !== state) return; // moved on; a newer state is being handled
        target = t.lastEventId;
        check();
      },
      (err: unknown) => fail(err as Error),
    );
  };

  const answer = async (questions: AskQuestionView[]) => {
    asking = true;
    const rl = createInterface({ input: o.input, output: o.output, terminal: true });
    try {
      const answers = [];
      for (const q of questions) {
        const hint = q.options.length ? (q.multiSelect ? ` [1-${q.options.length}, comma-separated, or text]` : ` [1-${q.options.length} or text]`) : '';
        const line = (await rl.question(paint(o.style, 'yellow', `answer ${clean(q.header ?? q.question)}${hint}: `))).trim();
        const picks = line.split(/\s*,\s*/).map((p) => Number(p));
        if (line && picks.every((n) => Number.isInteger(n) && n >= 1 && n <= q.options.length)) {
          answers.push({ selected: (q.multiSelect ? picks : picks.slice(0, 1)).map((n) => q.options[n - 1]!.label), other: '' });
        } else answers.push({ selected: [], other: line });
      }
      openAsk = undefined;
      await o.api('taskInput', { params: { id: o.id }, body: { prompt: { text: formatAnswers(questions, answers) } } });
    } catch (err) {
      fail(err as Error);
    } finally {
      rl.close();
      asking = false;
    }
  };

  const onEvent = (data: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return; // not an event; the server never sends one
    }
    const r = EventMessage.safeParse(parsed);
    if (!r.success) return;
    const ev = r.data;
    if (ev.id <= lastShown) return;
    lastShown = ev.id;
    if (ev.kind === 'ask') openAsk = ev.questions;
    if (ev.kind === 'userInput') openAsk = undefined;
    if (o.json) o.out(JSON.stringify(ev));
    else for (const line of renderEvent(ev, o.style)) o.out(line);
  };

  streams.push(
    openStream({
      url: `${o.server}${routeUrl(routes.taskEvents.path, { id: o.id })}`,
      fetch: o.fetch,
      onMessage: (msg) => {
        if (msg.event === 'ready') {
          ready = true;
          return check();
        }
        if (msg.event === 'message') onEvent(msg.data);
        check();
      },
      onState: (s, error) => {
        if (s === 'open') wasOpen = true;
        // A connection that was open dropped: say so once per drop, the stream resumes by itself.
        if (s === 'connecting' && error && wasOpen) {
          wasOpen = false;
          o.err(paint(o.style, 'dim', `caic: connection lost (${error}); reconnecting`));
        }
      },
      onFatal: fatal,
    }),
  );
  if (o.follow) {
    streams.push(
      openStream({
        url: `${o.server}${routes.taskListEvents.path}`,
        fetch: o.fetch,
        onMessage: (msg) => {
          if (msg.event !== 'message') return;
          let ev: TaskListEvent;
          try {
            ev = JSON.parse(msg.data) as TaskListEvent;
          } catch {
            return;
          }
          if (ev.type === 'snapshot') {
            const t = ev.tasks.find((x) => x.id === o.id);
            if (t) onState(t.state);
          } else if (ev.type === 'upsert' && ev.task.id === o.id) onState(ev.task.state);
          else if (ev.type === 'patch' && ev.id === o.id && ev.fields.state) onState(ev.fields.state);
        },
        onFatal: fatal,
      }),
    );
  }
  try {
    await done;
  } finally {
    for (const s of streams) s.close();
  }
}

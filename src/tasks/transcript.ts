// Replays a task log into events and task metadata. Deterministic: the same lines give the same
// events with the same ids, which is what lets Last-Event-ID survive daemon restarts. Live tasks
// feed it each line as it is logged; historical ones replay the file.
import { LIVE_STATES, type DiffStatEntry, type EgressBlocked, type EventBody, type EventMessage, type HarnessName, type TaskState, type Usage } from '../api/index.js';
import { parseLine, type AgentParser, type Harness } from '../agents/index.js';
import { decodeLine, isHostText, readLogBatches } from './log.js';
import { MAX_AGENT_LINE } from './session.js';
import { cleanTitle, titleSource, titleWins, type TitleSource } from './titles.js';
import { addCount, isTaskState, parseForgeRecord, parseHeadRecord, parseReviewRecord, type ReviewCommentRecord, parseIssueRecord, parseMetaRecord, reportedCount, reportedMs, reportedUSD, reportedUsage, type Summary, type TaskMetaRecord } from './records.js';
import { addUsage, utcDay, type UsageDay } from './usage.js';
import { parseBlockedRows } from './records.js';

/** Records the daemon writes itself; every other line came through the relay (and counts toward its offset). */
export const HOST_RECORDS = new Set([
  'caic_meta',
  'caic_clock',
  'caic_session',
  'caic_state',
  'caic_log',
  'caic_diff_stat',
  'caic_user_input',
  'caic_error',
  'caic_container',
  'caic_branch',
  'caic_result',
  'caic_sync',
  'caic_title',
  'caic_skipped',
  'caic_redacted',
  'caic_forge',
  'caic_review',
  'caic_head',
  'caic_stats',
  'caic_egress',
]);

/** What the relay appends when the agent exits (a relay line, not a host record). */
const RELAY_EXIT_PREFIX = '{"type":"caic_relay_exit"';

export const MAX_TOOL_INPUT_BYTES = 16 * 1024;
/** The agent's stderr that an exit record may carry (the relay sends at most 2 KiB). */
const MAX_EXIT_STDERR = 4 * 1024;
export const MAX_TOOL_RESULT_CHARS = 64 * 1024;
const AGENT_STATES = new Set<TaskState>(LIVE_STATES);

// The log's records (the first line, the summary in state records) are defined with their checks.
export type { Summary, TaskMetaRecord } from './records.js';

const zeroUsage = (): Usage => ({ inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 });

/** The summary of a task nothing has happened in yet. */
export const emptySummary = (title: string, model: string): Summary => ({
  title,
  titleBy: 'prompt',
  costUSD: 0,
  durationMs: 0,
  numTurns: 0,
  tokens: zeroUsage(),
  activeInputTokens: 0,
  diffStat: [],
  result: '',
  error: '',
  sessionId: '',
  agentVersion: '',
  model,
  planContent: '',
  container: '',
  forge: null,
  issue: null,
});

type Rec = Record<string, unknown>;

/** Applies a caic_forge record to a summary (a replay, a live task, a log's tail alike). */
export function applyForgeRecord(s: Summary, rec: Rec): void {
  if (rec.forge !== undefined) s.forge = parseForgeRecord(rec.forge) ?? s.forge;
  if (rec.issue !== undefined) s.issue = parseIssueRecord(rec.issue) ?? s.issue;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

export class Transcript {
  readonly events: EventMessage[] = [];
  /** Full inputs of tool uses whose event carried a truncated one. */
  readonly toolInputs = new Map<string, unknown>();
  meta: TaskMetaRecord | null = null;
  state: TaskState = 'pending';
  stateAt = '';
  /** Agent session number (1, 2, ...) and bytes read from its relay so far: the reattach offset. */
  session = 0;
  relayBytes = 0;
  /** An agent of this task has started (said `init`) at least once: it has a session to go back to. */
  agentStarted = false;
  /** The current session's agent has ended: its relay wrote the exit record (nothing to reattach to). */
  agentExited = false;
  hasTrailer = false;
  containerId = '';
  /** The commit the last sync pushed to the task branch: the next push may replace only it. */
  pushed = '';
  /** A sync pushed the branch before (logs older than `pushed` records only say this much). */
  syncedBefore = false;
  /** The task continues an existing branch (its base commit is that branch's head when fetched). */
  continued = false;
  readonly summary: Summary = emptySummary('', '');
  /** Review comments drafted on the diff and not sent yet, by id, in the order they were added. */
  readonly reviewComments = new Map<string, ReviewCommentRecord>();
  /** The repository's HEAD commit as recorded when a user message or a turn's end happened, by event id. */
  readonly heads = new Map<number, string>();
  /** The last table of connections the task's egress policy refused (caic_egress); null before any. */
  egressBlocked: EgressBlocked[] | null = null;
  private parser: AgentParser | null = null;
  private now = '';
  private parsedAt = '';
  private parsedMs = 0;
  private costBefore = 0;
  private costSession = 0;
  /** A compaction or context clear happened since the last result: the agent may restart its cost total. */
  private costMayReset = false;
  /** When the current turn started (ms; 0 unknown): the turn's duration when the agent reports none. */
  private turnStartMs = 0;
  private agentTitle = '';
  /** Cost, tokens, agent time and turns per UTC day, from each result as it is logged. */
  readonly usage = new Map<string, UsageDay>();
  private turnAsk = false;
  private turnPlan = false;
  private readonly toolStarts = new Map<string, number>();
  private longLine = false;

  constructor(private readonly harnesses: ReadonlyMap<HarnessName, Harness>) {}

  get lastEventId(): number {
    return this.events.length;
  }

  /** The parser of the current session (prompt encoding needs it for JSON-RPC harnesses). */
  get agentParser(): AgentParser | null {
    return this.parser;
  }

  /**
   * Consumes one log line (without its newline) as a binary string: one character per byte, so
   * its length is its size. `ascii` is a promise that it has no byte above 0x7f (no decoding
   * needed). Returns the events it produced.
   */
  ingest(line: string, ascii = false): EventMessage[] {
    if (isHostText(line)) {
      let rec: Rec;
      try {
        rec = JSON.parse(ascii ? line : decodeLine(line)) as Rec;
      } catch {
        return []; // only a torn last line can be cut; nothing was derived from it
      }
      const type = String(rec.type);
      return HOST_RECORDS.has(type) ? this.host(type, rec) : [];
    }
    // Relay lines that could pass for host records are logged behind one space (see log.ts).
    const raw = line.charCodeAt(0) === 0x20 ? line.slice(1) : line;
    this.relayBytes += raw.length + 1;
    if (!raw) return [];
    if (raw.startsWith(RELAY_EXIT_PREFIX)) return this.agentExit(parseLine(ascii ? raw : decodeLine(raw)));
    const parser = this.ensureParser();
    const bodies = parser.parseBinary?.(raw) ?? parser.parse(ascii ? raw : decodeLine(raw));
    if (parser.sessionId) this.summary.sessionId = parser.sessionId;
    if (parser.title && parser.title !== this.agentTitle) this.setTitle((this.agentTitle = parser.title), 'agent');
    // A tool input can only exceed the stream limit when its line does.
    this.longLine = raw.length > MAX_TOOL_INPUT_BYTES;
    let n = 0;
    for (const b of bodies) {
      const i = this.interpret(b);
      if (i) bodies[n++] = i;
    }
    if (n < bodies.length) bodies.length = n;
    return this.emit(bodies);
  }

  /**
   * The agent ended. One that never started (no `init` in any session: a missing binary, a crash,
   * no credentials) leaves the task failed, with the relay's reason and the agent's last stderr
   * as the error; one that did start leaves it waiting for input (which resumes its session).
   */
  private agentExit(rec: ReturnType<typeof parseLine>): EventMessage[] {
    this.agentExited = true;
    const v = rec.ok ? rec.value : {};
    const code = typeof v.code === 'number' ? v.code : null;
    const signal = typeof v.signal === 'string' ? v.signal : null;
    let why = typeof v.error === 'string' ? v.error : signal ? `the agent was killed by ${signal}` : code !== null && code !== 0 ? `the agent exited with code ${code}` : '';
    if (AGENT_STATES.has(this.state) || this.state === 'starting') {
      if (!this.agentStarted) {
        why ||= 'the agent exited before it started';
        this.setState('failed');
      } else if (this.state === 'running' || this.state === 'starting') this.setState('waiting');
    }
    const bodies: EventBody[] = [{ kind: 'system', subtype: 'agent_exit', detail: { code, signal } }];
    if (why) {
      const stderr = typeof v.stderr === 'string' ? v.stderr.slice(-MAX_EXIT_STDERR) : '';
      this.summary.error = stderr ? `${why}\n${stderr}` : why;
      bodies.push({ kind: 'error', message: this.summary.error });
    }
    return this.emit(bodies);
  }

  private ensureParser(): AgentParser {
    if (!this.parser) {
      const harness = this.harnesses.get(this.meta?.harness ?? 'fake');
      if (!harness) throw new Error(`unknown harness ${this.meta?.harness}`);
      this.parser = harness.newParser({ model: this.meta?.model ?? '' });
    }
    return this.parser;
  }

  private setState(state: TaskState): void {
    this.state = state;
    this.stateAt = this.now;
  }

  /** A title from `by` replaces the current one unless that came from a higher source. */
  private setTitle(title: string, by: TitleSource): void {
    const s = this.summary;
    const clean = cleanTitle(title);
    if (!clean || !titleWins(by, s.titleBy ?? 'prompt')) return;
    s.title = clean;
    s.titleBy = by;
  }

  private emit(bodies: EventBody[]): EventMessage[] {
    // Bodies are fresh objects from the parser or from here: stamping them in place spares a copy.
    for (const b of bodies) {
      const m = b as EventMessage;
      m.id = this.events.length + 1;
      m.ts = this.now;
      this.events.push(m);
    }
    return bodies as EventMessage[];
  }

  private host(type: string, rec: Rec): EventMessage[] {
    const s = this.summary;
    switch (type) {
      case 'caic_meta': {
        // Listing checked this record already (a log that fails it is not listed); a replay that
        // finds it otherwise (edited since) keeps what the listing read.
        try {
          this.meta = parseMetaRecord(rec);
        } catch {
          return [];
        }
        s.title = this.meta.title;
        s.titleBy = 'prompt';
        s.model = this.meta.model;
        this.tick(this.meta.createdAt);
        this.stateAt = this.now;
        return [];
      }
      case 'caic_clock':
        this.tick(String(rec.ts));
        return [];
      case 'caic_session': {
        this.session = Number(rec.n);
        this.relayBytes = 0;
        this.agentExited = false;
        this.parser = null;
        this.ensureParser();
        this.costBefore += this.costSession;
        this.costSession = 0;
        this.costMayReset = false;
        this.agentTitle = '';
        this.turnAsk = this.turnPlan = false;
        if (rec.reason === 'restart' || rec.reason === 'clear') s.planContent = '';
        return this.emit([{ kind: 'system', subtype: 'session_start', detail: { n: this.session, reason: rec.reason, resume: rec.resume ?? '' } }]);
      }
      case 'caic_state': {
        if (!isTaskState(rec.state)) return [];
        this.setState(rec.state);
        if (typeof rec.error === 'string') s.error = rec.error;
        return [];
      }
      case 'caic_log':
        return this.emit([
          {
            kind: 'log',
            message: text(rec.message),
            ...(typeof rec.phase === 'string' ? { phase: rec.phase } : {}),
            ...(typeof rec.durationMs === 'number' ? { durationMs: rec.durationMs } : {}),
          },
        ]);
      case 'caic_stats': {
        const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
        const opt = (k: string, v: unknown) => (num(v) === undefined ? {} : { [k]: num(v)! });
        return this.emit([
          {
            kind: 'stats',
            cpuPercent: num(rec.cpuPercent) ?? 0,
            memoryBytes: num(rec.memoryBytes) ?? 0,
            ...opt('memoryLimitBytes', rec.memoryLimitBytes),
            ...opt('diskBytes', rec.diskBytes),
            ...opt('diskLimitBytes', rec.diskLimitBytes),
          },
        ]);
      }
      case 'caic_egress': {
        const blocked = parseBlockedRows(rec.blocked);
        this.egressBlocked = blocked;
        return this.emit([{ kind: 'egress', blocked }]);
      }
      case 'caic_diff_stat':
        s.diffStat = (rec.files as DiffStatEntry[]) ?? [];
        return this.emit([{ kind: 'diffStat', files: s.diffStat }]);
      case 'caic_user_input':
        if (AGENT_STATES.has(this.state)) this.setState('running');
        this.turnStartMs = this.nowMs;
        return this.emit([{ kind: 'userInput', text: text(rec.text), images: Number(rec.images ?? 0) }]);
      case 'caic_error':
        s.error = text(rec.message);
        return this.emit([{ kind: 'error', message: s.error }]);
      case 'caic_container':
        s.container = text(rec.name);
        this.containerId = text(rec.id);
        return [];
      case 'caic_branch': {
        const repo = this.meta?.repos.find((r) => r.name === rec.repo);
        if (repo) {
          repo.branch = text(rec.branch);
          repo.baseCommit = text(rec.baseCommit);
        }
        if (rec.continued === true) this.continued = true;
        return [];
      }
      case 'caic_result':
        this.hasTrailer = true;
        return [];
      case 'caic_sync':
        if (typeof rec.pushed === 'string') this.pushed = rec.pushed;
        if (rec.status === 'synced') this.syncedBefore = true;
        return this.emit([{ kind: 'system', subtype: 'sync', detail: rec }]);
      case 'caic_title':
        this.setTitle(text(rec.title), titleSource(rec.by));
        return [];
      case 'caic_forge': {
        // The task's pull request, CI and fix attempts as the forge side last knew them; `card`
        // (pr, ci, merge) puts what happened into the transcript for the UI's cards.
        applyForgeRecord(s, rec);
        const card = text(rec.card);
        if (!card) return [];
        return this.emit([{ kind: 'system', subtype: card, detail: { forge: s.forge, message: text(rec.message) } }]);
      }
      case 'caic_review': {
        const r = parseReviewRecord(rec);
        if (!r) return [];
        const drafts = this.reviewComments;
        if (r.op === 'add') drafts.set(r.comment.id, r.comment);
        else if (r.op === 'edit') {
          const c = drafts.get(r.id);
          if (c) drafts.set(r.id, { ...c, body: r.body, updatedAt: r.at });
        } else if (r.op === 'delete') drafts.delete(r.id);
        else {
          for (const c of r.comments) drafts.delete(c.id);
          const comments = r.comments.map(({ file, side, startLine, endLine, quote, body }) => ({ file, side, startLine, endLine, quote, body }));
          return this.emit([{ kind: 'review', comments }]);
        }
        return [];
      }
      case 'caic_head': {
        const h = parseHeadRecord(rec);
        if (h) this.heads.set(h.event, h.commit);
        return [];
      }
      case 'caic_skipped': {
        // A relay line left out for its size: its bytes (and newline) still count toward the offset.
        const bytes = Number.isSafeInteger(rec.bytes) && (rec.bytes as number) > 0 ? (rec.bytes as number) : 0;
        this.relayBytes += bytes + 1;
        return this.emit([{ kind: 'error', message: `the agent wrote a line of ${bytes} bytes, more than a line may have (${MAX_AGENT_LINE} bytes); it was left out` }]);
      }
      case 'caic_redacted': {
        // The next relay line had secrets masked: it is this many bytes shorter than the relay's
        // (longer, for a streamed piece that got the mask of a value begun in it).
        const bytes = Number.isSafeInteger(rec.bytes) && Math.abs(rec.bytes as number) <= MAX_AGENT_LINE ? (rec.bytes as number) : 0;
        this.relayBytes += bytes;
        return [];
      }
      default:
        return [];
    }
  }

  private tick(ts: string): void {
    this.now = ts;
  }

  /** The clock in ms, parsed only when a tool duration needs it (most clock records are not). */
  private get nowMs(): number {
    if (this.parsedAt !== this.now) {
      this.parsedAt = this.now;
      this.parsedMs = Date.parse(this.now) || this.parsedMs;
    }
    return this.parsedMs;
  }

  /** Applies an agent event to the task (state, costs, plan) and trims what is too big to stream. */
  private interpret(body: EventBody): EventBody | null {
    const s = this.summary;
    if (body.kind !== 'result' && body.kind !== 'usage' && body.kind !== 'system' && body.kind !== 'rateLimit') {
      if (body.kind !== 'error' && this.state !== 'running' && AGENT_STATES.has(this.state)) this.setState('running');
    }
    switch (body.kind) {
      case 'init':
        this.agentStarted = true;
        s.sessionId = body.sessionId || s.sessionId;
        s.agentVersion = body.agentVersion || s.agentVersion;
        s.model = body.model || s.model;
        return body;
      case 'toolUse': {
        this.toolStarts.set(body.toolUseId, this.nowMs);
        const input = body.input as Rec | undefined;
        if (body.name === 'AskUserQuestion') this.turnAsk = true;
        if (body.name === 'ExitPlanMode') {
          this.turnPlan = true;
          if (typeof input?.plan === 'string') s.planContent = input.plan;
        }
        if (body.name === 'Write' && typeof input?.file_path === 'string' && input.file_path.includes('.claude/plans/') && typeof input.content === 'string') {
          s.planContent = input.content;
        }
        const json = this.longLine ? JSON.stringify(body.input ?? null) : '';
        if (json.length > MAX_TOOL_INPUT_BYTES) {
          this.toolInputs.set(body.toolUseId, body.input);
          return { ...body, input: { truncated: true, preview: json.slice(0, 2_048) }, inputTruncated: true };
        }
        return body;
      }
      case 'toolResult': {
        const started = this.toolStarts.get(body.toolUseId);
        this.toolStarts.delete(body.toolUseId);
        const durationMs = reportedMs(body.durationMs) || (started !== undefined ? Math.max(0, this.nowMs - started) : 0);
        const content =
          body.content.length > MAX_TOOL_RESULT_CHARS
            ? `${body.content.slice(0, MAX_TOOL_RESULT_CHARS)}\n… [${body.content.length - MAX_TOOL_RESULT_CHARS} more characters]`
            : body.content;
        return { ...body, content, durationMs };
      }
      case 'userInput':
        this.turnStartMs = this.nowMs;
        return body;
      case 'system':
        if (body.subtype === 'compact_boundary' || body.subtype === 'context_cleared') this.costMayReset = true;
        return body;
      case 'usage': {
        // Numbers an agent reports are bounded before they count: one absurd report (1e308 USD,
        // negative or fractional tokens) must not turn a total into Infinity or break the API's schema.
        const usage = reportedUsage(body.usage);
        s.activeInputTokens = usage.inputTokens + usage.cacheReadInputTokens + usage.cacheCreationInputTokens;
        return { ...body, usage, ...(body.contextWindow !== undefined ? { contextWindow: reportedCount(body.contextWindow) } : {}) };
      }
      case 'result': {
        body = { ...body, costUSD: reportedUSD(body.costUSD), durationMs: reportedMs(body.durationMs), numTurns: reportedCount(body.numTurns), usage: reportedUsage(body.usage) };
        const costBefore = s.costUSD;
        // The reported cost is the session's running total (spec §3.2). It may start again from
        // zero after a compaction or a context clear; otherwise a lower value (an error result
        // reporting 0, say) is not a reset, and the total never goes down.
        if (this.costMayReset && body.costUSD < this.costSession) {
          this.costBefore += this.costSession;
          this.costSession = body.costUSD;
        } else this.costSession = Math.max(this.costSession, body.costUSD);
        this.costMayReset = false;
        s.costUSD = Math.round((this.costBefore + this.costSession) * 1e6) / 1e6;
        // Agents that report no duration (Codex, Gemini) get the time since the turn's prompt.
        const durationMs = body.durationMs > 0 ? body.durationMs : this.turnStartMs ? Math.max(0, this.nowMs - this.turnStartMs) : 0;
        this.turnStartMs = 0;
        addUsage(this.usage, utcDay(this.now), { costUSD: s.costUSD - costBefore, tokens: body.usage, agentMs: durationMs, turns: 1 });
        s.tokens = {
          inputTokens: addCount(s.tokens.inputTokens, body.usage.inputTokens),
          outputTokens: addCount(s.tokens.outputTokens, body.usage.outputTokens),
          cacheCreationInputTokens: addCount(s.tokens.cacheCreationInputTokens, body.usage.cacheCreationInputTokens),
          cacheReadInputTokens: addCount(s.tokens.cacheReadInputTokens, body.usage.cacheReadInputTokens),
        };
        s.numTurns += 1;
        s.durationMs += durationMs;
        s.result = body.result;
        if (AGENT_STATES.has(this.state)) this.setState(this.turnAsk ? 'asking' : this.turnPlan ? 'has_plan' : 'waiting');
        this.turnAsk = this.turnPlan = false;
        return body;
      }
      default:
        return body;
    }
  }
}

/** Replays a whole task log. */
export async function replayLog(path: string, harnesses: ReadonlyMap<HarnessName, Harness>): Promise<Transcript> {
  const t = new Transcript(harnesses);
  for await (const { lines, ascii } of readLogBatches(path)) {
    for (const line of lines) if (line) t.ingest(line, ascii);
  }
  return t;
}

/** Events that may come between a delta run and its complete message without breaking the run. */
const BETWEEN = new Set<EventMessage['kind']>(['log', 'diffStat', 'stats', 'rateLimit', 'usage']);

/**
 * Full history as a connecting client gets it: without the streaming deltas that come right before
 * the complete message they add up to (the client would show both). Their ids stay reserved. A
 * client that resumes with Last-Event-ID gets every event after it instead: it holds the deltas
 * already, and its ids stay contiguous.
 */
export function replayFilter(events: readonly EventMessage[]): EventMessage[] {
  const out: EventMessage[] = [];
  let consolidated = false;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.kind === 'textDelta') {
      if (!consolidated) out.push(e);
      continue;
    }
    if (!BETWEEN.has(e.kind)) consolidated = e.kind === 'text';
    out.push(e);
  }
  return out.reverse();
}

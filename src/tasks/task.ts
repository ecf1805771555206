// A task in memory: its transcript (events + metadata), its log, its agent session and container,
// its subscribers. Every change goes through the log first, then the transcript, then clients.
import { isAscii } from 'node:buffer';
import type { EventMessage, Task as TaskDto, TaskState } from '../api/index.js';
import type { Harness } from '../agents/index.js';
import type { ContainerHandle } from '../containers/index.js';
import { escapeRelayLine, type TaskLog } from './log.js';
import { MAX_AGENT_LINE, type AgentSession } from './session.js';
import { replayFilter, type Summary, type TaskMetaRecord, type Transcript } from './transcript.js';
import { DeltaHold, type Redactor } from './redact.js';
import { SerialQueue } from './serial.js';
import type { UsageDay } from './usage.js';

/** Clock records are written at most this often; event timestamps have this resolution. */
const CLOCK_RESOLUTION_MS = 50;

export type EventListener = (events: EventMessage[]) => void;

/** What is known of a task whose log has not been replayed (historical tasks after a restart). */
export interface TaskHeader {
  meta: TaskMetaRecord;
  state: TaskState;
  stateAt: string;
  summary: Summary;
  hasTrailer: boolean;
  lastEventId: number;
  /** Per-day usage from the trailer; null when the log has none (then a replay tells). */
  usage: UsageDay[] | null;
}

export class Task {
  transcript: Transcript | null = null;
  log: TaskLog | null = null;
  session: AgentSession | null = null;
  handle: ContainerHandle | null = null;
  /** Masks the task's secrets in its agent's output (set when the task gets secrets or tokens). */
  redactor: Redactor | null = null;
  /** Streamed pieces held back while they may be the start of a secret (with a redactor only). */
  private deltaHold: DeltaHold | null = null;
  /** The task's own secrets by name (the safety scan looks for their values); in memory only. */
  secretValues: Record<string, string> = {};
  /** Sessions in a row that stopped because the log could not take their lines (a full disk): reattaching waits longer each time. */
  logStalls = 0;
  /** Last time something happened in the task (a record or an agent line; not a stats sample): idle stop reads it. */
  activeAt = Date.now();
  private readonly listeners = new Set<EventListener>();
  private lastClockMs = 0;
  private readonly queue = new SerialQueue();

  constructor(
    readonly id: string,
    public header: TaskHeader,
    readonly harness: Harness,
    private readonly onChange: (task: Task, events: EventMessage[]) => void,
  ) {}

  get meta(): TaskMetaRecord {
    return this.transcript?.meta ?? this.header.meta;
  }

  get state(): TaskState {
    return this.transcript?.state ?? this.header.state;
  }

  /** Operations on one task run one at a time, in order. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  private write(line: Buffer): EventMessage[] {
    if (!this.log || !this.transcript) throw new Error(`task ${this.id} is not open`);
    this.log.append(line);
    return this.transcript.ingest(line.toString('latin1'), isAscii(line));
  }

  private clock(): EventMessage[] {
    const now = Date.now();
    // The first line is always caic_meta (it carries the creation time): listing reads only it.
    if (!this.log?.size) return [];
    if (now - this.lastClockMs < CLOCK_RESOLUTION_MS) return [];
    this.lastClockMs = now;
    return this.write(Buffer.from(JSON.stringify({ type: 'caic_clock', ts: new Date(now).toISOString() })));
  }

  private publish(events: EventMessage[]): void {
    if (events.length) for (const l of this.listeners) l(events);
    // Text deltas are most of a session's lines and change nothing in the task's summary, so the
    // task list (a serialised comparison per call) need not hear of them.
    if (events.length > 0 && events.every((e) => e.kind === 'textDelta')) return;
    this.onChange(this, events);
  }

  /**
   * Appends a host record (`caic_*`). `bookkeeping`: the daemon's own note (a stats sample, a
   * reattach after a restart), which does not count as something happening for idle stop.
   */
  record(rec: { type: string } & Record<string, unknown>, opts: { bookkeeping?: boolean } = {}): void {
    const events = [...this.clock(), ...this.write(Buffer.from(JSON.stringify(rec)))];
    if (rec.type !== 'caic_stats' && !opts.bookkeeping) this.activeAt = Date.now();
    this.publish(events);
  }

  /**
   * Appends a line that came through the relay. After shutdown (the log sealed) it is dropped: the
   * relay's byte offset did not move, so the next daemon gets it again when it reattaches.
   */
  relayLine(line: Buffer): void {
    if (this.log?.isSealed) return;
    const piece = this.redactor && line.length <= MAX_AGENT_LINE ? this.harness.deltaPiece?.(line) : null;
    if (piece) {
      // A streamed piece: held while the text so far may be the start of a secret.
      this.deltaHold ??= new DeltaHold(this.redactor!);
      for (const kept of this.deltaHold.push(line, piece)) this.keepRelayLine(kept.line, kept.bytes);
      return;
    }
    this.releaseDeltas();
    if (line.length > MAX_AGENT_LINE) return this.relayLineTooLong(line.length);
    this.keepRelayLine(line, line.length);
  }

  /**
   * Lets go of streamed pieces held back for masking (a line that is not a delta came, or the
   * session ends). Held lines are in no log yet: a daemon that stops first gets them again from
   * the relay, whose offset did not move past them.
   */
  releaseDeltas(): void {
    if (!this.deltaHold?.holding || this.log?.isSealed) return;
    for (const kept of this.deltaHold.release()) this.keepRelayLine(kept.line, kept.bytes);
  }

  /** Logs, parses and publishes one relay line (`bytes`: its length as the relay sent it). */
  private keepRelayLine(line: Buffer, bytes: number): void {
    this.activeAt = Date.now();
    const before = this.transcript?.state;
    const events = [...this.clock()];
    // Secrets are masked before the line is kept or parsed: log, streams, MCP and the UI only ever
    // see the masked line. The relay's offset still counts the bytes it sent.
    const clean = this.redactor?.apply(line) ?? line;
    if (clean.length !== bytes) events.push(...this.write(Buffer.from(JSON.stringify({ type: 'caic_redacted', bytes: bytes - clean.length }))));
    events.push(...this.write(escapeRelayLine(clean)));
    // A state the agent's output brought (a turn's end, its exit) goes on record too: a log's tail
    // must list the task as it is, also while nothing replays it (Docker down after a restart).
    if (this.transcript && this.transcript.state !== before) {
      // Best effort: the line is logged, and a replay derives the same state from it.
      try {
        this.recordState();
      } catch {
        /* the log could not take the state record; the next state change writes it again */
      }
    }
    this.publish(events);
  }

  /**
   * A relay line too long to keep: only its size goes on record, which still moves the relay's
   * byte offset past it (a reattach must not send it again).
   */
  relayLineTooLong(bytes: number): void {
    if (this.log?.isSealed) return;
    this.record({ type: 'caic_skipped', bytes });
  }

  setState(state: TaskState, error?: string): void {
    const t = this.transcript;
    if (!t || (t.state === state && error === undefined)) return;
    this.record({ type: 'caic_state', state, ...(error !== undefined ? { error } : {}), summary: t.summary, lastEventId: t.lastEventId });
  }

  /** Writes the current state and summary (no events: replay derives the same state either way). */
  private recordState(): void {
    const t = this.transcript!;
    this.write(Buffer.from(JSON.stringify({ type: 'caic_state', state: t.state, summary: t.summary, lastEventId: t.lastEventId })));
  }

  /** History after `afterId` plus a live subscription, taken atomically (no gap, no duplicate). */
  subscribe(afterId: number, listener: EventListener): { history: EventMessage[]; unsubscribe: () => void } {
    const events = this.transcript?.events ?? [];
    const history = afterId > 0 ? events.slice(afterId) : replayFilter(events);
    this.listeners.add(listener);
    return { history, unsubscribe: () => this.listeners.delete(listener) };
  }

  /**
   * Tool calls waiting for a person. The approval workstream replaces this with its own count
   * (src/tasks/approvals.ts); until then no request is ever pending.
   */
  pendingApprovals(): number {
    return 0;
  }

  dto(): TaskDto {
    const t = this.transcript;
    const meta = this.meta;
    const s = t?.summary ?? this.header.summary;
    const model = s.model || meta.model;
    return {
      id: this.id,
      title: s.title || meta.title,
      initialPrompt: meta.prompt,
      repos: meta.repos.map((r) => ({ name: r.name, baseBranch: r.baseBranch, branch: r.branch })),
      harness: meta.harness,
      model,
      state: this.state,
      stateUpdatedAt: (t?.stateAt ?? this.header.stateAt) || meta.createdAt,
      createdAt: meta.createdAt,
      container: s.container,
      sudo: meta.sudo,
      owner: meta.ownerName,
      costUSD: s.costUSD,
      durationMs: s.durationMs,
      numTurns: s.numTurns,
      tokens: s.tokens,
      contextWindowLimit: this.harness.contextWindow(model),
      activeInputTokens: s.activeInputTokens,
      diffStat: s.diffStat,
      error: s.error,
      result: s.result,
      sessionId: s.sessionId,
      agentVersion: s.agentVersion,
      planContent: s.planContent,
      lastEventId: t?.lastEventId ?? this.header.lastEventId,
      forge: s.forge,
      permissions: meta.permissions ?? { mode: 'bypass', rules: [] },
      pendingApprovals: this.pendingApprovals(),
      egress: meta.egress ?? { mode: 'open', allow: [] },
    };
  }
}

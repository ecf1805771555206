// The assistant's outgoing audio: Opus packets queued and sent as RTP in real time, one every 20 ms, with continuous sequence numbers and timestamps.
import { OPUS_FRAME_MS, OPUS_FRAME_SAMPLES } from '../audio.js';

/** One RTP packet to send: what the gateway decides (werift's sender sets SSRC and payload type). */
export interface PacedPacket {
  sequenceNumber: number;
  timestamp: number;
  /** Set on the first packet after a pause (RFC 7587: the start of a talkspurt). */
  marker: boolean;
  payload: Uint8Array;
}

export interface PacerOptions {
  send: (packet: PacedPacket) => void;
  /** Most packets held (a model sends faster than real time; this bounds a runaway reply): 60 s. */
  maxQueued?: number;
  /** Milliseconds, monotonic (tests drive a clock of their own). */
  now?: () => number;
  /** Runs `fn` in `ms` (tests: a scheduler of their own); returns how to cancel it. */
  schedule?: (fn: () => void, ms: number) => () => void;
}

/**
 * Frames sent at once to catch up after the process was held up (a GC pause, a busy machine).
 * Beyond this the schedule starts again from now: a receiver's jitter buffer takes a few early
 * frames, but a burst of a second of audio would add that second to its delay (or be dropped).
 */
export const MAX_CATCH_UP_FRAMES = 3;

const realSchedule = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/**
 * Models send speech faster than real time; a receiver's jitter buffer expects one 20 ms packet
 * every 20 ms. The pacer releases the queue on a drift-free schedule (packet k of a burst is due at
 * start + 20 k ms, however late one timer fires) and keeps the RTP clock continuous across pauses
 * (the timestamp advances by the pause, so the receiver plays the next reply on time).
 */
export class Pacer {
  private queue: Uint8Array[] = [];
  private timer: (() => void) | null = null;
  private burstStart = 0;
  private sentInBurst = 0;
  private sequence = Math.floor(Math.random() * 0x10000);
  private timestamp = Math.floor(Math.random() * 0x1_0000_0000);
  /** When the last packet's 20 ms ended (ms, `now()` clock); null before the first. */
  private lastEnd: number | null = null;
  private readonly now: () => number;
  private readonly max: number;
  private readonly schedule: NonNullable<PacerOptions['schedule']>;
  closed = false;
  readonly stats = { sent: 0, dropped: 0, overflow: 0 };

  constructor(private readonly opts: PacerOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.max = opts.maxQueued ?? 3000;
    this.schedule = opts.schedule ?? realSchedule;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Queues a packet (it may leave at once, before this returns); false when it was dropped (closed, or the queue is full). */
  push(payload: Uint8Array): boolean {
    if (this.closed) return false;
    if (this.queue.length >= this.max) {
      this.stats.overflow++;
      return false;
    }
    this.queue.push(payload);
    if (!this.timer) this.startBurst();
    return true;
  }

  /** Barge-in: every queued packet is dropped at once; returns how many. */
  clear(): number {
    const n = this.queue.length;
    this.stats.dropped += n;
    this.queue = [];
    this.stop();
    return n;
  }

  close(): void {
    this.closed = true;
    this.clear();
  }

  private stop(): void {
    this.timer?.();
    this.timer = null;
  }

  private startBurst(): void {
    const now = this.now();
    if (this.lastEnd !== null && now > this.lastEnd) {
      // The RTP clock runs on through the pause: the receiver sees a gap, not a time warp.
      this.timestamp = (this.timestamp + Math.round(((now - this.lastEnd) * OPUS_FRAME_SAMPLES) / OPUS_FRAME_MS)) >>> 0;
    }
    // A packet arriving while the last one still plays waits for its turn, and continues its talkspurt.
    const talkspurt = this.lastEnd === null || now > this.lastEnd;
    this.burstStart = Math.max(now, this.lastEnd ?? now);
    this.sentInBurst = 0;
    if (this.burstStart <= now) this.tick(talkspurt);
    else this.timer = this.schedule(() => this.tick(talkspurt), this.burstStart - now);
  }

  private tick(first = false): void {
    this.timer = null;
    const now = this.now();
    let marker = first;
    const behind = Math.floor((now - this.burstStart) / OPUS_FRAME_MS) - this.sentInBurst;
    if (behind > MAX_CATCH_UP_FRAMES) {
      // Held up: catch up a little, then carry on from now rather than in one burst.
      this.burstStart = now - (this.sentInBurst + MAX_CATCH_UP_FRAMES) * OPUS_FRAME_MS;
    }
    while (this.queue.length > 0 && this.burstStart + this.sentInBurst * OPUS_FRAME_MS <= now) {
      const payload = this.queue.shift()!;
      this.opts.send({ sequenceNumber: this.sequence, timestamp: this.timestamp, marker, payload });
      marker = false;
      this.sequence = (this.sequence + 1) & 0xffff;
      this.timestamp = (this.timestamp + OPUS_FRAME_SAMPLES) >>> 0;
      this.sentInBurst++;
      this.stats.sent++;
      this.lastEnd = this.burstStart + this.sentInBurst * OPUS_FRAME_MS;
    }
    if (this.queue.length === 0 || this.closed) return;
    const due = this.burstStart + this.sentInBurst * OPUS_FRAME_MS;
    this.timer = this.schedule(() => this.tick(), Math.max(0, due - this.now()));
  }
}

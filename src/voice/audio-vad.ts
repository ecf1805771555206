// Energy voice-activity detection for half-duplex turns (the local-stack backend): speech starts
// when frames stay above the noise floor by a margin, and ends after a hangover of quiet frames.
import { rms, toDbfs } from './audio-pcm.js';

export interface VadOptions {
  /** Sample rate of the frames pushed (any frame length works; 20 ms is the usual). */
  sampleRate: number;
  /** Start threshold above the noise floor, in dB. */
  startDb?: number;
  /** A speaking stream stays in speech while frames are above the floor by this much (hysteresis). */
  endDb?: number;
  /** Frames above the start threshold for this long in a row open a segment (a click does not). */
  minSpeechMs?: number;
  /** Quiet this long after the last voiced frame closes the segment (pauses between words do not). */
  hangoverMs?: number;
  /** The noise floor is the quietest frame of this trailing window (minimum statistics). */
  floorWindowMs?: number;
  /** Never speech below this level, however quiet the floor (digital silence reads as -100 dBFS). */
  minSpeechDbfs?: number;
}

export type VadEvent =
  /** `atMs`: stream time of the first frame of the run that opened the segment. */
  | { type: 'start'; atMs: number }
  /** `atMs`: stream time at the end of the last voiced frame (the hangover is not counted). */
  | { type: 'end'; atMs: number; durationMs: number };

export const VAD_DEFAULTS = {
  startDb: 12,
  endDb: 6,
  minSpeechMs: 60,
  hangoverMs: 500,
  floorWindowMs: 3000,
  minSpeechDbfs: -55,
} as const;

/** One per incoming stream; push frames in order, act on the events. */
export class EnergyVad {
  private readonly o: Required<VadOptions>;
  /** Levels (dBFS) of the frames in the floor window, as a ring. */
  private readonly levels: Float64Array;
  private levelCount = 0;
  private levelNext = 0;
  private samples = 0;
  private inSpeech = false;
  private runStartMs = 0;
  private runMs = 0;
  private segmentStartMs = 0;
  private lastVoicedMs = 0;
  private floor = 0;

  constructor(options: VadOptions) {
    this.o = { ...VAD_DEFAULTS, ...options };
    if (!(this.o.sampleRate > 0)) throw new RangeError(`bad sample rate ${this.o.sampleRate}`);
    // Room for the window at 10 ms frames; longer frames use fewer slots of it.
    this.levels = new Float64Array(Math.max(1, Math.ceil(this.o.floorWindowMs / 10)));
  }

  get speaking(): boolean {
    return this.inSpeech;
  }

  /** The current noise-floor estimate in dBFS (the quietest frame of the window). */
  get noiseFloorDbfs(): number {
    return this.floor;
  }

  /** Feeds the next frame; returns the event it caused, if any. */
  push(frame: Int16Array): VadEvent | null {
    if (frame.length === 0) return null;
    const o = this.o;
    const startMs = (this.samples / o.sampleRate) * 1000;
    this.samples += frame.length;
    const endMs = (this.samples / o.sampleRate) * 1000;
    const frameMs = endMs - startMs;
    const level = toDbfs(rms(frame));
    this.floor = this.observe(level, frameMs);
    const start = Math.max(this.floor + o.startDb, o.minSpeechDbfs);
    const keep = start - (o.startDb - o.endDb);
    if (!this.inSpeech) {
      if (level < start) {
        this.runMs = 0;
        return null;
      }
      if (this.runMs === 0) this.runStartMs = startMs;
      this.runMs += frameMs;
      if (this.runMs < o.minSpeechMs) return null;
      this.inSpeech = true;
      this.runMs = 0;
      this.segmentStartMs = this.runStartMs;
      this.lastVoicedMs = endMs;
      return { type: 'start', atMs: this.segmentStartMs };
    }
    if (level >= keep) {
      this.lastVoicedMs = endMs;
      return null;
    }
    if (endMs - this.lastVoicedMs < o.hangoverMs) return null;
    this.inSpeech = false;
    return { type: 'end', atMs: this.lastVoicedMs, durationMs: this.lastVoicedMs - this.segmentStartMs };
  }

  /** Ends the stream: closes an open segment at its last voiced frame. */
  finish(): VadEvent | null {
    if (!this.inSpeech) return null;
    this.inSpeech = false;
    return { type: 'end', atMs: this.lastVoicedMs, durationMs: this.lastVoicedMs - this.segmentStartMs };
  }

  /** Records a frame's level and returns the minimum over the trailing window. */
  private observe(level: number, frameMs: number): number {
    const slots = Math.min(this.levels.length, Math.max(1, Math.round(this.o.floorWindowMs / frameMs)));
    this.levels[this.levelNext] = level;
    this.levelNext = (this.levelNext + 1) % slots;
    this.levelCount = Math.min(this.levelCount + 1, slots);
    let min = Infinity;
    for (let i = 0; i < this.levelCount; i++) min = Math.min(min, this.levels[i]!);
    return min;
  }
}

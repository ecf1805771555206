// One Opus encoder + decoder per voice session (48 kHz mono, 20 ms frames) on @evan/opus (libopus,
// prebuilt N-API binaries in the package with a wasm fallback; chosen by measurement, see
// docs/performance.md). Decoding never throws: RTP payloads are hostile input.
import { createRequire } from 'node:module';

/** The package's own surface, as much of it as caic uses (its typings do not resolve under NodeNext exports). */
interface EvanEncoder {
  encode(pcm: ArrayBufferView): Uint8Array;
  bitrate: number | 'auto' | 'max';
  complexity: number;
  signal: 'auto' | 'voice' | 'music';
  inband_fec: boolean;
  packet_loss: number;
}
interface EvanDecoder {
  decode(packet: ArrayBufferView): Uint8Array;
}
interface EvanOpus {
  Encoder: new (o: { channels: 1 | 2; sample_rate: number; application: 'voip' | 'audio' | 'restricted_lowdelay' }) => EvanEncoder;
  Decoder: new (o: { channels: 1 | 2; sample_rate: number }) => EvanDecoder;
}

const opus = createRequire(import.meta.url)('@evan/opus') as EvanOpus;

/** WebRTC's Opus clock: RTP timestamps and every frame the gateway handles are at 48 kHz. */
export const OPUS_RATE = 48_000;
export const OPUS_FRAME_MS = 20;
export const OPUS_FRAME_SAMPLES = (OPUS_RATE * OPUS_FRAME_MS) / 1000;
/** The most one packet can hold: 120 ms. Decoder output never exceeds this (at 48 kHz; at another rate, its 120 ms). */
export const OPUS_MAX_SAMPLES = (OPUS_RATE * 120) / 1000;
/**
 * The rates libopus encodes from and decodes to itself. Whatever the rate, a packet's RTP clock is
 * 48 kHz; decoding straight to the model's 16 kHz and encoding straight from its 24 kHz spares
 * a resampler each way and costs libopus less than 48 kHz (docs/performance.md, bench:voice).
 */
export const OPUS_PCM_RATES: readonly number[] = [8_000, 12_000, 16_000, 24_000, 48_000];

/** The lowest rate libopus takes at or above `rate` (48 kHz above it): where to resample a model's audio to, if anywhere. */
export function opusPcmRate(rate: number): number {
  return OPUS_PCM_RATES.find((r) => r >= rate) ?? OPUS_RATE;
}

export interface OpusCodecOptions {
  /** Encoder bitrate in bit/s (speech: 24–32 kbit/s is transparent enough; WebRTC's default is 32k). */
  bitrate?: number;
  /** libopus complexity 0–10: CPU per encoded frame against quality; decoding cost does not depend on it. */
  complexity?: number;
  /** The rate of the PCM `encode` takes, one of OPUS_PCM_RATES (default 48 kHz); a frame is 20 ms of it. */
  encodeRate?: number;
  /** The rate of the PCM `decode` returns, one of OPUS_PCM_RATES (default 48 kHz). */
  decodeRate?: number;
}

export const OPUS_DEFAULTS = { bitrate: 32_000, complexity: 5, encodeRate: OPUS_RATE, decodeRate: OPUS_RATE } as const;

export interface OpusStats {
  /** Packets decoded as sent. */
  decoded: number;
  /** Frames made up for lost packets (null/empty input). */
  concealed: number;
  /** Packets that were not Opus (corrupt, truncated, too long for the decoder): concealed too, and counted here. */
  invalid: number;
  encoded: number;
}

/**
 * An encoder and a decoder for one session. `encode` takes exactly one 20 ms frame (a Framer
 * makes them); `decode` takes whatever arrived in an RTP payload and always returns PCM: the
 * packet's samples, or, for a lost, corrupt or oversized packet, the decoder's concealment cut
 * to the length of the last good packet (libopus would otherwise conceal 120 ms at once).
 */
export class OpusCodec {
  readonly stats: OpusStats = { decoded: 0, concealed: 0, invalid: 0, encoded: 0 };
  /** Samples in one 20 ms frame `encode` takes. */
  readonly frameSamples: number;
  readonly encodeRate: number;
  readonly decodeRate: number;
  private encoder: EvanEncoder | null;
  private decoder: EvanDecoder | null;
  private readonly maxSamples: number;
  private lastSamples: number;

  constructor(options: OpusCodecOptions = {}) {
    const o = { ...OPUS_DEFAULTS, ...options };
    for (const [name, rate] of [['encodeRate', o.encodeRate], ['decodeRate', o.decodeRate]] as const) {
      if (!OPUS_PCM_RATES.includes(rate)) throw new RangeError(`${name} must be one of ${OPUS_PCM_RATES.join(', ')} Hz, got ${rate}`);
    }
    this.encodeRate = o.encodeRate;
    this.decodeRate = o.decodeRate;
    this.frameSamples = (o.encodeRate * OPUS_FRAME_MS) / 1000;
    this.maxSamples = (o.decodeRate * 120) / 1000;
    this.lastSamples = (o.decodeRate * OPUS_FRAME_MS) / 1000;
    this.encoder = new opus.Encoder({ channels: 1, sample_rate: o.encodeRate, application: 'voip' });
    this.encoder.bitrate = o.bitrate;
    this.encoder.complexity = o.complexity;
    this.encoder.signal = 'voice';
    this.decoder = new opus.Decoder({ channels: 1, sample_rate: o.decodeRate });
  }

  /** One 20 ms frame of mono int16 at `encodeRate` (960 samples at 48 kHz) → one Opus packet (a fresh array the caller keeps). */
  encode(frame: Int16Array): Uint8Array {
    if (!this.encoder) throw new Error('OpusCodec is closed');
    if (frame.length !== this.frameSamples) throw new RangeError(`Opus frames are ${this.frameSamples} samples at ${this.encodeRate} Hz, got ${frame.length}`);
    // The package copies each packet out of its one output buffer (shared by every encoder), so
    // the packet is the caller's; a test holds it to that.
    const packet = this.encoder.encode(frame);
    this.stats.encoded++;
    return packet;
  }

  /** An RTP payload (null for a packet known lost) → mono int16 at `decodeRate`. Never throws. */
  decode(packet: Uint8Array | null | undefined): Int16Array {
    if (!this.decoder) return new Int16Array(this.lastSamples);
    if (!packet || packet.length === 0) {
      this.stats.concealed++;
      return this.conceal();
    }
    let bytes: Uint8Array;
    try {
      bytes = this.decoder.decode(packet);
    } catch {
      this.stats.invalid++;
      return this.conceal();
    }
    const n = Math.min(bytes.length >> 1, this.maxSamples);
    const pcm = new Int16Array(n);
    new Uint8Array(pcm.buffer).set(bytes.subarray(0, n * 2));
    if (n > 0) this.lastSamples = n;
    this.stats.decoded++;
    return pcm;
  }

  /**
   * Ends the session's codec: encode throws and decode gives silence from now on. The package has no
   * explicit free; dropping the references lets the collector release libopus's state.
   */
  close(): void {
    this.encoder = null;
    this.decoder = null;
  }

  private conceal(): Int16Array {
    const out = new Int16Array(this.lastSamples);
    try {
      const bytes = this.decoder!.decode(new Uint8Array(0));
      const n = Math.min(out.length, bytes.length >> 1);
      new Uint8Array(out.buffer).set(bytes.subarray(0, n * 2));
    } catch {
      // Concealment failing leaves silence, which is what a lost frame sounds like anyway.
    }
    return out;
  }
}

/**
 * The floor bench:voice compares the gateway against: decode each packet and encode a frame back
 * with one codec, nothing else (no WebRTC, no resampling, no framing). Returns the bytes encoded,
 * so the work cannot be optimised away.
 */
export function codecFloor(packets: readonly Uint8Array[], codec: OpusCodec = new OpusCodec()): number {
  let bytes = 0;
  for (const p of packets) {
    const pcm = codec.decode(p);
    const frame = pcm.length === codec.frameSamples ? pcm : pcm.subarray(0, codec.frameSamples);
    if (frame.length === codec.frameSamples) bytes += codec.encode(frame).length;
  }
  return bytes;
}

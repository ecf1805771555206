// Streaming sample-rate conversion by a rational factor (48 kHz ↔ 16 kHz, 24 kHz → 48 kHz, …):
// a polyphase windowed-sinc FIR, so content above the lower Nyquist is filtered out, not aliased.

/** Stop-band attenuation of the low-pass, in dB: aliases of out-of-band content end below this. */
const ATTENUATION_DB = 80;
/** Transition band as a fraction of the lower Nyquist: flat up to 80% of it, stopped from 100%. */
const TRANSITION = 0.2;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Zeroth-order modified Bessel function of the first kind (for the Kaiser window), by its series. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64 && term > sum * 1e-12; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}

interface Design {
  up: number;
  down: number;
  /** Taps per phase. */
  taps: number;
  /** Phase p's taps at [p * taps, (p + 1) * taps), tap k applying to the k-th oldest input sample of the window. */
  phases: Float64Array;
}

const designs = new Map<string, Design>();

/** The filter for one pair of rates, designed once per process and shared by every stream. */
function design(fromRate: number, toRate: number): Design {
  const key = `${fromRate}>${toRate}`;
  const cached = designs.get(key);
  if (cached) return cached;
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  // Normalised to the upsampled rate (fromRate × up): the lower of the two Nyquists is 0.5 / max.
  const nyquist = 0.5 / Math.max(up, down);
  const width = TRANSITION * nyquist;
  const cutoff = nyquist - width / 2;
  // Kaiser's estimates for the length and the window's shape at the wanted attenuation.
  const length = Math.ceil((ATTENUATION_DB - 8) / (2.285 * 2 * Math.PI * width)) + 1;
  const taps = Math.ceil(length / up);
  const n = taps * up;
  const beta = 0.1102 * (ATTENUATION_DB - 8.7);
  const i0Beta = besselI0(beta);
  const centre = (n - 1) / 2;
  const prototype = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = i - centre;
    const sinc = t === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * t) / (Math.PI * t);
    const r = t / (centre || 1);
    const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
    // × up: zero-stuffing divides the signal's level by `up`; the filter gives it back.
    prototype[i] = sinc * window * up;
  }
  const phases = new Float64Array(n);
  // Stored oldest sample first, so the inner loop walks both arrays forwards.
  for (let p = 0; p < up; p++) for (let k = 0; k < taps; k++) phases[p * taps + (taps - 1 - k)] = prototype[p + k * up]!;
  const d = { up, down, taps, phases };
  designs.set(key, d);
  return d;
}

/**
 * Converts one stream of int16 mono samples from `fromRate` to `toRate`, chunk by chunk: state
 * carries across calls, so chunk boundaries leave no clicks. One instance per stream (it is not
 * shared between sessions); the filter tables are. The output lags the input by half the filter
 * (≈ 1.5 ms at 48 → 16 kHz).
 */
export class Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  private readonly d: Design;
  /** The last `taps - 1` input samples followed by the current chunk (float64: no conversions in the inner loop). */
  private work: Float64Array;
  /** Position of the next output sample, in 1/up input samples from the current chunk's first sample. */
  private pos = 0;

  constructor(fromRate: number, toRate: number) {
    for (const r of [fromRate, toRate]) {
      if (!Number.isInteger(r) || r < 1000 || r > 384_000) throw new RangeError(`unsupported sample rate ${r}`);
    }
    this.fromRate = fromRate;
    this.toRate = toRate;
    this.d = design(fromRate, toRate);
    this.work = new Float64Array(this.d.taps - 1 + 4096);
  }

  /** The filter's delay in output samples (its centre tap). */
  get delay(): number {
    return (this.d.taps * this.d.up - 1) / 2 / this.d.down;
  }

  /** How many samples `process` returns for a chunk of `n` input samples given the current state. */
  outputLength(n: number): number {
    const { up, down } = this.d;
    const end = n * up;
    return this.pos >= end ? 0 : Math.ceil((end - this.pos) / down);
  }

  /** Resamples the next chunk of the stream. */
  process(input: Int16Array): Int16Array {
    const { up, down, taps, phases } = this.d;
    const hist = taps - 1;
    if (this.work.length < hist + input.length) {
      const grown = new Float64Array(hist + input.length);
      grown.set(this.work.subarray(0, hist));
      this.work = grown;
    }
    const w = this.work;
    for (let i = 0; i < input.length; i++) w[hist + i] = input[i]!;
    const out = new Int16Array(this.outputLength(input.length));
    // pos = idx * up + phase, kept as the two integers so the loop has no division.
    let idx = Math.floor(this.pos / up);
    let phase = this.pos - idx * up;
    const stepIdx = Math.floor(down / up);
    const stepPhase = down - stepIdx * up;
    for (let o = 0; o < out.length; o++) {
      // The window ends at input[idx], which is w[hist + idx]: it starts at w[idx].
      const ph = phase * taps;
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += phases[ph + k]! * w[idx + k]!;
      out[o] = acc >= 32767 ? 32767 : acc <= -32768 ? -32768 : Math.round(acc);
      idx += stepIdx;
      phase += stepPhase;
      if (phase >= up) {
        phase -= up;
        idx++;
      }
    }
    const pos = idx * up + phase;
    this.pos = pos - input.length * up;
    // Keep the newest `hist` samples (older history when the chunk is shorter than the filter).
    w.copyWithin(0, input.length, input.length + hist);
    return out;
  }
}

/**
 * Resamples a whole buffer at once (tests, offline conversion): the filter's delay is taken out and
 * its tail flushed, so output sample i lines up with input time i / toRate.
 */
export function resample(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  const r = new Resampler(fromRate, toRate);
  const { taps } = design(fromRate, toRate);
  const padded = new Int16Array(input.length + taps);
  padded.set(input);
  const out = r.process(padded);
  const delay = Math.round(r.delay);
  return out.slice(delay, delay + Math.round((input.length * toRate) / fromRate));
}

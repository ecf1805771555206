// PCM sample helpers for the voice pipeline: int16 ↔ float conversion, RMS energy and dBFS.

/** The quietest level the voice code distinguishes; digital silence reads as this, not -Infinity. */
export const SILENCE_DBFS = -100;

/** int16 samples → floats in [-1, 1). Writes into `out` when given (same length), else allocates. */
export function int16ToFloat(samples: Int16Array, out?: Float32Array): Float32Array {
  const dst = out ?? new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) dst[i] = samples[i]! / 32768;
  return dst;
}

/** Floats → int16, rounded and clamped (a model may send samples outside [-1, 1]; NaN becomes 0). */
export function floatToInt16(samples: Float32Array, out?: Int16Array): Int16Array {
  const dst = out ?? new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) dst[i] = clampInt16(samples[i]! * 32768);
  return dst;
}

/** Rounds and clamps one sample value to the int16 range. */
export function clampInt16(v: number): number {
  if (v !== v) return 0;
  if (v <= -32768) return -32768;
  return v >= 32767 ? 32767 : Math.round(v);
}

/** Root mean square of int16 samples relative to full scale (0 for silence, ~0.707 for a full-scale sine). */
export function rms(samples: Int16Array, start = 0, end = samples.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const s = samples[i]!;
    sum += s * s;
  }
  return Math.sqrt(sum / (end - start)) / 32768;
}

/** An RMS level (0..1 of full scale) in dBFS, floored at SILENCE_DBFS. */
export function toDbfs(level: number): number {
  return level > 0 ? Math.max(SILENCE_DBFS, 20 * Math.log10(level)) : SILENCE_DBFS;
}

/**
 * Little-endian PCM bytes (a WebSocket message, an HTTP body) as int16 samples without copying when
 * the bytes are aligned; an odd trailing byte is dropped, as a partial sample means nothing.
 */
export function bytesToInt16(bytes: Uint8Array): Int16Array {
  const n = bytes.byteLength >> 1;
  if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, n);
  const copy = new Int16Array(n);
  new Uint8Array(copy.buffer).set(bytes.subarray(0, n * 2));
  return copy;
}

/** int16 samples as little-endian bytes (a view on the same memory; Node and browsers are little-endian). */
export function int16ToBytes(samples: Int16Array): Uint8Array {
  return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
}

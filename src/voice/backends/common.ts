// Small helpers the voice backends share: JSON shape checks, text pieces for the data channel, PCM bytes, key masking, bounded reads of HTTP bodies.
import { VOICE_CHANNEL_LIMITS } from '../../api/index.js';

export const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Splits text into pieces that fit one data channel delta. */
export function textPieces(text: string): string[] {
  const max = VOICE_CHANNEL_LIMITS.textDelta;
  const out: string[] = [];
  for (let i = 0; i < text.length; i += max) out.push(text.slice(i, i + max));
  return out;
}

/** Serialised size of a JSON value in bytes (Infinity when it cannot be serialised). */
export function jsonSize(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return Infinity;
  }
}

/** Little-endian 16-bit PCM bytes as samples (copied, so alignment never matters); a trailing odd byte is dropped. */
export function pcmFromLeBytes(bytes: Uint8Array): Int16Array {
  const n = bytes.byteLength >> 1;
  const out = new Int16Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

export function pcmToLeBytes(pcm: Int16Array): Buffer {
  const buf = Buffer.allocUnsafe(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) buf.writeInt16LE(pcm[i]!, i * 2);
  return buf;
}

/** Replaces every occurrence of `secret` in `text` with `***` and its last four characters. */
export function maskSecret(text: string, secret: string): string {
  return secret.length >= 4 ? text.split(secret).join(`***${secret.slice(-4)}`) : text;
}

/** Milliseconds as a short human duration for messages ("300 ms", "15 s"). */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

/** A parameter schema the OpenAI-style APIs take as function parameters: the client's JSON Schema, or an empty object. */
export function functionParameters(parameters: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!parameters || parameters.type !== 'object') return { type: 'object', properties: {} };
  // `$schema` is metadata the APIs do not need; everything else is JSON Schema they read.
  const { $schema: _drop, ...rest } = parameters;
  return rest;
}

/**
 * A model's function-call arguments (a JSON string from the model, hostile like any input) as an
 * object, or why not: not JSON, not an object, too large.
 */
export function parseToolArguments(raw: unknown): { ok: true; args: Record<string, unknown> } | { ok: false; error: string } {
  if (raw === undefined || raw === null || raw === '') return { ok: true, args: {} };
  if (isRecord(raw)) {
    return jsonSize(raw) > VOICE_CHANNEL_LIMITS.toolArgsBytes ? { ok: false, error: 'arguments too large' } : { ok: true, args: raw };
  }
  if (typeof raw !== 'string') return { ok: false, error: 'arguments must be a JSON object' };
  if (Buffer.byteLength(raw) > VOICE_CHANNEL_LIMITS.toolArgsBytes) return { ok: false, error: 'arguments too large' };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'arguments are not valid JSON' };
  }
  return isRecord(value) ? { ok: true, args: value } : { ok: false, error: 'arguments must be a JSON object' };
}

// The JSON messages of the voice gateway's `voice-gateway` data channel, both directions, with bounded sizes and a parser that never throws.
import { z } from 'zod';

/**
 * Bounds on what a client may make the gateway hold. A data channel message is read whole before
 * it is parsed, so the byte cap comes first; the rest keep a session's setup (which the gateway
 * keeps for its lifetime and forwards to the model) to tens of kilobytes.
 */
export const VOICE_CHANNEL_LIMITS = {
  /** Bytes of one message as received (UTF-8), checked before JSON.parse. */
  messageBytes: 256 * 1024,
  tools: 64,
  toolName: 64,
  toolDescription: 2048,
  /** Bytes of one tool's parameter schema, serialised. */
  toolSchemaBytes: 16 * 1024,
  /** Nesting depth of a parameter schema (objects and arrays). */
  toolSchemaDepth: 12,
  /** Characters of the session context (what the client tells the model about its state). */
  context: 32 * 1024,
  /** Bytes of one tool result, serialised. */
  toolResultBytes: 64 * 1024,
  /** Bytes of one tool call's arguments, serialised. */
  toolArgsBytes: 64 * 1024,
  id: 128,
  reason: 256,
  /** Characters of one text delta sent to the client (longer text goes as several). */
  textDelta: 8 * 1024,
  errorMessage: 1024,
} as const;

const L = VOICE_CHANNEL_LIMITS;

/** UTF-8 byte length of a string without encoding it (this module also runs in the browser: no Buffer). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Serialised byte size of a JSON value, or Infinity when it cannot be serialised. */
function jsonBytes(value: unknown): number {
  try {
    const s = JSON.stringify(value);
    return s === undefined ? Infinity : utf8Length(s);
  } catch {
    return Infinity;
  }
}

/** Nesting depth of a JSON value (a scalar is 0), stopping early past `limit`. */
function jsonDepth(value: unknown, limit: number, depth = 0): number {
  if (depth > limit || value === null || typeof value !== 'object') return depth;
  let max = depth;
  for (const child of Object.values(value as Record<string, unknown>)) {
    max = Math.max(max, jsonDepth(child, limit, depth + 1));
    if (max > limit) break;
  }
  return max;
}

const boundedJson = (maxBytes: number, what: string) =>
  z.unknown().refine((v) => v !== undefined && jsonBytes(v) <= maxBytes, `${what} must be JSON of at most ${maxBytes} bytes`);

const id = z.string().min(1).max(L.id);
/** Function names models accept: a letter or underscore, then letters, digits, `_`, `.`, `-`. */
export const VoiceToolName = z
  .string()
  .max(L.toolName)
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must start with a letter or underscore and hold only letters, digits, _ . -');

/** A JSON Schema object describing a tool's arguments (a backend converts it to its model's form). */
export const VoiceToolParameters = z
  .record(z.string(), z.unknown())
  .refine((v) => jsonBytes(v) <= L.toolSchemaBytes, `parameters must be at most ${L.toolSchemaBytes} bytes of JSON`)
  .refine((v) => jsonDepth(v, L.toolSchemaDepth) <= L.toolSchemaDepth, `parameters must nest at most ${L.toolSchemaDepth} levels`);

export const VoiceTool = z.strictObject({
  name: VoiceToolName,
  description: z.string().max(L.toolDescription).default(''),
  parameters: VoiceToolParameters.optional(),
});
export type VoiceTool = z.output<typeof VoiceTool>;

export const VoiceSettings = z.strictObject({
  /** A voice name of the backend (Gemini: a prebuilt voice such as "Puck"); empty = its default. */
  name: z.string().max(64).regex(/^[A-Za-z0-9_.-]*$/, 'must be a plain voice name').default(''),
  /** BCP-47 language tag such as "en-US"; empty = the model's choice. */
  language: z.string().max(35).regex(/^([A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*)?$/, 'must be a BCP-47 language tag').default(''),
});
export type VoiceSettings = z.output<typeof VoiceSettings>;

const context = z.string().max(L.context);

// ---- client → gateway ----

export const VoiceSessionSetupMessage = z.strictObject({
  type: z.literal('session.setup'),
  voice: VoiceSettings.prefault({}),
  tools: z
    .array(VoiceTool)
    .max(L.tools)
    .default([])
    .refine((tools) => new Set(tools.map((t) => t.name)).size === tools.length, 'tool names must be unique'),
  context: context.default(''),
});
export const VoiceContextUpdateMessage = z.strictObject({ type: z.literal('context.update'), context });
export const VoiceToolResultMessage = z.strictObject({
  type: z.literal('tool.result'),
  id,
  name: VoiceToolName,
  result: boundedJson(L.toolResultBytes, 'result'),
});
export const VoiceTurnCancelMessage = z.strictObject({
  type: z.literal('turn.cancel'),
  reason: z.string().max(L.reason).default(''),
});
export const VoiceSessionCloseMessage = z.strictObject({ type: z.literal('session.close') });

export const VoiceClientMessage = z.discriminatedUnion('type', [
  VoiceSessionSetupMessage,
  VoiceContextUpdateMessage,
  VoiceToolResultMessage,
  VoiceTurnCancelMessage,
  VoiceSessionCloseMessage,
]);
export type VoiceClientMessage = z.output<typeof VoiceClientMessage>;

// ---- gateway → client ----

export const VoiceSpeaker = z.enum(['user', 'assistant']);
export type VoiceSpeaker = z.output<typeof VoiceSpeaker>;
const delta = z.string().max(L.textDelta);

export const VoiceGatewayMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('session.ready') }),
  z.strictObject({ type: z.literal('transcript.delta'), speaker: VoiceSpeaker, text: delta }),
  z.strictObject({ type: z.literal('assistant.text.delta'), text: delta }),
  /** Who started or stopped speaking; absent means the user (the VAD's view). */
  z.strictObject({ type: z.literal('speech.started'), speaker: VoiceSpeaker.optional() }),
  z.strictObject({ type: z.literal('speech.ended'), speaker: VoiceSpeaker.optional() }),
  z.strictObject({
    type: z.literal('tool.call'),
    id,
    name: VoiceToolName,
    args: z.record(z.string(), z.unknown()).refine((v) => jsonBytes(v) <= L.toolArgsBytes, 'args too large'),
  }),
  /** `user`: barge-in (the user spoke over the assistant); `client`: after a turn.cancel. */
  z.strictObject({ type: z.literal('interrupted'), source: z.enum(['user', 'client']) }),
  z.strictObject({ type: z.literal('error'), message: z.string().max(L.errorMessage), recoverable: z.boolean() }),
]);
export type VoiceGatewayMessage = z.output<typeof VoiceGatewayMessage>;

export type VoiceParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

/** The first issues of a zod error as one line, with their paths. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

function parseWith<T>(schema: z.ZodType<T>, raw: string | Uint8Array, maxBytes: number): VoiceParseResult<T> {
  // A string longer than the cap in UTF-16 units is longer in bytes too: no need to count those.
  const bytes = typeof raw === 'string' ? (raw.length > maxBytes ? raw.length : utf8Length(raw)) : raw.byteLength;
  if (bytes > maxBytes) return { ok: false, error: `message too large (${bytes} bytes or more; at most ${maxBytes})` };
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    return { ok: false, error: 'message is not JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'message must be a JSON object' };
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') return { ok: false, error: 'message has no "type"' };
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const unknownType = parsed.error.issues.some((i) => i.code === 'invalid_union' && i.path.length === 1 && i.path[0] === 'type');
    return { ok: false, error: unknownType ? `unknown message type "${type.slice(0, 40)}"` : `invalid ${type.slice(0, 40)}: ${describeIssues(parsed.error)}` };
  }
  return { ok: true, message: parsed.data };
}

/** Parses one client → gateway message; junk, oversize and unknown types give an error, never a throw. */
export function parseVoiceClientMessage(raw: string | Uint8Array): VoiceParseResult<VoiceClientMessage> {
  return parseWith(VoiceClientMessage, raw, L.messageBytes);
}

/** Parses one gateway → client message (for clients; same rules). */
export function parseVoiceGatewayMessage(raw: string | Uint8Array): VoiceParseResult<VoiceGatewayMessage> {
  return parseWith(VoiceGatewayMessage, raw, L.messageBytes);
}

// The `gemini-live` voice backend: one Gemini Live BidiGenerateContent WebSocket per session (setup, realtime PCM, tool calls, barge-in).
import type WebSocket from 'ws';
import { VOICE_CHANNEL_LIMITS, VoiceToolName, type VoiceTool } from '../../api/index.js';
import { modelSocketUrlProblem } from '../../config/index.js';
import type { Logger } from '../../log/index.js';
import type {
  VoiceBackend,
  VoiceBackendListener,
  VoiceBackendSession,
  VoiceSessionSetup,
  VoiceToolResult,
} from '../backend.js';
import { isRecord, jsonSize, pcmFromLeBytes, pcmToLeBytes, textPieces } from './common.js';
import { SocketSession } from './socket-session.js';

export const GEMINI_LIVE_URL = 'wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent';
export const GEMINI_LIVE_INPUT_MIME = 'audio/pcm;rate=16000';
const DEFAULT_OUTPUT_RATE = 24_000;

export interface GeminiLiveOptions {
  /** `GEMINI_API_KEY`. Sent as the `x-goog-api-key` header (never in the URL), never logged. */
  apiKey: string;
  /** e.g. `gemini-3.1-flash-live-preview` (`models/` is added when missing). */
  model: string;
  /** The BidiGenerateContent endpoint; empty = Google's. `ws://` only to a loopback host. */
  url?: string;
  logger?: Logger;
  /** Connect plus setup must finish within this (default 15 s). */
  setupTimeoutMs?: number;
  /** Microphone audio held while the model is not ready yet, in bytes (default 64 KiB = 2 s). */
  maxPendingAudioBytes?: number;
  /** Bytes the socket may hold unsent before microphone audio is dropped (default 256 KiB ≈ 6 s). */
  maxBufferedBytes?: number;
  /** Largest message accepted from the model (default 16 MiB). */
  maxMessageBytes?: number;
}

/** A usable Gemini Live URL, or an error saying why not (the same rule as the config key `gemini_url`). */
export function checkGeminiLiveUrl(value: string): URL {
  const problem = modelSocketUrlProblem(value);
  if (problem) throw new Error(`Gemini Live URL ${problem}`);
  return new URL(value);
}

// ---- tool declarations: JSON Schema → the API's Schema (an OpenAPI 3.0 subset) ----

const TYPE_NAMES: Record<string, string> = {
  string: 'STRING',
  number: 'NUMBER',
  integer: 'INTEGER',
  boolean: 'BOOLEAN',
  array: 'ARRAY',
  object: 'OBJECT',
};
const FORMATS: Record<string, string[]> = { STRING: ['enum', 'date-time'], INTEGER: ['int32', 'int64'], NUMBER: ['float', 'double'] };
const MAX_PROPERTIES = 100;
const MAX_ENUM = 100;

type GeminiSchema = Record<string, unknown>;

const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1e9 ? v : undefined);

/**
 * Converts a JSON Schema to Gemini's Schema: lower-case types become the API's enum names, a
 * `["x","null"]` type becomes `nullable`, `const` an enum, `oneOf` `anyOf`; keywords the API
 * refuses (`additionalProperties`, `$ref`, `pattern`, `default`, …) are dropped, as are objects
 * without properties (the API refuses an OBJECT with none). Returns undefined for what cannot be
 * expressed; depth and sizes are bounded.
 */
export function toGeminiSchema(schema: unknown, depth = 0): GeminiSchema | undefined {
  if (!isRecord(schema) || depth > VOICE_CHANNEL_LIMITS.toolSchemaDepth) return undefined;
  const out: GeminiSchema = {};
  let nullable = schema.nullable === true;
  let types: string[] = [];
  if (typeof schema.type === 'string') types = [schema.type];
  else if (Array.isArray(schema.type)) types = schema.type.filter((t): t is string => typeof t === 'string');
  if (types.includes('null')) nullable = true;
  types = types.filter((t) => t !== 'null' && TYPE_NAMES[t]);
  const alternatives = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;

  if (types.length > 1) {
    const anyOf = types.map((t) => toGeminiSchema({ ...schema, type: t, anyOf: undefined, oneOf: undefined }, depth + 1)).filter(Boolean);
    if (anyOf.length === 0) return undefined;
    out.anyOf = anyOf;
  } else if (types.length === 0 && alternatives) {
    const anyOf = alternatives
      .slice(0, 16)
      .map((s) => toGeminiSchema(s, depth + 1))
      .filter(Boolean);
    if (anyOf.length === 0) return undefined;
    out.anyOf = anyOf;
  } else {
    let type = types[0] ? TYPE_NAMES[types[0]] : undefined;
    if (!type) {
      if (isRecord(schema.properties)) type = 'OBJECT';
      else if (schema.items !== undefined) type = 'ARRAY';
      else if (Array.isArray(schema.enum) || schema.const !== undefined) type = 'STRING';
      else return undefined;
    }
    out.type = type;
    const enumValues = schema.const !== undefined ? [schema.const] : Array.isArray(schema.enum) ? schema.enum : undefined;
    if (type === 'STRING' && enumValues) {
      const values = enumValues
        .filter((v) => ['string', 'number', 'boolean'].includes(typeof v))
        .slice(0, MAX_ENUM)
        .map((v) => String(v).slice(0, 256));
      if (values.length > 0) {
        out.format = 'enum';
        out.enum = values;
      }
    }
    if (typeof schema.format === 'string' && FORMATS[type]?.includes(schema.format) && !out.format) out.format = schema.format;
    if (type === 'OBJECT') {
      if (!isRecord(schema.properties)) return undefined;
      const properties: Record<string, GeminiSchema> = {};
      for (const [key, value] of Object.entries(schema.properties).slice(0, MAX_PROPERTIES)) {
        const converted = toGeminiSchema(value, depth + 1);
        if (converted && key.length <= 128) properties[key] = converted;
      }
      if (Object.keys(properties).length === 0) return undefined;
      out.properties = properties;
      if (Array.isArray(schema.required)) {
        const required = schema.required.filter((k): k is string => typeof k === 'string' && k in properties);
        if (required.length) out.required = [...new Set(required)];
      }
      for (const k of ['minProperties', 'maxProperties'] as const) if (count(schema[k]) !== undefined) out[k] = count(schema[k]);
    } else if (type === 'ARRAY') {
      const items = toGeminiSchema(Array.isArray(schema.items) ? schema.items[0] : schema.items, depth + 1);
      if (!items) return undefined;
      out.items = items;
      for (const k of ['minItems', 'maxItems'] as const) if (count(schema[k]) !== undefined) out[k] = count(schema[k]);
    } else if (type === 'STRING') {
      for (const k of ['minLength', 'maxLength'] as const) if (count(schema[k]) !== undefined) out[k] = count(schema[k]);
    } else if (type === 'NUMBER' || type === 'INTEGER') {
      for (const k of ['minimum', 'maximum'] as const) if (typeof schema[k] === 'number' && Number.isFinite(schema[k])) out[k] = schema[k];
    }
  }
  if (typeof schema.description === 'string' && schema.description) out.description = schema.description.slice(0, VOICE_CHANNEL_LIMITS.toolDescription);
  if (nullable) out.nullable = true;
  return out;
}

/** The client's tools as Gemini function declarations (a tool whose parameters cannot be expressed takes none). */
export function toFunctionDeclarations(tools: VoiceTool[]): Record<string, unknown>[] {
  return tools.slice(0, VOICE_CHANNEL_LIMITS.tools).map((tool) => {
    const decl: Record<string, unknown> = { name: tool.name };
    if (tool.description) decl.description = tool.description;
    const parameters = tool.parameters ? toGeminiSchema(tool.parameters) : undefined;
    if (parameters?.type === 'OBJECT') decl.parameters = parameters;
    return decl;
  });
}

/** The first client message of a session: model, audio replies, voice, server VAD with barge-in, instruction, tools, transcriptions. */
export function buildGeminiSetup(model: string, setup: VoiceSessionSetup): { setup: Record<string, unknown> } {
  const instruction = [setup.systemInstruction.trim()];
  if (setup.voice.language) instruction.push(`Speak ${setup.voice.language} (BCP-47) unless the user speaks another language.`);
  if (setup.context.trim()) instruction.push(`What the client shows now:\n${setup.context.trim()}`);
  const generationConfig: Record<string, unknown> = { responseModalities: ['AUDIO'] };
  if (setup.voice.name) generationConfig.speechConfig = { voiceConfig: { prebuiltVoiceConfig: { voiceName: setup.voice.name } } };
  const body: Record<string, unknown> = {
    model: model.startsWith('models/') ? model : `models/${model}`,
    generationConfig,
    systemInstruction: { parts: [{ text: instruction.filter(Boolean).join('\n\n') }] },
    realtimeInputConfig: {
      automaticActivityDetection: { disabled: false },
      activityHandling: 'START_OF_ACTIVITY_INTERRUPTS',
    },
    inputAudioTranscription: {},
    outputAudioTranscription: {},
  };
  const declarations = toFunctionDeclarations(setup.tools);
  if (declarations.length) body.tools = [{ functionDeclarations: declarations }];
  return { setup: body };
}

/** Little-endian 16-bit PCM bytes as samples (kept under this name for callers of this module). */
export const pcmFromBytes = pcmFromLeBytes;

function sampleRateOf(mime: string): number {
  const rate = Number(/rate=(\d+)/.exec(mime)?.[1]);
  return Number.isInteger(rate) && rate >= 8_000 && rate <= 48_000 ? rate : DEFAULT_OUTPUT_RATE;
}

export class GeminiLiveBackend implements VoiceBackend {
  readonly name = 'gemini-live';
  private readonly url: URL;

  constructor(private readonly opts: GeminiLiveOptions) {
    if (!opts.apiKey) throw new Error('the gemini-live voice backend needs GEMINI_API_KEY');
    this.url = checkGeminiLiveUrl(opts.url || GEMINI_LIVE_URL);
  }

  open(setup: VoiceSessionSetup, listener: VoiceBackendListener): VoiceBackendSession {
    return new GeminiLiveSession(this.url, this.opts, setup, listener);
  }
}

class GeminiLiveSession extends SocketSession implements VoiceBackendSession {
  private readonly toolNames: Set<string>;
  /** Our tool call id → the model's (which may be absent) and the tool's name. */
  private readonly calls = new Map<string, { modelId: string | undefined; name: string }>();
  private readonly cancelledCalls = new Set<string>();
  private callSeq = 0;
  /** The model is producing a reply (between its first output and turnComplete/interrupted). */
  private modelActive = false;
  private assistantSpeaking = false;
  private userSpeaking = false;
  /** After cancelTurn: drop the rest of the cancelled reply until the model ends it. */
  private discarding = false;
  private deferredContext: string | undefined;

  constructor(
    url: URL,
    private readonly opts: GeminiLiveOptions,
    private readonly setup: VoiceSessionSetup,
    listener: VoiceBackendListener,
  ) {
    super(
      {
        service: 'Gemini Live',
        logName: 'gemini-live',
        url,
        headers: { 'x-goog-api-key': opts.apiKey },
        apiKey: opts.apiKey,
        ...(opts.logger ? { logger: opts.logger } : {}),
        setupTimeoutMs: opts.setupTimeoutMs ?? 15_000,
        maxPendingBytes: opts.maxPendingAudioBytes ?? 64 * 1024,
        maxBufferedBytes: opts.maxBufferedBytes ?? 256 * 1024,
        maxMessageBytes: opts.maxMessageBytes ?? 16 * 1024 * 1024,
      },
      listener,
    );
    this.toolNames = new Set(setup.tools.map((t) => t.name));
  }

  protected onOpen(): void {
    this.sendJson(buildGeminiSetup(this.opts.model, this.setup));
  }

  protected audioMessage(bytes: Buffer): unknown {
    return { realtimeInput: { audio: { data: bytes.toString('base64'), mimeType: GEMINI_LIVE_INPUT_MIME } } };
  }

  protected onEnded(): void {
    this.calls.clear();
  }

  protected override closeMessage(code: number, reason: string, why: string): string {
    if (code === 1007 && /api key/i.test(reason)) return `Gemini Live refused the API key (GEMINI_API_KEY): ${why}`;
    if (code === 1008 && /unregistered callers|api key/i.test(reason)) return `Gemini Live needs an API key (GEMINI_API_KEY): ${why}`;
    return super.closeMessage(code, reason, why);
  }

  sendAudio(pcm16k: Int16Array): void {
    if (this.state === 'closed' || this.closing || pcm16k.length === 0) return;
    // The model takes no input before setupComplete: the base holds the newest audio until then.
    this.queueAudio(pcmToLeBytes(pcm16k));
  }

  sendToolResult(result: VoiceToolResult): void {
    if (this.state === 'closed' || this.closing) return;
    const call = this.calls.get(result.id);
    if (!call) {
      // A result for a call the model cancelled (barge-in) is expected and dropped quietly.
      if (this.cancelledCalls.delete(result.id)) return;
      this.emit({ type: 'error', message: `tool.result for an unknown call id "${result.id.slice(0, 64)}"`, recoverable: true });
      return;
    }
    if (call.name !== result.name) {
      this.emit({ type: 'error', message: `tool.result names ${result.name.slice(0, 64)}, but call ${result.id.slice(0, 64)} was ${call.name}`, recoverable: true });
      return;
    }
    this.calls.delete(result.id);
    this.respond(call.modelId, call.name, result.result);
  }

  updateContext(context: string): void {
    if (this.state === 'closed' || this.closing) return;
    // A clientContent message cuts off the model's reply: hold the newest update until the turn ends.
    if (this.state !== 'ready' || this.modelActive) {
      this.deferredContext = context;
      return;
    }
    this.sendContext(context);
  }

  cancelTurn(reason: string): void {
    if (this.state === 'closed' || this.closing) return;
    if (this.modelActive) {
      this.discarding = true;
      for (const id of this.calls.keys()) this.cancelledCalls.add(id);
      this.calls.clear();
      // Gemini has no cancel message; client content interrupts the current generation.
      this.sendJson({
        clientContent: {
          turns: [{ role: 'user', parts: [{ text: `(The user stopped your reply${reason ? `: ${reason.slice(0, 200)}` : ''}. Stay silent until they speak.)` }] }],
          turnComplete: false,
        },
      });
    }
    this.endAssistantTurn();
    this.emit({ type: 'interrupted', source: 'client' });
  }

  // ---- internals ----

  private sendContext(context: string): void {
    this.sendJson({
      clientContent: {
        turns: [{ role: 'user', parts: [{ text: `(Update from the client, not spoken by the user:)\n${context}` }] }],
        turnComplete: false,
      },
    });
  }

  private respond(modelId: string | undefined, name: string, result: unknown): void {
    const response = isRecord(result) ? result : { output: result };
    const fn: Record<string, unknown> = { name, response };
    if (modelId !== undefined) fn.id = modelId;
    this.sendJson({ toolResponse: { functionResponses: [fn] } });
  }

  protected onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let msg: unknown;
    try {
      msg = JSON.parse(buf.toString('utf8'));
    } catch {
      this.log?.warn({ bytes: buf.length, isBinary }, 'Gemini Live sent a message that is not JSON');
      return;
    }
    if (!isRecord(msg)) return;
    if ('setupComplete' in msg) return this.onSetupComplete();
    if (isRecord(msg.serverContent)) return this.onServerContent(msg.serverContent);
    if (isRecord(msg.toolCall)) return this.onToolCall(msg.toolCall);
    if (isRecord(msg.toolCallCancellation)) {
      const ids = Array.isArray(msg.toolCallCancellation.ids) ? msg.toolCallCancellation.ids : [];
      for (const [ours, call] of this.calls) {
        if (ids.includes(call.modelId)) {
          this.calls.delete(ours);
          this.cancelledCalls.add(ours);
        }
      }
      return;
    }
    if (isRecord(msg.goAway)) {
      const left = typeof msg.goAway.timeLeft === 'string' ? msg.goAway.timeLeft : '';
      this.emit({ type: 'error', message: `Gemini Live will end this session soon${left ? ` (in ${left.slice(0, 16)})` : ''}`, recoverable: true });
    }
  }

  private onSetupComplete(): void {
    if (!this.becomeReady(this.toolNames.size)) return;
    this.flushContext();
  }

  private flushContext(): void {
    if (this.deferredContext !== undefined && !this.modelActive && this.state === 'ready') {
      const context = this.deferredContext;
      this.deferredContext = undefined;
      this.sendContext(context);
    }
  }

  private startModelOutput(): void {
    this.modelActive = true;
    if (this.userSpeaking) {
      this.userSpeaking = false;
      this.emit({ type: 'speech', phase: 'ended', speaker: 'user' });
    }
  }

  private endAssistantTurn(): void {
    this.modelActive = false;
    if (this.assistantSpeaking) {
      this.assistantSpeaking = false;
      this.emit({ type: 'speech', phase: 'ended', speaker: 'assistant' });
    }
  }

  private onServerContent(content: Record<string, unknown>): void {
    const input = isRecord(content.inputTranscription) ? content.inputTranscription.text : undefined;
    if (typeof input === 'string' && input) {
      if (!this.userSpeaking) {
        this.userSpeaking = true;
        this.emit({ type: 'speech', phase: 'started', speaker: 'user' });
      }
      for (const text of textPieces(input)) this.emit({ type: 'transcript', speaker: 'user', text });
    }
    if (!this.discarding) {
      const turn = isRecord(content.modelTurn) && Array.isArray(content.modelTurn.parts) ? content.modelTurn.parts : [];
      for (const part of turn) {
        if (!isRecord(part) || part.thought === true) continue;
        const inline = isRecord(part.inlineData) ? part.inlineData : undefined;
        if (inline && typeof inline.data === 'string' && typeof inline.mimeType === 'string' && inline.mimeType.startsWith('audio/pcm')) {
          const pcm = pcmFromBytes(Buffer.from(inline.data, 'base64'));
          if (pcm.length === 0) continue;
          this.startModelOutput();
          if (!this.assistantSpeaking) {
            this.assistantSpeaking = true;
            this.emit({ type: 'speech', phase: 'started', speaker: 'assistant' });
          }
          this.receivedAudioBytes += pcm.byteLength;
          this.emit({ type: 'audio', pcm, sampleRate: sampleRateOf(inline.mimeType) });
        } else if (typeof part.text === 'string' && part.text) {
          this.startModelOutput();
          for (const text of textPieces(part.text)) this.emit({ type: 'assistantText', text });
        }
      }
      const output = isRecord(content.outputTranscription) ? content.outputTranscription.text : undefined;
      if (typeof output === 'string' && output) {
        this.startModelOutput();
        for (const text of textPieces(output)) this.emit({ type: 'transcript', speaker: 'assistant', text });
      }
    }
    if (content.interrupted === true) {
      const ours = this.discarding;
      this.discarding = false;
      this.endAssistantTurn();
      // After our own cancelTurn the client already has its `interrupted`.
      if (!ours) this.emit({ type: 'interrupted', source: 'user' });
    }
    if (content.turnComplete === true || content.generationComplete === true) {
      this.discarding = false;
      if (content.turnComplete === true) {
        this.endAssistantTurn();
        this.flushContext();
      }
    }
  }

  private onToolCall(toolCall: Record<string, unknown>): void {
    if (this.discarding) return;
    const calls = Array.isArray(toolCall.functionCalls) ? toolCall.functionCalls : [];
    for (const call of calls) {
      if (!isRecord(call) || typeof call.name !== 'string') continue;
      this.startModelOutput();
      const modelId = typeof call.id === 'string' && call.id.length <= VOICE_CHANNEL_LIMITS.id ? call.id : undefined;
      const args = isRecord(call.args) ? call.args : {};
      // The model may only call what the client declared; anything else is answered here.
      if (!this.toolNames.has(call.name) || !VoiceToolName.safeParse(call.name).success) {
        this.respond(modelId, call.name.slice(0, 64), { error: `unknown tool ${call.name.slice(0, 64)}` });
        continue;
      }
      if (jsonSize(args) > VOICE_CHANNEL_LIMITS.toolArgsBytes) {
        this.respond(modelId, call.name, { error: 'arguments too large' });
        this.emit({ type: 'error', message: `the model called ${call.name} with arguments too large to forward`, recoverable: true });
        continue;
      }
      const id = modelId && !this.calls.has(modelId) ? modelId : `call-${++this.callSeq}`;
      this.calls.set(id, { modelId, name: call.name });
      this.emit({ type: 'toolCall', id, name: call.name, args });
    }
  }
}

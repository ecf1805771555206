// The `openai-realtime` voice backend: one OpenAI Realtime WebSocket per session (session.update, 24 kHz PCM both ways, function calls, server VAD barge-in, cancel with truncation).
import type WebSocket from 'ws';
import { VOICE_CHANNEL_LIMITS, VoiceToolName, type VoiceTool } from '../../api/index.js';
import { modelSocketUrlProblem } from '../../config/index.js';
import type { Logger } from '../../log/index.js';
import { Resampler } from '../audio-resample.js';
import type {
  VoiceBackend,
  VoiceBackendListener,
  VoiceBackendSession,
  VoiceSessionSetup,
  VoiceToolResult,
} from '../backend.js';
import { functionParameters, isRecord, parseToolArguments, pcmFromLeBytes, pcmToLeBytes, textPieces } from './common.js';
import { SocketSession } from './socket-session.js';

export const OPENAI_REALTIME_URL = 'wss://api.openai.com/v1/realtime';
export const OPENAI_REALTIME_DEFAULT_MODEL = 'gpt-realtime';
/** The only PCM rate the API takes and gives (`audio/pcm`, 24 kHz mono 16-bit little-endian). */
export const OPENAI_REALTIME_RATE = 24_000;
const MIC_RATE = 16_000;
/** The API's built-in voices; any other client voice name (a Gemini one, say) leaves the model's default. */
export const OPENAI_REALTIME_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'];

export interface OpenAIRealtimeOptions {
  /** `OPENAI_API_KEY`. Sent as `Authorization: Bearer` in the handshake (never in the URL), never logged. */
  apiKey: string;
  /** e.g. `gpt-realtime`; goes in the URL's `model` query parameter. */
  model: string;
  /** The Realtime WebSocket endpoint; empty = OpenAI's. `ws://` only to a loopback host. */
  url?: string;
  /** Model of the user's transcripts (`audio.input.transcription`; default gpt-4o-mini-transcribe). */
  transcriptionModel?: string;
  logger?: Logger;
  /** Connect plus session.update must be answered within this (default 15 s). */
  setupTimeoutMs?: number;
  /** Microphone audio (24 kHz PCM) held while the model is not ready yet, in bytes (default 96 KiB = 2 s). */
  maxPendingAudioBytes?: number;
  /** Bytes the socket may hold unsent before microphone audio is dropped (default 384 KiB ≈ 6 s). */
  maxBufferedBytes?: number;
  /** Largest message accepted from the model (default 16 MiB). */
  maxMessageBytes?: number;
}

/** A usable Realtime URL, or an error saying why not (the same rule as the config key `openai_url`). */
export function checkOpenAIRealtimeUrl(value: string): URL {
  const problem = modelSocketUrlProblem(value);
  if (problem) throw new Error(`OpenAI Realtime URL ${problem}`);
  return new URL(value);
}

/** The client's tools as Realtime function tools (JSON Schema parameters, as the API reads them). */
export function toRealtimeTools(tools: VoiceTool[]): Record<string, unknown>[] {
  return tools.slice(0, VOICE_CHANNEL_LIMITS.tools).map((tool) => ({
    type: 'function',
    name: tool.name,
    description: tool.description,
    parameters: functionParameters(tool.parameters),
  }));
}

/** The system instruction: the gateway's, the client's language and its context. */
export function realtimeInstructions(setup: VoiceSessionSetup, context: string): string {
  const parts = [setup.systemInstruction.trim()];
  if (setup.voice.language) parts.push(`Speak ${setup.voice.language} (BCP-47) unless the user speaks another language.`);
  if (context.trim()) parts.push(`What the client shows now:\n${context.trim()}`);
  return parts.filter(Boolean).join('\n\n');
}

/** The first client event: audio replies, 24 kHz PCM both ways, server VAD with barge-in, transcription, voice, instructions, tools. */
export function buildRealtimeSessionUpdate(setup: VoiceSessionSetup, opts: { transcriptionModel?: string } = {}): Record<string, unknown> {
  const format = { type: 'audio/pcm', rate: OPENAI_REALTIME_RATE };
  const transcription: Record<string, unknown> = { model: opts.transcriptionModel || 'gpt-4o-mini-transcribe' };
  const language = /^([A-Za-z]{2})(-|$)/.exec(setup.voice.language)?.[1];
  if (language) transcription.language = language.toLowerCase();
  const output: Record<string, unknown> = { format };
  const voice = setup.voice.name.toLowerCase();
  if (OPENAI_REALTIME_VOICES.includes(voice)) output.voice = voice;
  const session: Record<string, unknown> = {
    type: 'realtime',
    output_modalities: ['audio'],
    instructions: realtimeInstructions(setup, setup.context),
    audio: {
      input: { format, transcription, turn_detection: { type: 'server_vad', create_response: true, interrupt_response: true } },
      output,
    },
  };
  const tools = toRealtimeTools(setup.tools);
  if (tools.length) {
    session.tools = tools;
    session.tool_choice = 'auto';
  }
  return { type: 'session.update', session };
}

export class OpenAIRealtimeBackend implements VoiceBackend {
  readonly name = 'openai-realtime';
  private readonly url: URL;

  constructor(private readonly opts: OpenAIRealtimeOptions) {
    if (!opts.apiKey) throw new Error('the openai-realtime voice backend needs OPENAI_API_KEY');
    const url = checkOpenAIRealtimeUrl(opts.url || OPENAI_REALTIME_URL);
    if (!url.searchParams.has('model')) url.searchParams.set('model', opts.model || OPENAI_REALTIME_DEFAULT_MODEL);
    this.url = url;
  }

  open(setup: VoiceSessionSetup, listener: VoiceBackendListener): VoiceBackendSession {
    return new OpenAIRealtimeSession(this.url, this.opts, setup, listener);
  }
}

/** The assistant audio item being played: what the gateway has of it, so a cut-off can tell the model how much was heard. */
interface PlayingAudio {
  itemId: string;
  contentIndex: number;
  firstAt: number;
  samples: number;
}

class OpenAIRealtimeSession extends SocketSession implements VoiceBackendSession {
  private readonly toolNames: Set<string>;
  private readonly resampler = new Resampler(MIC_RATE, OPENAI_REALTIME_RATE);
  private context: string;
  private sentContext: string;
  /** Our tool call id → the model's call_id and the tool's name, for calls the client still owes. */
  private readonly calls = new Map<string, { callId: string; name: string }>();
  private readonly cancelledCalls = new Set<string>();
  /** call_ids seen in the current response (the API reports each call twice: arguments done, item done). */
  private readonly seenCallIds = new Set<string>();
  /** function_call item id → name, for `arguments.done` events without a name (the beta API). */
  private readonly callNames = new Map<string, string>();
  private callSeq = 0;
  /** The model must be asked for a new response once every call of the last one is answered. */
  private needResponse = false;
  private responseActive = false;
  /** Drop the rest of the current response (after cancelTurn or a barge-in) until it is done. */
  private discarding = false;
  private playing: PlayingAudio | undefined;
  private assistantSpeaking = false;
  private userSpeaking = false;
  /** Input transcription items that sent deltas (their `completed` repeats them). */
  private readonly transcribedByDelta = new Set<string>();

  constructor(
    url: URL,
    private readonly opts: OpenAIRealtimeOptions,
    private readonly setup: VoiceSessionSetup,
    listener: VoiceBackendListener,
  ) {
    super(
      {
        service: 'OpenAI Realtime',
        logName: 'openai-realtime',
        url,
        headers: { authorization: `Bearer ${opts.apiKey}` },
        apiKey: opts.apiKey,
        ...(opts.logger ? { logger: opts.logger } : {}),
        setupTimeoutMs: opts.setupTimeoutMs ?? 15_000,
        maxPendingBytes: opts.maxPendingAudioBytes ?? 96 * 1024,
        maxBufferedBytes: opts.maxBufferedBytes ?? 384 * 1024,
        maxMessageBytes: opts.maxMessageBytes ?? 16 * 1024 * 1024,
      },
      listener,
    );
    this.toolNames = new Set(setup.tools.map((t) => t.name));
    this.context = setup.context;
    this.sentContext = setup.context;
  }

  protected onOpen(): void {
    this.sendJson(buildRealtimeSessionUpdate(this.setup, this.opts.transcriptionModel ? { transcriptionModel: this.opts.transcriptionModel } : {}));
  }

  protected audioMessage(bytes: Buffer): unknown {
    return { type: 'input_audio_buffer.append', audio: bytes.toString('base64') };
  }

  protected onEnded(): void {
    this.calls.clear();
  }

  protected override socketErrorMessage(message: string): string {
    if (/Unexpected server response: (401|403)/.test(message)) return `OpenAI Realtime refused the API key (OPENAI_API_KEY): ${this.mask(message)}`;
    return super.socketErrorMessage(message);
  }

  protected override closeMessage(code: number, reason: string, why: string): string {
    return /api_key/.test(reason) ? `OpenAI Realtime refused the API key (OPENAI_API_KEY): ${why}` : super.closeMessage(code, reason, why);
  }

  sendAudio(pcm16k: Int16Array): void {
    if (this.state === 'closed' || this.closing || pcm16k.length === 0) return;
    // One resampler for the whole stream, so chunk edges leave no clicks.
    const bytes = pcmToLeBytes(this.resampler.process(pcm16k));
    // The session is not configured yet: the base holds the newest audio until it is.
    if (bytes.length > 0) this.queueAudio(bytes);
  }

  sendToolResult(result: VoiceToolResult): void {
    if (this.state === 'closed' || this.closing) return;
    const call = this.calls.get(result.id);
    if (!call) {
      // A result for a call cut off by a barge-in or a cancel is expected and dropped quietly.
      if (this.cancelledCalls.delete(result.id)) return;
      this.emit({ type: 'error', message: `tool.result for an unknown call id "${result.id.slice(0, 64)}"`, recoverable: true });
      return;
    }
    if (call.name !== result.name) {
      this.emit({ type: 'error', message: `tool.result names ${result.name.slice(0, 64)}, but call ${result.id.slice(0, 64)} was ${call.name}`, recoverable: true });
      return;
    }
    this.calls.delete(result.id);
    this.sendOutput(call.callId, result.result);
    this.maybeRespond();
  }

  updateContext(context: string): void {
    if (this.state === 'closed' || this.closing) return;
    this.context = context;
    // The instructions can change at any time without cutting a reply off; before the session is
    // ready, the newest context goes once it is.
    if (this.state === 'ready') this.sendInstructions();
  }

  cancelTurn(reason: string): void {
    if (this.state === 'closed' || this.closing) return;
    this.log?.debug({ reason: reason.slice(0, 100) }, 'turn cancelled by the client');
    this.cutOff();
    this.emit({ type: 'interrupted', source: 'client' });
  }

  // ---- internals ----

  private sendInstructions(): void {
    if (this.context === this.sentContext) return;
    this.sentContext = this.context;
    this.sendJson({ type: 'session.update', session: { type: 'realtime', instructions: realtimeInstructions(this.setup, this.context) } });
  }

  /** A function call's output (the API wants a string: JSON of the result). */
  private sendOutput(callId: string, result: unknown): void {
    let output: string;
    try {
      output = typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null');
    } catch {
      output = JSON.stringify({ error: 'the result could not be serialised' });
    }
    this.sendJson({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output } });
    this.needResponse = true;
  }

  /** Once the last response is over and every call of it has its output, the model answers them. */
  private maybeRespond(): void {
    if (!this.needResponse || this.responseActive || this.calls.size > 0) return;
    this.needResponse = false;
    this.sendJson({ type: 'response.create' });
  }

  /** How much of the current audio item the listener has heard: what the gateway played in real time since its first chunk. */
  private playedMs(p: PlayingAudio): { played: number; received: number } {
    const received = (p.samples / OPENAI_REALTIME_RATE) * 1000;
    return { played: Math.max(0, Math.min(received, Date.now() - p.firstAt)), received };
  }

  /** Whether the user still hears the assistant: a reply in progress, or audio not played out yet. */
  private assistantAudible(): boolean {
    if (this.responseActive && !this.discarding) return true;
    if (!this.playing) return false;
    const { played, received } = this.playedMs(this.playing);
    return played < received;
  }

  /**
   * Cuts the assistant off: cancels the reply in progress, tells the model how much of its audio
   * was heard (it would otherwise believe the user heard all of it), forgets the calls it made.
   */
  private cutOff(opts: { cancelResponse?: boolean } = {}): void {
    if (this.responseActive && !this.discarding && opts.cancelResponse !== false) this.sendJson({ type: 'response.cancel' });
    if (this.responseActive) this.discarding = true;
    if (this.playing) {
      const { played, received } = this.playedMs(this.playing);
      if (played < received) {
        this.sendJson({ type: 'conversation.item.truncate', item_id: this.playing.itemId, content_index: this.playing.contentIndex, audio_end_ms: Math.floor(played) });
      }
      this.playing = undefined;
    }
    // Remembered only to drop their late results quietly; a bounded memory is enough for that.
    if (this.cancelledCalls.size > 256) this.cancelledCalls.clear();
    for (const id of this.calls.keys()) this.cancelledCalls.add(id);
    this.calls.clear();
    this.needResponse = false;
    this.endAssistantSpeech();
  }

  private endAssistantSpeech(): void {
    if (this.assistantSpeaking) {
      this.assistantSpeaking = false;
      this.emit({ type: 'speech', phase: 'ended', speaker: 'assistant' });
    }
  }

  protected onMessage(data: WebSocket.RawData): void {
    if (this.state === 'closed') return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let msg: unknown;
    try {
      msg = JSON.parse(buf.toString('utf8'));
    } catch {
      this.log?.warn({ bytes: buf.length }, 'OpenAI Realtime sent a message that is not JSON');
      return;
    }
    if (!isRecord(msg) || typeof msg.type !== 'string') return;
    const ev = msg;
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    switch (ev.type) {
      case 'session.updated':
        return this.onSessionUpdated();
      case 'error':
        return this.onError(isRecord(ev.error) ? ev.error : {});
      case 'input_audio_buffer.speech_started':
        return this.onSpeechStarted();
      case 'input_audio_buffer.speech_stopped':
        if (this.userSpeaking) {
          this.userSpeaking = false;
          this.emit({ type: 'speech', phase: 'ended', speaker: 'user' });
        }
        return;
      case 'conversation.item.input_audio_transcription.delta': {
        const text = str(ev.delta);
        if (text) {
          if (this.transcribedByDelta.size > 256) this.transcribedByDelta.clear();
          this.transcribedByDelta.add(str(ev.item_id));
          for (const piece of textPieces(text)) this.emit({ type: 'transcript', speaker: 'user', text: piece });
        }
        return;
      }
      case 'conversation.item.input_audio_transcription.completed': {
        const itemId = str(ev.item_id);
        if (this.transcribedByDelta.delete(itemId)) return;
        const text = str(ev.transcript);
        if (text) for (const piece of textPieces(text)) this.emit({ type: 'transcript', speaker: 'user', text: piece });
        return;
      }
      case 'response.created':
        this.responseActive = true;
        this.discarding = false;
        this.seenCallIds.clear();
        return;
      case 'response.done':
        return this.onResponseDone();
      case 'response.output_item.added':
        if (isRecord(ev.item) && ev.item.type === 'function_call' && typeof ev.item.id === 'string' && typeof ev.item.name === 'string') {
          if (this.callNames.size > 256) this.callNames.clear();
          this.callNames.set(ev.item.id, ev.item.name);
        }
        return;
      case 'response.output_audio.delta':
      case 'response.audio.delta':
        return this.onAudioDelta(ev);
      case 'response.output_audio_transcript.delta':
      case 'response.audio_transcript.delta':
        if (!this.discarding && str(ev.delta)) for (const piece of textPieces(str(ev.delta))) this.emit({ type: 'transcript', speaker: 'assistant', text: piece });
        return;
      case 'response.output_text.delta':
      case 'response.text.delta':
        if (!this.discarding && str(ev.delta)) for (const piece of textPieces(str(ev.delta))) this.emit({ type: 'assistantText', text: piece });
        return;
      case 'response.function_call_arguments.done':
        return this.onFunctionCall(ev.call_id, str(ev.name) || this.callNames.get(str(ev.item_id)), ev.arguments);
      case 'response.output_item.done':
        if (isRecord(ev.item) && ev.item.type === 'function_call') this.onFunctionCall(ev.item.call_id, ev.item.name, ev.item.arguments);
        return;
      default:
        return;
    }
  }

  private onSessionUpdated(): void {
    if (!this.becomeReady(this.toolNames.size)) return;
    this.sendInstructions();
  }

  private onError(error: Record<string, unknown>): void {
    const code = typeof error.code === 'string' ? error.code : '';
    const message = this.mask(typeof error.message === 'string' ? error.message.slice(0, 500) : 'unknown error');
    // Our own cancel raced the end of the reply: nothing to tell anyone.
    if (code === 'response_cancel_not_active') return;
    if (this.state !== 'ready') {
      // Before the session is configured, any error leaves it unusable (a refused key, a refused setting).
      this.fail(
        /api_key/.test(code) || /api key/i.test(message)
          ? `OpenAI Realtime refused the API key (OPENAI_API_KEY): ${message}`
          : `OpenAI Realtime refused the session setup: ${message}${code ? ` (${code.slice(0, 64)})` : ''}`,
      );
      this.ws.close(1000, 'setup refused');
      setTimeout(() => this.ws.terminate(), 2_000).unref();
      return;
    }
    this.log?.warn({ code: code.slice(0, 64) }, 'OpenAI Realtime reported an error');
    this.emit({ type: 'error', message: `OpenAI Realtime: ${message}`.slice(0, VOICE_CHANNEL_LIMITS.errorMessage), recoverable: true });
  }

  private onSpeechStarted(): void {
    if (!this.userSpeaking) {
      this.userSpeaking = true;
      this.emit({ type: 'speech', phase: 'started', speaker: 'user' });
    }
    if (this.assistantAudible()) {
      // Server VAD cancels the reply in progress itself (interrupt_response); the model still has
      // to learn how much of its audio was heard.
      this.cutOff({ cancelResponse: false });
      this.emit({ type: 'interrupted', source: 'user' });
    }
  }

  private onResponseDone(): void {
    this.responseActive = false;
    this.discarding = false;
    this.seenCallIds.clear();
    this.endAssistantSpeech();
    this.maybeRespond();
  }

  private onAudioDelta(ev: Record<string, unknown>): void {
    if (this.discarding || typeof ev.delta !== 'string') return;
    const pcm = pcmFromLeBytes(Buffer.from(ev.delta, 'base64'));
    if (pcm.length === 0) return;
    const itemId = typeof ev.item_id === 'string' ? ev.item_id.slice(0, 128) : '';
    const contentIndex = typeof ev.content_index === 'number' && Number.isInteger(ev.content_index) ? ev.content_index : 0;
    if (!this.playing || this.playing.itemId !== itemId) {
      // A new item starts playing when the previous one has played out (the gateway queues it behind).
      const previousEnd = this.playing ? this.playing.firstAt + (this.playing.samples / OPENAI_REALTIME_RATE) * 1000 : 0;
      this.playing = { itemId, contentIndex, firstAt: Math.max(Date.now(), previousEnd), samples: 0 };
    }
    this.playing.samples += pcm.length;
    if (!this.assistantSpeaking) {
      this.assistantSpeaking = true;
      this.emit({ type: 'speech', phase: 'started', speaker: 'assistant' });
    }
    this.receivedAudioBytes += pcm.byteLength;
    this.emit({ type: 'audio', pcm, sampleRate: OPENAI_REALTIME_RATE });
  }

  private onFunctionCall(rawCallId: unknown, rawName: unknown, rawArgs: unknown): void {
    if (this.discarding) return;
    if (typeof rawCallId !== 'string' || !rawCallId || rawCallId.length > VOICE_CHANNEL_LIMITS.id) {
      this.emit({ type: 'error', message: 'the model made a function call without a usable call_id; it was ignored', recoverable: true });
      return;
    }
    if (this.seenCallIds.has(rawCallId)) return;
    this.seenCallIds.add(rawCallId);
    const name = typeof rawName === 'string' ? rawName : '';
    // The model may only call what the client declared, with a JSON object; anything else is
    // answered here, so the model hears what went wrong and the client never sees it.
    if (!this.toolNames.has(name) || !VoiceToolName.safeParse(name).success) {
      this.sendOutput(rawCallId, { error: `unknown tool ${name.slice(0, 64)}` });
      this.maybeRespond();
      return;
    }
    const parsed = parseToolArguments(rawArgs);
    if (!parsed.ok) {
      this.sendOutput(rawCallId, { error: parsed.error });
      this.emit({ type: 'error', message: `the model called ${name} with ${parsed.error}; it was told so`, recoverable: true });
      this.maybeRespond();
      return;
    }
    const id = !this.calls.has(rawCallId) && !this.cancelledCalls.has(rawCallId) ? rawCallId : `call-${++this.callSeq}`;
    this.calls.set(id, { callId: rawCallId, name });
    this.emit({ type: 'toolCall', id, name, args: parsed.args });
  }
}

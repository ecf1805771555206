// The `local-stack` voice backend, half duplex: energy VAD cuts the microphone into utterances → OpenAI-compatible ASR → chat completions with the client's tools → espeak-ng or a remote /v1/audio/speech, with barge-in.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { VOICE_CHANNEL_LIMITS, VoiceToolName } from '../../api/index.js';
import { serverBaseUrlProblem, type Config } from '../../config/index.js';
import type { Logger } from '../../log/index.js';
import { Framer } from '../audio-framer.js';
import { EnergyVad, type VadOptions } from '../audio-vad.js';
import type {
  VoiceBackend,
  VoiceBackendEvent,
  VoiceBackendListener,
  VoiceBackendSession,
  VoiceBackendStats,
  VoiceSessionSetup,
  VoiceToolResult,
} from '../backend.js';
import { formatMs, functionParameters, isRecord, maskSecret, parseToolArguments, pcmFromLeBytes, textPieces } from './common.js';
import { encodeWav, WavStreamReader } from './wav.js';

const MIC_RATE = 16_000;
const FRAME = 320; // 20 ms at 16 kHz
/** Audio kept from before the VAD fired, so an utterance starts with its first syllable. */
const PREROLL_FRAMES = 15;
/** OpenAI's `pcm` speech format: raw 16-bit mono at 24 kHz (a remote answering without a WAV header). */
const RAW_PCM_RATE = 24_000;

export type LocalStackTts = { engine: 'espeak-ng'; voice?: string; command?: string } | { engine: 'remote'; url: string; model?: string; voice?: string };

export interface LocalStackOptions {
  /** Base URL of an OpenAI-compatible speech-to-text server (POST /v1/audio/transcriptions). */
  asrUrl: string;
  asrModel?: string;
  /** Base URL of an OpenAI-compatible chat server (POST /v1/chat/completions with tools). */
  llmUrl: string;
  llmModel?: string;
  /** Sent as `Authorization: Bearer` to the LLM only; never logged. */
  llmApiKey?: string;
  tts: LocalStackTts;
  logger?: Logger;
  asrTimeoutMs?: number;
  /** One chat completion (each round of tool calls is one). */
  llmTimeoutMs?: number;
  /** The whole synthesis of one reply. */
  ttsTimeoutMs?: number;
  /** How long the client may take to answer a tool call before the model is told it did not. */
  toolTimeoutMs?: number;
  /** An utterance is cut here and sent as it is (default 30 s). */
  maxUtteranceMs?: number;
  /** Largest JSON answer read from the ASR or LLM (default 1 MiB). */
  maxResponseBytes?: number;
  /** Most audio one reply may synthesise, in bytes of PCM (default 8 MiB ≈ 3 min at 22 kHz). */
  maxSpeechBytes?: number;
  /** Characters of a reply spoken (default 2,000; the rest is in the transcript only). */
  maxSpeechChars?: number;
  /** Turns of conversation the model sees (default 8). */
  maxHistoryTurns?: number;
  /** Characters of conversation the model sees (default 48 Ki). */
  maxHistoryChars?: number;
  /** Rounds of tool calls in one turn before the model is stopped (default 6). */
  maxToolRounds?: number;
  vad?: Partial<Omit<VadOptions, 'sampleRate'>>;
}

/** A base URL plus an OpenAI path; a base that already ends in /v1 is not doubled. */
export function endpointUrl(base: string, path: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith('/v1') ? `${trimmed}${path.slice(3)}` : `${trimmed}${path}`;
}

const espeakProbes = new Map<string, string | undefined>();

/** Why espeak-ng cannot speak here, or undefined when it can (one `--version` run per command, cached). */
export function espeakProblem(command = 'espeak-ng'): string | undefined {
  if (!espeakProbes.has(command)) {
    const r = spawnSync(command, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 });
    espeakProbes.set(command, r.status === 0 && /espeak/i.test(r.stdout?.toString() ?? '') ? undefined : `${command} is not installed (Debian: apt-get install espeak-ng)`);
  }
  return espeakProbes.get(command);
}

type LocalStackConfig = Config['values']['voice-gateway']['config']['local_stack'];

/**
 * Why the local stack cannot run with this configuration, or undefined: caic does not start the
 * ASR and LLM servers, so both URLs are required; espeak-ng must be installed when it speaks.
 */
export function localStackProblem(ls: LocalStackConfig, env: (name: string) => string | undefined, probe: () => string | undefined = espeakProblem): string | undefined {
  if (!ls.asr.remote) return 'set [voice-gateway.config.local_stack.asr] remote to the URL of an OpenAI-compatible speech-to-text server (caic does not start one)';
  if (!ls.llm.remote) return 'set [voice-gateway.config.local_stack.llm] remote to the URL of an OpenAI-compatible chat server with tool calls (caic does not start one)';
  if (ls.llm.api_key_name && !env(ls.llm.api_key_name)) return `set ${ls.llm.api_key_name} (named by [voice-gateway.config.local_stack.llm] api_key_name)`;
  if (ls.tts.engine === 'remote' && !ls.tts.remote) return 'set [voice-gateway.config.local_stack.tts] remote to the URL of an OpenAI-compatible speech server, or use engine = "espeak-ng"';
  if (ls.tts.engine === 'espeak-ng') {
    const problem = probe();
    if (problem) return `${problem}, or set [voice-gateway.config.local_stack.tts] engine = "remote"`;
  }
  return undefined;
}

/** The options for a configuration localStackProblem accepted. */
export function localStackOptions(ls: LocalStackConfig, env: (name: string) => string | undefined): Omit<LocalStackOptions, 'logger'> {
  const key = ls.llm.api_key_name ? env(ls.llm.api_key_name) : undefined;
  return {
    asrUrl: ls.asr.remote,
    ...(ls.asr.model ? { asrModel: ls.asr.model } : {}),
    llmUrl: ls.llm.remote,
    ...(ls.llm.model ? { llmModel: ls.llm.model } : {}),
    ...(key ? { llmApiKey: key } : {}),
    tts:
      ls.tts.engine === 'remote'
        ? { engine: 'remote', url: ls.tts.remote, ...(ls.tts.model ? { model: ls.tts.model } : {}), ...(ls.tts.voice ? { voice: ls.tts.voice } : {}) }
        : { engine: 'espeak-ng', ...(ls.tts.voice ? { voice: ls.tts.voice } : {}) },
  };
}

export class LocalStackBackend implements VoiceBackend {
  readonly name = 'local-stack';

  constructor(private readonly opts: LocalStackOptions) {
    for (const [what, url] of [
      ['ASR', opts.asrUrl],
      ['LLM', opts.llmUrl],
      ...(opts.tts.engine === 'remote' ? [['TTS', opts.tts.url]] : []),
    ] as const) {
      const problem = serverBaseUrlProblem(url);
      if (problem) throw new Error(`the local-stack ${what} URL ${problem}`);
    }
  }

  open(setup: VoiceSessionSetup, listener: VoiceBackendListener): VoiceBackendSession {
    return new LocalStackSession(this.opts, setup, listener);
  }
}

// ---- the chat completions wire format ----

interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}
type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ChatToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** A failure of one step of a turn: reported as a recoverable error, the session goes on listening. */
class StepError extends Error {}
class Aborted extends Error {}

interface Turn {
  readonly id: number;
  readonly abort: AbortController;
  child?: ChildProcess;
}

const messageChars = (m: ChatMessage) => (m.content?.length ?? 0) + ('tool_calls' in m && m.tool_calls ? JSON.stringify(m.tool_calls).length : 0);

class LocalStackSession implements VoiceBackendSession {
  private closed = false;
  private readonly log: Logger | undefined;
  private readonly o: Required<Omit<LocalStackOptions, 'logger' | 'llmApiKey' | 'asrModel' | 'llmModel' | 'vad'>> & LocalStackOptions;
  private readonly vad: EnergyVad;
  private readonly framer = new Framer(FRAME);
  private readonly toolNames: Set<string>;
  private preroll: Int16Array[] = [];
  private utterance: Int16Array[] | null = null;
  private utteranceSamples = 0;
  private turn: Turn | null = null;
  private turnSeq = 0;
  /** When the assistant audio sent so far has played out, as the gateway plays it in real time. */
  private audibleUntil = 0;
  private assistantSpeaking = false;
  private context: string;
  /** The conversation, one array of messages per turn (oldest first). */
  private history: ChatMessage[][] = [];
  private readonly calls = new Map<string, { name: string; resolve: (result: unknown) => void }>();
  private readonly cancelledCalls = new Set<string>();
  private callSeq = 0;
  private sentAudioBytes = 0;
  private droppedAudioBytes = 0;
  private receivedAudioBytes = 0;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    opts: LocalStackOptions,
    private readonly setup: VoiceSessionSetup,
    private readonly listener: VoiceBackendListener,
  ) {
    this.o = {
      asrTimeoutMs: 30_000,
      llmTimeoutMs: 60_000,
      ttsTimeoutMs: 30_000,
      toolTimeoutMs: 120_000,
      maxUtteranceMs: 30_000,
      maxResponseBytes: 1024 * 1024,
      maxSpeechBytes: 8 * 1024 * 1024,
      maxSpeechChars: 2_000,
      maxHistoryTurns: 8,
      maxHistoryChars: 48 * 1024,
      maxToolRounds: 6,
      ...opts,
    };
    this.log = opts.logger?.child({ voiceBackend: 'local-stack' });
    this.vad = new EnergyVad({ sampleRate: MIC_RATE, ...opts.vad });
    this.toolNames = new Set(setup.tools.map((t) => t.name));
    this.context = setup.context;
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    // Nothing to connect to: the servers are asked per utterance. Ready once the caller holds the session.
    setImmediate(() => this.emit({ type: 'ready' }));
  }

  sendAudio(pcm16k: Int16Array): void {
    if (this.closed || pcm16k.length === 0) return;
    for (const frame of this.framer.push(pcm16k)) this.onFrame(frame);
  }

  sendToolResult(result: VoiceToolResult): void {
    if (this.closed) return;
    const call = this.calls.get(result.id);
    if (!call) {
      if (this.cancelledCalls.delete(result.id)) return;
      this.emit({ type: 'error', message: `tool.result for an unknown call id "${result.id.slice(0, 64)}"`, recoverable: true });
      return;
    }
    if (call.name !== result.name) {
      this.emit({ type: 'error', message: `tool.result names ${result.name.slice(0, 64)}, but call ${result.id.slice(0, 64)} was ${call.name}`, recoverable: true });
      return;
    }
    this.calls.delete(result.id);
    call.resolve(result.result);
  }

  updateContext(context: string): void {
    if (!this.closed) this.context = context;
  }

  cancelTurn(reason: string): void {
    if (this.closed) return;
    this.log?.debug({ reason: reason.slice(0, 100) }, 'turn cancelled by the client');
    this.stopTurn();
    this.emit({ type: 'interrupted', source: 'client' });
  }

  stats(): VoiceBackendStats {
    return {
      sentAudioBytes: this.sentAudioBytes,
      droppedAudioBytes: this.droppedAudioBytes,
      receivedAudioBytes: this.receivedAudioBytes,
      queuedBytes: this.closed ? 0 : (this.utteranceSamples + this.preroll.length * FRAME + this.framer.buffered) * 2,
    };
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.stopTurn();
      this.emit({ type: 'closed', reason: 'closed' });
      this.closed = true;
      this.preroll = [];
      this.utterance = null;
      this.utteranceSamples = 0;
      this.resolveClosed();
    }
    return this.closedPromise;
  }

  // ---- internals ----

  private emit(event: VoiceBackendEvent): void {
    if (this.closed) return;
    try {
      this.listener(event);
    } catch (err) {
      this.log?.error({ err: (err as Error).message, event: event.type }, 'voice backend listener threw');
    }
  }

  private mask(text: string): string {
    return this.o.llmApiKey ? maskSecret(text, this.o.llmApiKey) : text;
  }

  private onFrame(frame: Int16Array): void {
    const ev = this.vad.push(frame);
    if (this.utterance) {
      this.utterance.push(frame);
      this.utteranceSamples += frame.length;
      if (this.utteranceSamples >= (this.o.maxUtteranceMs * MIC_RATE) / 1000) {
        // Bounded: a very long utterance is sent as it is; the rest until the next pause is not heard.
        this.log?.debug({ ms: this.o.maxUtteranceMs }, 'utterance cut at its maximum length');
        this.endUtterance();
      }
    } else {
      this.preroll.push(frame);
      if (this.preroll.length > PREROLL_FRAMES) this.preroll.shift();
    }
    if (ev?.type === 'start' && !this.utterance) {
      this.utterance = this.preroll;
      this.utteranceSamples = this.preroll.reduce((n, f) => n + f.length, 0);
      this.preroll = [];
      this.emit({ type: 'speech', phase: 'started', speaker: 'user' });
      // Half duplex: the user speaking over the assistant (or while it thinks) ends its turn at once.
      if (this.turn || Date.now() < this.audibleUntil) {
        this.stopTurn();
        this.emit({ type: 'interrupted', source: 'user' });
      }
    } else if (ev?.type === 'end' && this.utterance) {
      this.endUtterance();
    }
  }

  private endUtterance(): void {
    const frames = this.utterance ?? [];
    this.utterance = null;
    const pcm = new Int16Array(this.utteranceSamples);
    let at = 0;
    for (const f of frames) {
      pcm.set(f, at);
      at += f.length;
    }
    this.utteranceSamples = 0;
    this.emit({ type: 'speech', phase: 'ended', speaker: 'user' });
    this.stopTurn();
    const turn: Turn = { id: ++this.turnSeq, abort: new AbortController() };
    this.turn = turn;
    void this.runTurn(turn, pcm);
  }

  /** Ends the turn in progress: aborts its requests, kills its synthesis, forgets its calls. */
  private stopTurn(): void {
    const turn = this.turn;
    this.turn = null;
    if (turn) {
      turn.abort.abort();
      turn.child?.kill('SIGKILL');
    }
    // Remembered only to drop their late results quietly; a bounded memory is enough for that.
    if (this.cancelledCalls.size > 256) this.cancelledCalls.clear();
    for (const [id, call] of this.calls) {
      this.cancelledCalls.add(id);
      call.resolve(undefined);
    }
    this.calls.clear();
    this.audibleUntil = 0;
    this.endAssistantSpeech();
  }

  private endAssistantSpeech(): void {
    if (this.assistantSpeaking) {
      this.assistantSpeaking = false;
      this.emit({ type: 'speech', phase: 'ended', speaker: 'assistant' });
    }
  }

  private live(turn: Turn): void {
    if (this.turn !== turn || this.closed) throw new Aborted();
  }

  private async runTurn(turn: Turn, pcm: Int16Array): Promise<void> {
    const started = Date.now();
    const times: Record<string, number> = {};
    try {
      const text = await this.transcribe(turn, pcm);
      times.asrMs = Date.now() - started;
      this.live(turn);
      if (!text) return;
      for (const piece of textPieces(text)) this.emit({ type: 'transcript', speaker: 'user', text: piece });
      this.log?.debug({ text }, 'user said');
      this.addTurn({ role: 'user', content: text });
      const reply = await this.think(turn);
      times.llmMs = Date.now() - started - times.asrMs;
      this.live(turn);
      if (!reply) return;
      for (const piece of textPieces(reply)) {
        this.emit({ type: 'assistantText', text: piece });
        this.emit({ type: 'transcript', speaker: 'assistant', text: piece });
      }
      await this.speak(turn, reply);
      times.ttsMs = Date.now() - started - times.asrMs - times.llmMs;
    } catch (err) {
      if (err instanceof Aborted || this.turn !== turn) return;
      const message = this.mask(err instanceof StepError ? err.message : `the turn failed: ${(err as Error).message}`);
      this.log?.warn({ error: message }, 'local-stack turn failed');
      this.emit({ type: 'error', message: message.slice(0, VOICE_CHANNEL_LIMITS.errorMessage), recoverable: true });
    } finally {
      if (this.turn === turn) {
        this.turn = null;
        this.endAssistantSpeech();
      }
      this.log?.info({ ms: Date.now() - started, utteranceMs: Math.round((pcm.length / MIC_RATE) * 1000), ...times }, 'local-stack turn ended');
    }
  }

  // ---- HTTP ----

  /**
   * One request to a local-stack server under a deadline and the turn's abort, reading at most
   * `maxBytes` of the answer (streamed to `onChunk` when given). Failures are StepErrors saying
   * which server and why; the turn being stopped is Aborted.
   */
  private async request(
    turn: Turn,
    what: string,
    url: string,
    init: { body: string | FormData; headers?: Record<string, string> },
    timeoutMs: number,
    maxBytes: number,
    onChunk?: (chunk: Uint8Array, contentType: string) => void,
  ): Promise<{ body: Buffer; contentType: string }> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([turn.abort.signal, deadline]);
    const failed = (err: unknown): Error => {
      if (turn.abort.signal.aborted) return new Aborted();
      if (deadline.aborted) return new StepError(`${what} did not answer within ${formatMs(timeoutMs)}`);
      if (err instanceof StepError) return err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return new StepError(`cannot reach ${what} at ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    };
    let res: Response;
    try {
      // No redirects: a server that sends the request elsewhere (with the key) is refused.
      res = await fetch(url, { method: 'POST', body: init.body, headers: init.headers ?? {}, signal, redirect: 'manual' });
    } catch (err) {
      throw failed(err);
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      throw new StepError(`${what} answered with a redirect (HTTP ${res.status}), which is not followed`);
    }
    const contentType = res.headers.get('content-type') ?? '';
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      // Leaving the loop (the size bound) cancels the body stream.
      const stream = res.body as unknown as AsyncIterable<Uint8Array> | null;
      if (stream) {
        for await (const value of stream) {
          size += value.byteLength;
          if (size > maxBytes) throw new StepError(`${what} answered more than ${maxBytes} bytes`);
          if (onChunk && res.ok) onChunk(value, contentType);
          else chunks.push(Buffer.from(value));
        }
      }
    } catch (err) {
      throw failed(err);
    }
    const body = Buffer.concat(chunks);
    if (!res.ok) {
      const detail = body.toString('utf8', 0, Math.min(body.length, 300)).replace(/\s+/g, ' ').trim();
      throw new StepError(`${what} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
    }
    return { body, contentType };
  }

  private parseJson(what: string, body: Buffer): Record<string, unknown> {
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      throw new StepError(`${what} answered something that is not JSON`);
    }
    if (!isRecord(value)) throw new StepError(`${what} answered JSON that is not an object`);
    return value;
  }

  private async transcribe(turn: Turn, pcm: Int16Array): Promise<string> {
    const wav = encodeWav(pcm, MIC_RATE);
    this.sentAudioBytes += pcm.length * 2;
    const form = new FormData();
    // In memory, never a file: the multipart body is built from the buffer.
    form.append('file', new Blob([wav], { type: 'audio/wav' }), 'utterance.wav');
    form.append('model', this.o.asrModel || 'whisper-1');
    form.append('response_format', 'json');
    const language = /^([A-Za-z]{2})(-|$)/.exec(this.setup.voice.language)?.[1];
    if (language) form.append('language', language.toLowerCase());
    const { body } = await this.request(turn, 'the speech-to-text server', endpointUrl(this.o.asrUrl, '/v1/audio/transcriptions'), { body: form }, this.o.asrTimeoutMs, this.o.maxResponseBytes);
    const text = this.parseJson('the speech-to-text server', body).text;
    if (typeof text !== 'string') throw new StepError('the speech-to-text server answered without a text');
    return text.trim().slice(0, VOICE_CHANNEL_LIMITS.context);
  }

  // ---- the conversation ----

  private addTurn(message: ChatMessage): void {
    this.history.push([message]);
    this.trimHistory();
  }

  private addToTurn(...messages: ChatMessage[]): void {
    this.history.at(-1)?.push(...messages);
    this.trimHistory();
  }

  /** Oldest turns go first; the current one always stays. */
  private trimHistory(): void {
    while (this.history.length > this.o.maxHistoryTurns) this.history.shift();
    let chars = this.history.reduce((n, t) => n + t.reduce((m, msg) => m + messageChars(msg), 0), 0);
    while (this.history.length > 1 && chars > this.o.maxHistoryChars) {
      chars -= this.history.shift()!.reduce((m, msg) => m + messageChars(msg), 0);
    }
  }

  private systemMessage(): string {
    const parts = [this.setup.systemInstruction.trim()];
    if (this.setup.voice.language) parts.push(`Answer in ${this.setup.voice.language} (BCP-47) unless the user speaks another language.`);
    parts.push('Your answers are read aloud by a speech synthesizer: short plain sentences, no markdown, no lists.');
    if (this.context.trim()) parts.push(`What the client shows now:\n${this.context.trim()}`);
    return parts.filter(Boolean).join('\n\n');
  }

  /** Chat completions until the model answers in words, running its tool calls through the client. */
  private async think(turn: Turn): Promise<string> {
    const tools = this.setup.tools.slice(0, VOICE_CHANNEL_LIMITS.tools).map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: functionParameters(t.parameters) },
    }));
    for (let round = 0; round <= this.o.maxToolRounds; round++) {
      const body: Record<string, unknown> = {
        messages: [{ role: 'system', content: this.systemMessage() }, ...this.history.flat()],
        stream: false,
      };
      if (this.o.llmModel) body.model = this.o.llmModel;
      // The last round gets no tools: the model has to answer.
      if (tools.length && round < this.o.maxToolRounds) {
        body.tools = tools;
        body.tool_choice = 'auto';
      }
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.o.llmApiKey) headers.authorization = `Bearer ${this.o.llmApiKey}`;
      const { body: raw } = await this.request(turn, 'the language model server', endpointUrl(this.o.llmUrl, '/v1/chat/completions'), { body: JSON.stringify(body), headers }, this.o.llmTimeoutMs, this.o.maxResponseBytes);
      this.live(turn);
      const answer = this.parseJson('the language model server', raw);
      const choice: unknown = Array.isArray(answer.choices) ? answer.choices[0] : undefined;
      const message = isRecord(choice) && isRecord(choice.message) ? choice.message : undefined;
      if (!message) throw new StepError('the language model server answered without a message');
      const content = typeof message.content === 'string' ? message.content : '';
      const rawCalls = Array.isArray(message.tool_calls) ? message.tool_calls.slice(0, 16) : [];
      if (rawCalls.length === 0) {
        const text = content.trim();
        if (text) this.addToTurn({ role: 'assistant', content: text });
        return text;
      }
      const calls: ChatToolCall[] = rawCalls.map((c, i) => {
        const fn = isRecord(c) && isRecord(c.function) ? c.function : {};
        const id = isRecord(c) && typeof c.id === 'string' && c.id && c.id.length <= VOICE_CHANNEL_LIMITS.id ? c.id : `call_${turn.id}_${round}_${i}`;
        const args = typeof fn.arguments === 'string' ? fn.arguments : isRecord(fn.arguments) ? JSON.stringify(fn.arguments) : '';
        return { id, type: 'function', function: { name: typeof fn.name === 'string' ? fn.name.slice(0, 128) : '', arguments: args.slice(0, VOICE_CHANNEL_LIMITS.toolArgsBytes + 1) } };
      });
      const results = await Promise.all(calls.map((call) => this.runTool(turn, call)));
      this.live(turn);
      this.addToTurn({ role: 'assistant', content: content || null, tool_calls: calls }, ...calls.map((call, i) => ({ role: 'tool' as const, tool_call_id: call.id, content: results[i]! })));
    }
    throw new StepError('the language model kept calling tools without answering');
  }

  /** One tool call: checked here, run by the client; resolves to the tool message's content. */
  private async runTool(turn: Turn, call: ChatToolCall): Promise<string> {
    const name = call.function.name;
    const refuse = (error: string) => JSON.stringify({ error });
    // The model may only call what the client declared, with a JSON object; anything else is
    // answered here, so the model hears what went wrong and the client never sees it.
    if (!this.toolNames.has(name) || !VoiceToolName.safeParse(name).success) return refuse(`unknown tool ${name.slice(0, 64)}`);
    const parsed = parseToolArguments(call.function.arguments);
    if (!parsed.ok) {
      this.emit({ type: 'error', message: `the model called ${name} with ${parsed.error}; it was told so`, recoverable: true });
      return refuse(parsed.error);
    }
    const id = this.calls.has(call.id) || this.cancelledCalls.has(call.id) ? `call-${++this.callSeq}` : call.id;
    const result = await new Promise<unknown>((resolve) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        this.cancelledCalls.add(id);
        resolve({ error: `the client did not answer within ${formatMs(this.o.toolTimeoutMs)}` });
      }, this.o.toolTimeoutMs);
      this.calls.set(id, {
        name,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
      });
      this.emit({ type: 'toolCall', id, name, args: parsed.args });
    });
    this.live(turn);
    try {
      return typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null');
    } catch {
      return refuse('the result could not be serialised');
    }
  }

  // ---- speech ----

  /** The reply as the synthesizer should read it: bounded, cut at a sentence, without markdown marks. */
  private speakable(text: string): string {
    let out = text.replace(/[*_#`~>|]+/g, ' ').replace(/\s+/g, ' ').trim();
    if (out.length > this.o.maxSpeechChars) {
      const cut = out.slice(0, this.o.maxSpeechChars);
      const end = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('! '), cut.lastIndexOf('? '));
      out = end > this.o.maxSpeechChars / 2 ? cut.slice(0, end + 1) : cut;
    }
    return out;
  }

  private async speak(turn: Turn, reply: string): Promise<void> {
    const text = this.speakable(reply);
    if (!text) return;
    const wav = new WavStreamReader();
    let bytes = 0;
    let raw = false;
    const onAudio = (chunk: Uint8Array, contentType = ''): void => {
      if (this.turn !== turn || this.closed) return;
      let pcm: Int16Array;
      let rate: number;
      // OpenAI's `pcm` format (a server may answer it though wav was asked): raw 24 kHz samples without a header.
      if (bytes === 0 && /audio\/(pcm|l16)/i.test(contentType)) raw = true;
      bytes += chunk.byteLength;
      if (raw) {
        pcm = pcmFromLeBytes(chunk);
        rate = RAW_PCM_RATE;
      } else {
        try {
          pcm = wav.push(chunk);
        } catch (err) {
          throw new StepError(`the speech synthesizer's audio is unusable: ${(err as Error).message}`);
        }
        rate = wav.sampleRate;
      }
      if (pcm.length === 0) return;
      const now = Date.now();
      this.audibleUntil = Math.max(this.audibleUntil, now) + (pcm.length / rate) * 1000;
      if (!this.assistantSpeaking) {
        this.assistantSpeaking = true;
        this.emit({ type: 'speech', phase: 'started', speaker: 'assistant' });
      }
      this.receivedAudioBytes += pcm.byteLength;
      this.emit({ type: 'audio', pcm, sampleRate: rate });
    };
    if (this.o.tts.engine === 'remote') {
      const tts = this.o.tts;
      const body = JSON.stringify({ model: tts.model || 'tts-1', input: text, voice: tts.voice || 'alloy', response_format: 'wav' });
      await this.request(
        turn,
        'the speech server',
        endpointUrl(tts.url, '/v1/audio/speech'),
        { body, headers: { 'content-type': 'application/json' } },
        this.o.ttsTimeoutMs,
        this.o.maxSpeechBytes + 64 * 1024,
        onAudio,
      );
    } else {
      await this.espeak(turn, text, onAudio);
    }
    this.live(turn);
    if (!raw && !wav.started) throw new StepError(`the speech synthesizer's audio is unusable: ${bytes === 0 ? 'there was none' : 'not a WAV'}`);
  }

  /** espeak-ng reads the text on stdin and writes a WAV on stdout: no shell, no files, bounded in time and size. */
  private espeak(turn: Turn, text: string, onAudio: (chunk: Uint8Array) => void): Promise<void> {
    const tts = this.o.tts as Extract<LocalStackTts, { engine: 'espeak-ng' }>;
    const lang = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})?/.exec(this.setup.voice.language)?.[0]?.toLowerCase();
    const voice = tts.voice || lang || 'en-us';
    return new Promise<void>((resolve, reject) => {
      const child = spawn(tts.command ?? 'espeak-ng', ['--stdout', '--stdin', '-v', voice], { stdio: ['pipe', 'pipe', 'pipe'] });
      turn.child = child;
      let size = 0;
      let stderr = '';
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        turn.abort.signal.removeEventListener('abort', onAbort);
        if (turn.child === child) turn.child = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => {
        child.kill('SIGKILL');
        finish(new Aborted());
      };
      turn.abort.signal.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new StepError(`espeak-ng did not finish within ${formatMs(this.o.ttsTimeoutMs)}`));
      }, this.o.ttsTimeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > this.o.maxSpeechBytes) {
          // What fits is spoken; the rest is not.
          const room = this.o.maxSpeechBytes - (size - chunk.length);
          try {
            if (room > 0) onAudio(chunk.subarray(0, room));
          } catch {
            // The bound's error says enough.
          }
          child.kill('SIGKILL');
          finish(new StepError(`espeak-ng produced more than ${this.o.maxSpeechBytes} bytes of audio; the rest of the reply is not spoken`));
          return;
        }
        try {
          onAudio(chunk);
        } catch (err) {
          child.kill('SIGKILL');
          finish(err as Error);
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 2_000) stderr += chunk.toString('utf8');
      });
      child.on('error', (err) => finish(new StepError(`cannot run espeak-ng: ${err.message}`)));
      child.on('close', (code, sig) => {
        if (code === 0) finish();
        else finish(new StepError(`espeak-ng failed (${code === null ? `signal ${sig}` : `exit ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n')[0]!.slice(0, 200)}` : ''}`));
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(text);
    });
  }
}

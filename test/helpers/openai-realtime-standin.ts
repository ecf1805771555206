// An OpenAI Realtime stand-in: a WebSocket server on 127.0.0.1 speaking the Realtime API's GA wire format, checking the bearer key and session.update like the real service, scriptable per session.
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export const REALTIME_PATH = '/v1/realtime';
/** What the real service does with a wrong key: an error event, then a close with this code. */
export const CLOSE_AUTH = 3000;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

// Field names the GA API knows; anything else is refused as an unknown parameter, as the real one does.
const SESSION_KEYS = ['type', 'audio', 'include', 'instructions', 'max_output_tokens', 'model', 'output_modalities', 'prompt', 'tool_choice', 'tools', 'tracing', 'truncation'];
const INPUT_KEYS = ['format', 'noise_reduction', 'transcription', 'turn_detection'];
const OUTPUT_KEYS = ['format', 'speed', 'voice'];
const TURN_KEYS = ['type', 'create_response', 'interrupt_response', 'idle_timeout_ms', 'prefix_padding_ms', 'silence_duration_ms', 'threshold', 'eagerness'];
const TOOL_KEYS = ['type', 'name', 'description', 'parameters'];
const VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'];
const CLIENT_EVENTS = [
  'session.update',
  'input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
  'conversation.item.create',
  'conversation.item.truncate',
  'conversation.item.delete',
  'conversation.item.retrieve',
  'response.create',
  'response.cancel',
  'output_audio_buffer.clear',
];

class Refusal extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

function unknownParams(obj: Record<string, unknown>, known: string[], at: string): void {
  for (const key of Object.keys(obj)) if (!known.includes(key)) throw new Refusal(`Unknown parameter: '${at}.${key}'.`, 'unknown_parameter', `${at}.${key}`);
}

function checkFormat(format: unknown, at: string): void {
  if (format === undefined) return;
  if (!isRecord(format)) throw new Refusal(`Invalid type for '${at}': expected an object.`, 'invalid_type', at);
  unknownParams(format, ['type', 'rate'], at);
  if (!['audio/pcm', 'audio/pcmu', 'audio/pcma'].includes(String(format.type))) throw new Refusal(`Invalid value: '${String(format.type)}'.`, 'invalid_value', `${at}.type`);
  if (format.type === 'audio/pcm' && format.rate !== undefined && format.rate !== 24000) {
    throw new Refusal(`Invalid value: ${JSON.stringify(format.rate)}. Supported values are: 24000.`, 'invalid_value', `${at}.rate`);
  }
}

/** The real service's checks of a session.update (the parts caic sends). */
function checkSession(session: unknown): void {
  if (!isRecord(session)) throw new Refusal("Invalid type for 'session': expected an object.", 'invalid_type', 'session');
  if (session.type !== 'realtime') throw new Refusal("Missing required parameter: 'session.type'.", 'missing_required_parameter', 'session.type');
  unknownParams(session, SESSION_KEYS, 'session');
  if (session.output_modalities !== undefined) {
    const m = session.output_modalities;
    if (!Array.isArray(m) || m.length !== 1 || !['audio', 'text'].includes(String(m[0]))) {
      throw new Refusal("Invalid value for 'session.output_modalities': one of ['audio'] or ['text'].", 'invalid_value', 'session.output_modalities');
    }
  }
  if (session.audio !== undefined) {
    if (!isRecord(session.audio)) throw new Refusal("Invalid type for 'session.audio'.", 'invalid_type', 'session.audio');
    unknownParams(session.audio, ['input', 'output'], 'session.audio');
    const { input, output } = session.audio;
    if (isRecord(input)) {
      unknownParams(input, INPUT_KEYS, 'session.audio.input');
      checkFormat(input.format, 'session.audio.input.format');
      if (isRecord(input.turn_detection)) {
        unknownParams(input.turn_detection, TURN_KEYS, 'session.audio.input.turn_detection');
        if (!['server_vad', 'semantic_vad'].includes(String(input.turn_detection.type))) {
          throw new Refusal('Invalid turn_detection type.', 'invalid_value', 'session.audio.input.turn_detection.type');
        }
      }
    }
    if (isRecord(output)) {
      unknownParams(output, OUTPUT_KEYS, 'session.audio.output');
      checkFormat(output.format, 'session.audio.output.format');
      if (output.voice !== undefined && !(typeof output.voice === 'string' && VOICES.includes(output.voice)) && !isRecord(output.voice)) {
        throw new Refusal(`Invalid value: ${JSON.stringify(output.voice)}. Supported values are: ${VOICES.map((v) => `'${v}'`).join(', ')}.`, 'invalid_value', 'session.audio.output.voice');
      }
    }
  }
  if (session.tools !== undefined) {
    if (!Array.isArray(session.tools)) throw new Refusal("Invalid type for 'session.tools': expected an array.", 'invalid_type', 'session.tools');
    session.tools.forEach((tool, i) => {
      const at = `session.tools[${i}]`;
      if (!isRecord(tool)) throw new Refusal(`Invalid type for '${at}'.`, 'invalid_type', at);
      unknownParams(tool, TOOL_KEYS, at);
      if (tool.type !== 'function') throw new Refusal(`Invalid value for '${at}.type'.`, 'invalid_value', `${at}.type`);
      if (typeof tool.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name)) {
        throw new Refusal(`Invalid '${at}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, 'invalid_value', `${at}.name`);
      }
      if (tool.parameters !== undefined && (!isRecord(tool.parameters) || tool.parameters.type !== 'object')) {
        throw new Refusal(`Invalid schema for function '${tool.name}': schema must be a JSON Schema of 'type: "object"'.`, 'invalid_function_parameters', `${at}.parameters`);
      }
    });
  }
}

/** One client connection, as the service sees it. */
export class RealtimeStandInSession {
  /** The effective session (what session.updated reports). */
  session: Record<string, unknown> | undefined;
  readonly sessionUpdates: Record<string, unknown>[] = [];
  /** Every client event, parsed. */
  readonly events: Record<string, unknown>[] = [];
  /** Microphone PCM received (24 kHz samples), one entry per append, and each chunk's RMS. */
  readonly audio: Int16Array[] = [];
  readonly chunkRms: number[] = [];
  readonly items: Record<string, unknown>[] = [];
  readonly truncates: Record<string, unknown>[] = [];
  responseCreates = 0;
  cancels = 0;
  /** The bearer key presented, and the URL's query. */
  authorization: string | undefined;
  query: URLSearchParams;
  closed: { code: number; reason: string } | undefined;
  /** The response the stand-in is producing now (as the service's state). */
  activeResponse: string | undefined;
  private seq = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly ws: WebSocket,
    private readonly autoSessionUpdated: boolean,
    query: URLSearchParams,
  ) {
    this.query = query;
    ws.on('message', (data) => this.onMessage(data as Buffer));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
  }

  get audioSamples(): number {
    return this.audio.reduce((n, a) => n + a.length, 0);
  }

  allAudio(): Int16Array {
    const out = new Int16Array(this.audioSamples);
    let at = 0;
    for (const a of this.audio) {
      out.set(a, at);
      at += a.length;
    }
    return out;
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Waits until `check` holds (looked at after each client event or the close), or fails after `timeoutMs`. */
  async until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stand-in: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Function call outputs the client sent (conversation.item.create of type function_call_output). */
  get outputs(): { call_id: string; output: string }[] {
    return this.items.filter((i) => i.type === 'function_call_output') as { call_id: string; output: string }[];
  }

  async waitForOutput(timeoutMs = 10_000): Promise<{ call_id: string; output: string }> {
    const before = this.outputs.length;
    await this.until(() => this.outputs.length > before, 'a function_call_output', timeoutMs);
    return this.outputs[before]!;
  }

  /** Sends one server event, with an event_id as the service does. */
  send(event: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ event_id: `event_${++this.seq}`, ...event }));
  }

  sessionUpdated(): void {
    this.send({ type: 'session.updated', session: this.session });
  }

  speechStarted(audioStartMs = 0): void {
    this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: audioStartMs, item_id: `item_in_${this.seq}` });
  }

  speechStopped(audioEndMs = 0): void {
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: audioEndMs, item_id: `item_in_${this.seq}` });
  }

  inputTranscript(itemId: string, deltas: string[], completed = deltas.join('')): void {
    for (const delta of deltas) this.send({ type: 'conversation.item.input_audio_transcription.delta', item_id: itemId, content_index: 0, delta });
    this.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: itemId, content_index: 0, transcript: completed });
  }

  responseCreated(id = `resp_${++this.seq}`): string {
    this.activeResponse = id;
    this.send({ type: 'response.created', response: { id, object: 'realtime.response', status: 'in_progress', output: [] } });
    return id;
  }

  responseDone(status: 'completed' | 'cancelled' = 'completed'): void {
    const id = this.activeResponse;
    this.activeResponse = undefined;
    this.send({ type: 'response.done', response: { id, object: 'realtime.response', status, output: [] } });
  }

  /** A function call as the API streams it: item added, argument deltas, arguments done, item done. */
  functionCall(call: { callId: string; name: string; arguments: string }, opts: { itemId?: string; withName?: boolean } = {}): void {
    const itemId = opts.itemId ?? `item_fc_${++this.seq}`;
    const response_id = this.activeResponse;
    this.send({ type: 'response.output_item.added', response_id, output_index: 0, item: { id: itemId, type: 'function_call', status: 'in_progress', call_id: call.callId, name: call.name, arguments: '' } });
    this.send({ type: 'response.function_call_arguments.delta', response_id, item_id: itemId, output_index: 0, call_id: call.callId, delta: call.arguments });
    this.send({
      type: 'response.function_call_arguments.done',
      response_id,
      item_id: itemId,
      output_index: 0,
      call_id: call.callId,
      ...(opts.withName === false ? {} : { name: call.name }),
      arguments: call.arguments,
    });
    this.send({ type: 'response.output_item.done', response_id, output_index: 0, item: { id: itemId, type: 'function_call', status: 'completed', call_id: call.callId, name: call.name, arguments: call.arguments } });
  }

  /** Assistant audio as 24 kHz base64 deltas of `chunkMs`; `beta` uses the beta API's event name. */
  audioOut(pcm: Int16Array, opts: { itemId?: string; chunkMs?: number; beta?: boolean } = {}): void {
    const step = Math.round((24_000 * (opts.chunkMs ?? 40)) / 1000);
    const itemId = opts.itemId ?? 'item_audio_1';
    for (let i = 0; i < pcm.length; i += step) {
      const chunk = pcm.subarray(i, i + step);
      const bytes = Buffer.alloc(chunk.length * 2);
      chunk.forEach((s, j) => bytes.writeInt16LE(s, j * 2));
      this.send({
        type: opts.beta ? 'response.audio.delta' : 'response.output_audio.delta',
        response_id: this.activeResponse,
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        delta: bytes.toString('base64'),
      });
    }
  }

  transcriptOut(text: string, opts: { itemId?: string; beta?: boolean } = {}): void {
    this.send({
      type: opts.beta ? 'response.audio_transcript.delta' : 'response.output_audio_transcript.delta',
      response_id: this.activeResponse,
      item_id: opts.itemId ?? 'item_audio_1',
      output_index: 0,
      content_index: 0,
      delta: text,
    });
  }

  error(code: string, message: string, type = 'invalid_request_error'): void {
    this.send({ type: 'error', error: { type, code, message, param: null, event_id: null } });
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  /** Stops reading from the socket, so the client's sends back up (backpressure). */
  pauseReading(): void {
    (this.ws as unknown as { _socket: Socket })._socket.pause();
  }

  private onMessage(data: Buffer): void {
    let ev: unknown;
    try {
      ev = JSON.parse(data.toString('utf8'));
    } catch {
      this.error('invalid_json', "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)");
      return this.notify();
    }
    try {
      if (!isRecord(ev) || typeof ev.type !== 'string') throw new Refusal("Missing required parameter: 'type'.", 'missing_required_parameter', 'type');
      this.events.push(ev);
      if (!CLIENT_EVENTS.includes(ev.type)) throw new Refusal(`Invalid value: '${ev.type.slice(0, 60)}'. Supported values are: ${CLIENT_EVENTS.map((e) => `'${e}'`).join(', ')}.`, 'invalid_value', 'type');
      switch (ev.type) {
        case 'session.update': {
          checkSession(ev.session);
          const s = ev.session as Record<string, unknown>;
          this.sessionUpdates.push(s);
          this.session = { ...(this.session ?? {}), ...s, object: 'realtime.session', id: 'sess_standin', model: this.query.get('model') };
          if (this.autoSessionUpdated || this.sessionUpdates.length > 1) this.sessionUpdated();
          break;
        }
        case 'input_audio_buffer.append': {
          if (typeof ev.audio !== 'string') throw new Refusal("Missing required parameter: 'audio'.", 'missing_required_parameter', 'audio');
          const bytes = Buffer.from(ev.audio, 'base64');
          const pcm = new Int16Array(bytes.length >> 1);
          for (let i = 0; i < pcm.length; i++) pcm[i] = bytes.readInt16LE(i * 2);
          this.audio.push(pcm);
          this.chunkRms.push(rms(pcm));
          break;
        }
        case 'conversation.item.create': {
          const item = ev.item;
          if (!isRecord(item)) throw new Refusal("Missing required parameter: 'item'.", 'missing_required_parameter', 'item');
          if (item.type === 'function_call_output' && (typeof item.call_id !== 'string' || typeof item.output !== 'string')) {
            throw new Refusal("Missing required parameter: 'item.output'.", 'missing_required_parameter', 'item.output');
          }
          this.items.push(item);
          break;
        }
        case 'conversation.item.truncate':
          if (typeof ev.item_id !== 'string' || typeof ev.audio_end_ms !== 'number' || typeof ev.content_index !== 'number') {
            throw new Refusal("Missing required parameter: 'audio_end_ms'.", 'missing_required_parameter', 'audio_end_ms');
          }
          this.truncates.push(ev);
          break;
        case 'response.create':
          if (this.activeResponse) throw new Refusal(`Conversation already has an active response in progress: ${this.activeResponse}. Wait until the response is finished before creating a new one.`, 'conversation_already_has_active_response');
          this.responseCreates++;
          break;
        case 'response.cancel':
          this.cancels++;
          if (!this.activeResponse) throw new Refusal('Cancellation failed: no active response found', 'response_cancel_not_active');
          this.responseDone('cancelled');
          break;
      }
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      this.send({ type: 'error', error: { type: 'invalid_request_error', code: err.code, message: err.message, param: err.param ?? null, event_id: null } });
    } finally {
      this.notify();
    }
  }
}

export interface RealtimeStandInOptions {
  apiKey: string;
  models?: string[];
  /** Answer a valid session.update at once (default); false: the test calls sessionUpdated() itself. */
  autoSessionUpdated?: boolean;
}

export class OpenAIRealtimeStandIn {
  readonly sessions: RealtimeStandInSession[] = [];
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(opts: RealtimeStandInOptions): Promise<OpenAIRealtimeStandIn> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: REALTIME_PATH, perMessageDeflate: false });
    await once(wss, 'listening');
    const { port } = wss.address() as AddressInfo;
    const standIn = new OpenAIRealtimeStandIn(wss, `ws://127.0.0.1:${port}${REALTIME_PATH}`);
    const models = opts.models ?? ['gpt-realtime'];
    wss.on('connection', (ws, req) => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const session = new RealtimeStandInSession(ws, opts.autoSessionUpdated ?? true, query);
      session.authorization = req.headers.authorization;
      standIn.sessions.push(session);
      const waiters = standIn.waiters;
      standIn.waiters = [];
      for (const w of waiters) w();
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer) {
        session.error('missing_api_key', "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
        return ws.close(CLOSE_AUTH, 'invalid_request_error.missing_api_key');
      }
      if (bearer !== opts.apiKey) {
        // The service shows the start and the end of the key it refused.
        const shown = bearer.length > 8 ? `${bearer.slice(0, 3)}*****${bearer.slice(-4)}` : '*****';
        session.error('invalid_api_key', `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`);
        return ws.close(CLOSE_AUTH, 'invalid_request_error.invalid_api_key');
      }
      const model = query.get('model') ?? '';
      if (!models.includes(model)) {
        session.error('model_not_found', `The model '${model.slice(0, 60)}' does not exist or you do not have access to it.`);
        return ws.close(CLOSE_AUTH, 'invalid_request_error.model_not_found');
      }
      session.send({ type: 'session.created', session: { id: 'sess_standin', object: 'realtime.session', type: 'realtime', model, output_modalities: ['audio'], instructions: 'default' } });
    });
    return standIn;
  }

  async session(index = this.sessions.length, timeoutMs = 10_000): Promise<RealtimeStandInSession> {
    const deadline = Date.now() + timeoutMs;
    while (!this.sessions[index]) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stand-in: no session #${index} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.sessions[index];
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** Root mean square of 16-bit samples (0 for silence). */
export function rms(pcm: Int16Array): number {
  if (pcm.length === 0) return 0;
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return Math.sqrt(sum / pcm.length);
}

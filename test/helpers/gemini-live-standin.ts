// A Gemini Live stand-in: a WebSocket server on 127.0.0.1 speaking BidiGenerateContent's wire format, checking the key and the setup like the real service, scriptable per session.
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export const STANDIN_PATH = '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent';
/** What the real service answers (close code and reason) to a wrong key and to none. */
export const BAD_KEY = { code: 1007, reason: 'API key not valid. Please pass a valid API key.' };
export const NO_KEY = {
  code: 1008,
  reason: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
};

// Field names the service knows; anything else is refused as an unknown name, as the real one does.
const CLIENT_MESSAGE_KEYS = ['setup', 'clientContent', 'realtimeInput', 'toolResponse'];
const SETUP_KEYS = [
  'model',
  'generationConfig',
  'systemInstruction',
  'tools',
  'realtimeInputConfig',
  'sessionResumption',
  'contextWindowCompression',
  'inputAudioTranscription',
  'outputAudioTranscription',
  'proactivity',
];
const GENERATION_CONFIG_KEYS = ['candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK', 'presencePenalty', 'frequencyPenalty', 'responseModalities', 'speechConfig', 'mediaResolution'];
const SCHEMA_KEYS = ['type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required', 'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering', 'default', 'items', 'minimum', 'maximum'];
const SCHEMA_TYPES = ['TYPE_UNSPECIFIED', 'STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT', 'NULL'];
const FUNCTION_KEYS = ['name', 'description', 'parameters', 'parametersJsonSchema', 'behavior', 'response', 'responseJsonSchema'];
const REALTIME_KEYS = ['mediaChunks', 'audio', 'video', 'activityStart', 'activityEnd', 'audioStreamEnd', 'text'];

class Refusal extends Error {}
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function unknownNames(obj: Record<string, unknown>, known: string[], at: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) throw new Refusal(`Invalid JSON payload received. Unknown name "${key}" at '${at}': Cannot find field.`);
  }
}

function checkSchema(schema: unknown, at: string): void {
  if (!isRecord(schema)) throw new Refusal(`Invalid JSON payload received. Expected an object at '${at}'.`);
  unknownNames(schema, SCHEMA_KEYS, at);
  if (schema.type !== undefined && !(typeof schema.type === 'string' && SCHEMA_TYPES.includes(schema.type))) {
    throw new Refusal(`Invalid JSON payload received. Invalid value at '${at}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${JSON.stringify(schema.type)}`);
  }
  if (schema.type === 'OBJECT' && (!isRecord(schema.properties) || Object.keys(schema.properties).length === 0)) {
    throw new Refusal(`* GenerateContentRequest.${at}.properties: should be non-empty for OBJECT type`);
  }
  if (isRecord(schema.properties)) for (const [k, v] of Object.entries(schema.properties)) checkSchema(v, `${at}.properties[${k}].value`);
  if (schema.items !== undefined) checkSchema(schema.items, `${at}.items`);
  if (Array.isArray(schema.anyOf)) schema.anyOf.forEach((s, i) => checkSchema(s, `${at}.any_of[${i}]`));
}

/** The real service's checks of a setup message, as close reasons with its codes. */
function checkSetup(setup: unknown, models: string[]): void {
  if (!isRecord(setup)) throw new Refusal("Invalid JSON payload received. Expected an object at 'setup'.");
  unknownNames(setup, SETUP_KEYS, 'setup');
  if (typeof setup.model !== 'string' || !setup.model.startsWith('models/')) throw new Refusal('model must be of the form models/{model}');
  if (!models.includes(setup.model.slice('models/'.length))) {
    throw Object.assign(new Refusal(`${setup.model} is not found for API version v1beta, or is not supported for bidiGenerateContent.`), { code: 1008 });
  }
  if (setup.generationConfig !== undefined) {
    if (!isRecord(setup.generationConfig)) throw new Refusal("Invalid JSON payload received. Expected an object at 'setup.generation_config'.");
    unknownNames(setup.generationConfig, GENERATION_CONFIG_KEYS, 'setup.generation_config');
  }
  const tools = setup.tools ?? [];
  if (!Array.isArray(tools)) throw new Refusal("Invalid JSON payload received. Expected a list at 'setup.tools'.");
  tools.forEach((tool, i) => {
    const decls = isRecord(tool) && Array.isArray(tool.functionDeclarations) ? tool.functionDeclarations : [];
    decls.forEach((d, j) => {
      const at = `setup.tools[${i}].function_declarations[${j}]`;
      if (!isRecord(d)) throw new Refusal(`Invalid JSON payload received. Expected an object at '${at}'.`);
      unknownNames(d, FUNCTION_KEYS, at);
      if (typeof d.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(d.name)) throw new Refusal(`* ${at}.name: Invalid function name.`);
      if (d.parameters !== undefined) checkSchema(d.parameters, `${at}.parameters`);
    });
  });
}

export interface FunctionResponse {
  id?: string;
  name: string;
  response: Record<string, unknown>;
}

/** One client connection, as the service sees it. */
export class StandInSession {
  setup: Record<string, unknown> | undefined;
  /** Every message the client sent, parsed. */
  readonly messages: Record<string, unknown>[] = [];
  /** The microphone PCM received (16 kHz samples), in order. */
  readonly audio: Int16Array[] = [];
  readonly audioMimeTypes = new Set<string>();
  readonly toolResponses: FunctionResponse[] = [];
  readonly clientContents: Record<string, unknown>[] = [];
  /** The key the client presented and where. */
  key: { value: string; via: 'header' | 'query' } | undefined;
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    readonly ws: WebSocket,
    private readonly expectedKey: string,
    private readonly models: string[],
    readonly autoSetupComplete: boolean,
  ) {
    ws.on('message', (data) => this.onMessage(data as Buffer));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
  }

  get audioSamples(): number {
    return this.audio.reduce((n, a) => n + a.length, 0);
  }

  /** All microphone samples received, joined. */
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

  /** Waits until `check` holds (looked at after each client message or the close), or fails after `timeoutMs`. */
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

  async waitForToolResponse(timeoutMs = 10_000): Promise<FunctionResponse> {
    const before = this.toolResponses.length;
    await this.until(() => this.toolResponses.length > before, 'a toolResponse', timeoutMs);
    return this.toolResponses[before]!;
  }

  /** Sends one server message, as the real service does: JSON in a binary frame. */
  send(message: Record<string, unknown>): void {
    this.ws.send(Buffer.from(JSON.stringify(message)));
  }

  setupComplete(): void {
    this.send({ setupComplete: {} });
  }

  inputTranscription(text: string): void {
    this.send({ serverContent: { inputTranscription: { text } } });
  }

  outputTranscription(text: string): void {
    this.send({ serverContent: { outputTranscription: { text } } });
  }

  text(text: string): void {
    this.send({ serverContent: { modelTurn: { parts: [{ text }] } } });
  }

  toolCall(calls: { id: string; name: string; args: Record<string, unknown> }[]): void {
    this.send({ toolCall: { functionCalls: calls } });
  }

  /** Assistant audio in 24 kHz chunks of `chunkMs`, as inline data parts. */
  audioOut(pcm: Int16Array, rate = 24_000, chunkMs = 40): void {
    const step = Math.max(1, Math.round((rate * chunkMs) / 1000));
    for (let i = 0; i < pcm.length; i += step) {
      const chunk = pcm.subarray(i, i + step);
      const bytes = Buffer.alloc(chunk.length * 2);
      chunk.forEach((s, j) => bytes.writeInt16LE(s, j * 2));
      this.send({ serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: `audio/pcm;rate=${rate}`, data: bytes.toString('base64') } }] } } });
    }
  }

  interrupted(): void {
    this.send({ serverContent: { interrupted: true } });
  }

  turnComplete(): void {
    this.send({ serverContent: { generationComplete: true } });
    this.send({ serverContent: { turnComplete: true } });
  }

  goAway(timeLeft = '10s'): void {
    this.send({ goAway: { timeLeft } });
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  /** Stops reading from the socket, so the client's sends back up (backpressure). */
  pauseReading(): void {
    const socket = (this.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
  }

  private refuse(code: number, reason: string): void {
    this.ws.close(code, reason.slice(0, 123));
  }

  private onMessage(data: Buffer): void {
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      return this.refuse(1007, 'Invalid JSON payload received.');
    }
    if (!isRecord(msg)) return this.refuse(1007, 'Invalid JSON payload received.');
    this.messages.push(msg);
    try {
      const keys = Object.keys(msg);
      if (keys.length !== 1) throw new Refusal('Invalid JSON payload: a client message must hold exactly one of setup, clientContent, realtimeInput, toolResponse.');
      unknownNames(msg, CLIENT_MESSAGE_KEYS, '');
      if (this.setup === undefined) {
        // The service reads the first message before it answers, key problems included.
        if (!this.key) return this.refuse(NO_KEY.code, NO_KEY.reason);
        if (this.key.value !== this.expectedKey) return this.refuse(BAD_KEY.code, BAD_KEY.reason);
        if (!('setup' in msg)) throw new Refusal('The first message must be a setup message.');
        checkSetup(msg.setup, this.models);
        this.setup = msg.setup as Record<string, unknown>;
        if (this.autoSetupComplete) this.setupComplete();
      } else if ('setup' in msg) {
        throw new Refusal('setup must be the first and only setup message.');
      } else if ('realtimeInput' in msg) {
        const input = msg.realtimeInput;
        if (!isRecord(input)) throw new Refusal("Invalid JSON payload received. Expected an object at 'realtime_input'.");
        unknownNames(input, REALTIME_KEYS, 'realtime_input');
        if (isRecord(input.audio)) {
          const { data: b64, mimeType } = input.audio;
          if (typeof b64 !== 'string' || typeof mimeType !== 'string' || !mimeType.startsWith('audio/pcm')) throw new Refusal('realtime_input.audio needs data and an audio/pcm mimeType');
          this.audioMimeTypes.add(mimeType);
          const bytes = Buffer.from(b64, 'base64');
          const pcm = new Int16Array(bytes.length >> 1);
          for (let i = 0; i < pcm.length; i++) pcm[i] = bytes.readInt16LE(i * 2);
          this.audio.push(pcm);
        }
      } else if ('toolResponse' in msg) {
        const responses = isRecord(msg.toolResponse) && Array.isArray(msg.toolResponse.functionResponses) ? msg.toolResponse.functionResponses : [];
        for (const r of responses) {
          if (!isRecord(r) || typeof r.name !== 'string' || !isRecord(r.response)) throw new Refusal('function_responses need a name and an object response');
          this.toolResponses.push(r as unknown as FunctionResponse);
        }
      } else if ('clientContent' in msg) {
        this.clientContents.push(msg.clientContent as Record<string, unknown>);
      }
    } catch (err) {
      if (err instanceof Refusal) return this.refuse((err as { code?: number }).code ?? 1007, err.message);
      throw err;
    } finally {
      this.notify();
    }
  }
}

export interface StandInOptions {
  apiKey: string;
  /** Model names the service offers (without `models/`). */
  models?: string[];
  /** Answer a valid setup at once (default); false: the test calls setupComplete() itself. */
  autoSetupComplete?: boolean;
}

export class GeminiLiveStandIn {
  readonly sessions: StandInSession[] = [];
  private waiters: ((s: StandInSession) => void)[] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(opts: StandInOptions): Promise<GeminiLiveStandIn> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: STANDIN_PATH, perMessageDeflate: false });
    await once(wss, 'listening');
    const { port } = wss.address() as AddressInfo;
    const standIn = new GeminiLiveStandIn(wss, `ws://127.0.0.1:${port}${STANDIN_PATH}`);
    wss.on('connection', (ws, req) => {
      const session = new StandInSession(ws, opts.apiKey, opts.models ?? ['gemini-3.1-flash-live-preview'], opts.autoSetupComplete ?? true);
      const header = req.headers['x-goog-api-key'];
      const query = new URL(req.url ?? '/', 'http://x').searchParams.get('key');
      if (typeof header === 'string') session.key = { value: header, via: 'header' };
      else if (query !== null) session.key = { value: query, via: 'query' };
      standIn.sessions.push(session);
      const waiters = standIn.waiters;
      standIn.waiters = [];
      for (const w of waiters) w(session);
    });
    return standIn;
  }

  /** The next session to connect (or the n-th, counting from 0, if it already did). */
  async session(index = this.sessions.length, timeoutMs = 10_000): Promise<StandInSession> {
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

/** A sine tone as 16-bit PCM. */
export function tone(freq: number, ms: number, rate: number, amplitude = 8_000): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return out;
}

/** Root mean square of 16-bit samples (0 for silence). */
export function rms(pcm: Int16Array): number {
  if (pcm.length === 0) return 0;
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return Math.sqrt(sum / pcm.length);
}

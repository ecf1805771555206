// A stand-in for the OpenAI-compatible servers of the local voice stack (llama.cpp, whisper.cpp, TTS servers): /v1/audio/transcriptions (multipart), /v1/chat/completions (with tool_calls) and /v1/audio/speech on 127.0.0.1, scriptable, recording what arrives.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseWav } from './speech.js';

/** One scripted answer. `hang`: never answer (the client's deadline or abort must end it). */
export type Reply =
  | { json: unknown; status?: number }
  | { raw: string | Buffer; status?: number; contentType?: string }
  | { stream: Buffer[]; contentType?: string; thenHang?: boolean }
  | { bytes: number; contentType?: string }
  | { redirect: string }
  | { hang: true };

export interface Transcription {
  model: string;
  language: string | null;
  responseFormat: string | null;
  filename: string;
  fileType: string;
  rate: number;
  samples: Int16Array;
  durationMs: number;
  rms: number;
}

export interface RequestRecord {
  path: string;
  authorization: string | undefined;
  contentType: string;
  /** The client went away before the answer was complete (an abort or a deadline). */
  aborted: boolean;
  finished: boolean;
}

const wavOf = (pcm: Int16Array, rate: number): Buffer => {
  const out = Buffer.alloc(44 + pcm.length * 2);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + pcm.length * 2, 4);
  out.write('WAVEfmt ', 8, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(pcm.length * 2, 40);
  pcm.forEach((s, i) => out.writeInt16LE(s, 44 + i * 2));
  return out;
};
export { wavOf };

export function rms(pcm: Int16Array): number {
  if (pcm.length === 0) return 0;
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return Math.sqrt(sum / pcm.length);
}

/** A chat completion in the real wire format: text, or tool calls (arguments as the JSON string models send). */
export function chatText(content: string): Reply {
  return {
    json: {
      id: 'chatcmpl-standin',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'standin',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    },
  };
}

export function chatToolCalls(calls: { id?: string; name: string; arguments: unknown }[], content: string | null = null): Reply {
  return {
    json: {
      id: 'chatcmpl-standin',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'standin',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content,
            tool_calls: calls.map((c) => ({ ...(c.id === undefined ? {} : { id: c.id }), type: 'function', function: { name: c.name, arguments: c.arguments } })),
          },
          finish_reason: 'tool_calls',
        },
      ],
    },
  };
}

/** A sine tone as 16-bit PCM. */
export function tone(freq: number, ms: number, rate: number, amplitude = 8_000): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  return Int16Array.from({ length: n }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate)));
}

export class OpenAICompatStandIn {
  readonly transcriptions: Transcription[] = [];
  readonly chats: Record<string, unknown>[] = [];
  readonly speeches: Record<string, unknown>[] = [];
  readonly requests: RequestRecord[] = [];
  /** Scripted answers, taken in order; when empty, the defaults below. */
  readonly asr: Reply[] = [];
  readonly chat: Reply[] = [];
  readonly speech: Reply[] = [];
  asrDefault: Reply = { json: { text: 'hello' } };
  chatDefault: Reply = chatText('Hello.');
  /** The default speech: half a second of tone as a WAV at this rate (not the 22 kHz of espeak-ng, so a test can tell). */
  speechRate = 16_000;
  private waiters: (() => void)[] = [];
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly apiKey: string | undefined,
  ) {}

  /** `apiKey`: the chat endpoint wants `Authorization: Bearer <it>` (as a hosted server would). */
  static async start(opts: { apiKey?: string } = {}): Promise<OpenAICompatStandIn> {
    const holder: { standIn?: OpenAICompatStandIn } = {};
    const server = createServer((req, res) => void holder.standIn!.handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    holder.standIn = new OpenAICompatStandIn(server, `http://127.0.0.1:${port}`, opts.apiKey);
    return holder.standIn;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
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

  aborted(path: string): number {
    return this.requests.filter((r) => r.path === path && r.aborted).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const record: RequestRecord = { path, authorization: req.headers.authorization, contentType: req.headers['content-type'] ?? '', aborted: false, finished: false };
    this.requests.push(record);
    res.on('finish', () => {
      record.finished = true;
      this.notify();
    });
    res.on('close', () => {
      this.hanging.delete(res);
      if (!res.writableFinished) record.aborted = true;
      this.notify();
    });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    try {
      if (req.method !== 'POST') return this.error(res, 405, 'Method not allowed');
      if (path === '/v1/audio/transcriptions') {
        const form = await new Response(body, { headers: { 'content-type': record.contentType } }).formData();
        const file = form.get('file');
        if (!(file instanceof File)) return this.error(res, 400, "'file' is a required property");
        const wav = parseWav(Buffer.from(await file.arrayBuffer()));
        this.transcriptions.push({
          model: form.get('model') as string,
          language: form.get('language') as string | null,
          responseFormat: form.get('response_format') as string | null,
          filename: file.name,
          fileType: file.type,
          rate: wav.rate,
          samples: wav.samples,
          durationMs: (wav.samples.length / wav.rate) * 1000,
          rms: rms(wav.samples),
        });
        this.notify();
        return this.reply(res, this.asr.shift() ?? this.asrDefault);
      }
      if (path === '/v1/chat/completions') {
        if (this.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.apiKey}`) {
          return this.error(res, 401, 'Incorrect API key provided.', 'invalid_api_key');
        }
        this.chats.push(JSON.parse(body.toString('utf8')) as Record<string, unknown>);
        this.notify();
        return this.reply(res, this.chat.shift() ?? this.chatDefault);
      }
      if (path === '/v1/audio/speech') {
        const request = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        if (typeof request.input !== 'string' || !request.input) return this.error(res, 400, "'input' is a required property");
        this.speeches.push(request);
        this.notify();
        return this.reply(res, this.speech.shift() ?? { raw: wavOf(tone(330, 500, this.speechRate, 9_000), this.speechRate), contentType: 'audio/wav' });
      }
      return this.error(res, 404, `no route ${path}`);
    } catch (err) {
      return this.error(res, 400, `bad request: ${(err as Error).message}`);
    }
  }

  private error(res: ServerResponse, status: number, message: string, code: string | null = null): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code } }));
  }

  private reply(res: ServerResponse, reply: Reply): void {
    if ('hang' in reply) {
      this.hanging.add(res);
      return;
    }
    if ('redirect' in reply) {
      res.writeHead(307, { location: reply.redirect });
      res.end();
      return;
    }
    if ('json' in reply) {
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.json));
      return;
    }
    if ('raw' in reply) {
      res.writeHead(reply.status ?? 200, { 'content-type': reply.contentType ?? 'application/json' });
      res.end(reply.raw);
      return;
    }
    if ('bytes' in reply) {
      res.writeHead(200, { 'content-type': reply.contentType ?? 'application/json' });
      const block = Buffer.alloc(64 * 1024, 0x41);
      let left = reply.bytes;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, block.length);
          left -= n;
          if (!res.write(block.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
      return;
    }
    res.writeHead(200, { 'content-type': reply.contentType ?? 'audio/wav' });
    for (const chunk of reply.stream) res.write(chunk);
    if (reply.thenHang) this.hanging.add(res);
    else res.end();
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

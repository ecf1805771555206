// A test client for server-sent events: collects events, waits for conditions, resumes by id.
import { request, type ClientRequest } from 'node:http';
import { SseParser } from '../../web/src/lib/sse.js';

export interface SseEvent {
  id?: number;
  event: string;
  data: unknown;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  status = 0;
  /** Body of a non-stream answer (an error envelope). */
  body = '';
  private req: ClientRequest | null = null;
  private waiters: { pred: (e: SseEvent[]) => boolean; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private ended = false;
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.done = new Promise((r) => (this.resolveDone = r));
    // The web UI's parser: the tests read streams the way the UI does.
    const parser = new SseParser();
    this.req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (!String(res.headers['content-type']).startsWith('text/event-stream')) {
          this.body += chunk;
          return;
        }
        for (const m of parser.push(chunk)) {
          this.events.push({ ...(m.id !== undefined ? { id: Number(m.id) } : {}), event: m.event, data: m.data ? JSON.parse(m.data) : undefined });
        }
        this.check();
      });
      res.on('end', () => this.finish());
      res.on('close', () => this.finish());
    });
    this.req.on('error', () => this.finish());
    this.req.end();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.check();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`stream ended before the condition held (status ${this.status}, ${this.events.length} events${this.body ? `: ${this.body.slice(0, 300)}` : ''})`));
    }
    this.waiters = [];
    this.resolveDone();
  }

  private check(): void {
    for (const w of [...this.waiters]) {
      if (w.pred(this.events)) {
        clearTimeout(w.timer);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  waitFor(pred: (events: SseEvent[]) => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
    if (pred(this.events)) return Promise.resolve();
    if (this.ended) return Promise.reject(new Error(`stream already ended waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last events: ${JSON.stringify(this.events.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push({ pred, resolve, reject, timer });
    });
  }

  /** Data of `message` events (the task's events). */
  messages<T = Record<string, unknown>>(): T[] {
    return this.events.filter((e) => e.event === 'message').map((e) => e.data as T);
  }

  close(): void {
    this.req?.destroy();
    this.finish();
  }
}

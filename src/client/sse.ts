// Server-sent events over fetch: an incremental parser and a stream that reconnects with
// Last-Event-ID and jittered backoff (EventSource cannot set headers or report why it failed).

export interface SseMessage {
  /** The `id:` of this message, when it had one. */
  id?: string;
  /** `event:` name; `message` when absent. */
  event: string;
  data: string;
}

/** Incremental text/event-stream parser (WHATWG rules that matter here: CRLF/LF, comments, multi-line data). */
export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    this.buf += chunk;
    let start = 0;
    for (;;) {
      const nl = this.buf.indexOf('\n', start);
      if (nl < 0) break;
      let line = this.buf.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (this.data.length > 0 || this.event) {
          const msg: SseMessage = { event: this.event || 'message', data: this.data.join('\n') };
          if (this.id !== undefined) msg.id = this.id;
          out.push(msg);
        }
        this.data = [];
        this.event = '';
        this.id = undefined;
        continue;
      }
      if (line.startsWith(':')) continue; // heartbeat or comment
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id' && !value.includes('\0')) this.id = value;
    }
    this.buf = this.buf.slice(start);
    return out;
  }
}

export type StreamState = 'connecting' | 'open' | 'closed';

export interface StreamOptions {
  url: string;
  fetch?: typeof globalThis.fetch;
  /** Resume after this id (0: from the start). Updated from every `id:` received. */
  lastEventId?: number;
  onMessage(msg: SseMessage): void;
  /** Connection state; `error` says why the last attempt failed (shown while disconnected). */
  onState?(state: StreamState, error?: string): void;
  /** Fatal answers (4xx but 408 and 429): the stream stops and reports the status. */
  onFatal?(status: number, message: string): void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** No byte for this long (the server sends a heartbeat every 15 s) = a dead connection. */
  idleMs?: number;
  random?: () => number;
}

export interface Stream {
  close(): void;
  /** The newest id received (what a reconnect sends as Last-Event-ID). */
  readonly lastEventId: number;
}

/** Backoff before attempt `n` (0-based): exponential with full jitter, capped. */
export function backoffMs(n: number, min: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, min * 2 ** n);
  return Math.round(min + random() * Math.max(0, ceiling - min));
}

export function openStream(opts: StreamOptions): Stream {
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const min = opts.minBackoffMs ?? 500;
  const max = opts.maxBackoffMs ?? 15_000;
  const idleMs = opts.idleMs ?? 45_000;
  const random = opts.random ?? Math.random;
  let lastId = opts.lastEventId ?? 0;
  let closed = false;
  let failures = 0;
  let controller: AbortController | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  const run = async (): Promise<void> => {
    if (closed) return;
    controller = new AbortController();
    const ac = controller;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ac.abort(new Error('no data from the server')), idleMs);
    };
    opts.onState?.('connecting');
    let error = 'connection closed';
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastId > 0) headers['last-event-id'] = String(lastId);
      touch();
      const res = await doFetch(opts.url, { headers, signal: ac.signal, credentials: 'same-origin' });
      // A refusal that asking again cannot change (401, 403, 404, a 400 for a malformed id) is final;
      // a timeout or rate limit (408, 429) and a server error are tried again.
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        let message = `HTTP ${res.status}`;
        try {
          message = ((await res.json()) as { error?: { message?: string } }).error?.message ?? message;
        } catch {
          // not JSON
        }
        closed = true;
        clearTimeout(idle);
        opts.onState?.('closed', message);
        opts.onFatal?.(res.status, message);
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      opts.onState?.('open');
      // A connection the server accepted resets the backoff (a server that drops every stream at once
      // still waits min..2×min between attempts).
      failures = Math.min(failures, 1);
      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        touch();
        for (const msg of parser.push(value)) {
          if (msg.id !== undefined && /^\d+$/.test(msg.id)) lastId = Number(msg.id);
          if (closed) return;
          opts.onMessage(msg);
        }
      }
    } catch (err) {
      if (closed) return;
      error = err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(idle);
    }
    if (closed) return;
    opts.onState?.('connecting', error);
    retryTimer = setTimeout(() => void run(), backoffMs(failures++, min, max, random));
  };
  void run();

  return {
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      controller?.abort();
      opts.onState?.('closed');
    },
    get lastEventId() {
      return lastId;
    },
  };
}

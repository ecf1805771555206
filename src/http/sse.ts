// Server-sent events over a hijacked Fastify reply: ids, named events, heartbeats, and a bounded
// buffer — a client that cannot keep up is disconnected (it resumes with Last-Event-ID).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { COMMON_SECURITY_HEADERS } from './headers.js';

export const HEARTBEAT_MS = 15_000;
/** Unsent bytes a client may have queued before it is cut off. */
export const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/**
 * Writes to every stream are coalesced for this long: with many subscribers the write syscalls
 * dominate (one per event per client); batching a few events per write keeps a fast stream cheap.
 */
export const FLUSH_MS = 15;

const dirty = new Set<() => void>();
let flushTimer: NodeJS.Timeout | undefined;
function scheduleFlush(flush: () => void): void {
  dirty.add(flush);
  flushTimer ??= setTimeout(() => {
    flushTimer = undefined;
    const all = [...dirty];
    dirty.clear();
    for (const fn of all) fn();
  }, FLUSH_MS);
}

declare module 'fastify' {
  interface FastifyInstance {
    sseStreams: Set<SseStream>;
    sseSessionCheck: SessionCheck | undefined;
    /**
     * Ends the open streams of signed-in users whose session no longer holds (the user was deleted
     * from users.json or is no longer allowed, or the token expired). Every heartbeat does it too.
     */
    endRevokedSseStreams(): void;
  }
}

/** Whether the session a stream was opened with still holds. */
export type SessionCheck = (req: FastifyRequest) => boolean | Promise<boolean>;

/** The session check of each stream that was opened by a signed-in user. */
const checks = new WeakMap<SseStream, () => void>();

/**
 * Open streams end when the server closes: otherwise shutdown would wait for them forever. With
 * `sessionHolds` (login on), a stream also ends once its user's session does: a request is checked
 * when it arrives, a stream lives on for days.
 */
export function installSse(app: FastifyInstance, sessionHolds?: SessionCheck): void {
  const streams = new Set<SseStream>();
  app.decorate('sseStreams', { getter: () => streams });
  app.decorate('sseSessionCheck', { getter: () => sessionHolds });
  app.decorate('endRevokedSseStreams', () => {
    for (const s of streams) checks.get(s)?.();
  });
  app.addHook('preClose', (done) => {
    for (const s of [...streams]) s.close();
    done();
  });
}

/** One event as it goes on the wire (`id:`/`event:` lines, then `data:`). */
export function sseFrame(data: unknown, opts: { id?: number; event?: string } = {}): string {
  return `${opts.id !== undefined ? `id: ${opts.id}\n` : ''}${opts.event ? `event: ${opts.event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;
}

export interface SseStream {
  /** Queues one event; false once the stream is closed. */
  send(data: unknown, opts?: { id?: number; event?: string }): boolean;
  /**
   * Queues a frame built once with `sseFrame` (fan-out: one serialisation for every client).
   * `backlog` frames (history on connect) raise the allowance for unsent bytes by their size:
   * a long history is not a slow client.
   */
  sendFrame(frame: string, backlog?: boolean): boolean;
  close(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

export function openSse(req: FastifyRequest, reply: FastifyReply, opts: { heartbeatMs?: number; maxPendingBytes?: number } = {}): SseStream {
  reply.hijack();
  // The stream goes straight to the socket (close-delimited, no chunked framing): with many
  // subscribers the per-write work of the HTTP layer is the daemon's biggest cost.
  const socket = req.raw.socket;
  const head = [
    'HTTP/1.1 200 OK',
    'Content-Type: text/event-stream; charset=utf-8',
    'Cache-Control: no-cache, no-transform',
    'Connection: close',
    'X-Accel-Buffering: no',
    ...Object.entries(COMMON_SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  socket.setNoDelay(true);
  socket.write(head);
  let closed = false;
  const closers: (() => void)[] = [];
  const max = opts.maxPendingBytes ?? MAX_PENDING_BYTES;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const fn of closers) fn();
    // A graceful close still delivers what was queued; a slow client is destroyed right after.
    if (!socket.destroyed) socket.end(queued);
    queued = '';
  };
  // Frames queued since the last flush, sent as one string: one write call per flush instead of
  // corked writes (whose writev path costs more per chunk than the bytes themselves).
  let queued = '';
  let scheduled = false;
  let allowance = max;
  const flush = () => {
    scheduled = false;
    if (closed || queued === '') return;
    const chunk = queued;
    queued = '';
    socket.write(chunk);
  };
  const write = (chunk: string): boolean => {
    if (closed) return false;
    queued += chunk;
    if (!scheduled) {
      scheduled = true;
      scheduleFlush(flush);
    }
    if (socket.writableLength + queued.length > allowance) {
      req.log.info({ path: req.url.split('?')[0], pending: socket.writableLength + queued.length }, 'SSE client too slow; disconnecting it');
      close();
      socket.destroy();
      return false;
    }
    return true;
  };
  const sessionHolds = req.user ? req.server.sseSessionCheck : undefined;
  const recheck = sessionHolds
    ? () => {
        if (closed) return;
        void Promise.resolve(sessionHolds(req)).then(
          (holds) => holds || close(),
          () => close(),
        );
      }
    : undefined;
  const heartbeat = setInterval(() => {
    recheck?.();
    write(': ping\n\n');
  }, opts.heartbeatMs ?? HEARTBEAT_MS);
  heartbeat.unref();
  socket.on('close', close);
  write(': ok\n\n');
  const stream: SseStream = {
    send(data, o = {}) {
      return write(sseFrame(data, o));
    },
    sendFrame(frame, backlog = false) {
      if (backlog) allowance += frame.length;
      return write(frame);
    },
    close,
    get closed() {
      return closed;
    },
    onClose(fn) {
      if (closed) fn();
      else closers.push(fn);
    },
  };
  const registry = req.server.sseStreams;
  registry.add(stream);
  if (recheck) checks.set(stream, recheck);
  closers.push(() => registry.delete(stream));
  return stream;
}

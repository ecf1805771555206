// Server-sent events over a hijacked Fastify reply: ids, named events, heartbeats, and a bounded
// buffer — a client that cannot keep up is disconnected (it resumes with Last-Event-ID).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { COMMON_SECURITY_HEADERS } from './headers.js';

export const HEARTBEAT_MS = 15_000;
/** Unsent bytes a client may have queued before it is cut off. */
export const MAX_PENDING_BYTES = 8 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyInstance {
    sseStreams: Set<SseStream>;
  }
}

/** Open streams end when the server closes: otherwise shutdown would wait for them forever. */
export function installSse(app: FastifyInstance): void {
  const streams = new Set<SseStream>();
  app.decorate('sseStreams', { getter: () => streams });
  app.addHook('preClose', (done) => {
    for (const s of [...streams]) s.close();
    done();
  });
}

export interface SseStream {
  /** Queues one event; false once the stream is closed. */
  send(data: unknown, opts?: { id?: number; event?: string }): boolean;
  close(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

export function openSse(req: FastifyRequest, reply: FastifyReply, opts: { heartbeatMs?: number; maxPendingBytes?: number } = {}): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...COMMON_SECURITY_HEADERS,
  });
  res.socket?.setNoDelay(true);
  let closed = false;
  const closers: (() => void)[] = [];
  const max = opts.maxPendingBytes ?? MAX_PENDING_BYTES;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const fn of closers) fn();
    if (!res.writableEnded) res.end();
  };
  const write = (chunk: string): boolean => {
    if (closed) return false;
    res.write(chunk);
    if (res.writableLength > max) {
      req.log.info({ path: req.url.split('?')[0], pending: res.writableLength }, 'SSE client too slow; disconnecting it');
      close();
      res.destroy();
      return false;
    }
    return true;
  };
  const heartbeat = setInterval(() => write(': ping\n\n'), opts.heartbeatMs ?? HEARTBEAT_MS);
  heartbeat.unref();
  res.on('close', close);
  write(': ok\n\n');
  const stream: SseStream = {
    send(data, o = {}) {
      const head = `${o.id !== undefined ? `id: ${o.id}\n` : ''}${o.event ? `event: ${o.event}\n` : ''}`;
      return write(`${head}data: ${JSON.stringify(data)}\n\n`);
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
  closers.push(() => registry.delete(stream));
  return stream;
}

// One structured access line per request with the gate's verdict (ip, origin, country).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log/index.js';
import { pathOf } from './context.js';

declare module 'fastify' {
  interface FastifyInstance {
    accessLog: AccessLog;
  }
}

/**
 * Routine answers are logged at debug (as in caic); refusals and errors at info, 5xx at error.
 * When debug is off, no onResponse hook exists at all (it costs on every request); the error
 * paths (`sendError`, the error handlers) call `noteError` so their lines are still written.
 */
export class AccessLog {
  private readonly routine: boolean;
  /** socket.bytesWritten when each logged answer began; the line reports the difference. */
  private readonly starts = new WeakMap<FastifyRequest, number>();

  constructor(private readonly logger: Logger) {
    this.routine = logger.isLevelEnabled('debug');
  }

  get logsRoutine(): boolean {
    return this.routine;
  }

  /** Routine mode: remember where this request's bytes start. */
  noteStart(req: FastifyRequest): void {
    if (!this.starts.has(req)) this.starts.set(req, req.raw.socket.bytesWritten);
  }

  /** Replies whose line is already promised by a close listener. */
  private readonly promised = new WeakSet<FastifyReply>();

  /**
   * An error answer is on its way: make sure it gets a line even when routine lines are off.
   * `unrouted`: answered outside routing (a bad URL), where Fastify runs no onResponse hook.
   */
  noteError(reply: FastifyReply, unrouted = false): void {
    this.noteStart(reply.request);
    if ((this.routine && !unrouted) || this.promised.has(reply)) return;
    this.promised.add(reply);
    reply.raw.once('close', () => this.write(reply.request, reply));
  }

  write(req: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const client = req.client;
    const line = {
      ip: client?.ip ?? req.raw.socket.remoteAddress,
      origin: client?.origin ?? '',
      country: client?.country ?? null,
      method: req.method,
      path: pathOf(req.url),
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      bytes: req.raw.socket.bytesWritten - (this.starts.get(req) ?? req.raw.socket.bytesWritten),
      ...(req.user ? { user: req.user.username } : {}),
    };
    if (status >= 500) this.logger.error(line, 'request');
    else if (status >= 400 || (client && !client.allowed)) this.logger.info(line, 'request');
    else this.logger.debug(line, 'request');
  }
}

export function installAccessLog(app: FastifyInstance, logger: Logger): void {
  const log = new AccessLog(logger);
  app.decorate('accessLog', log);
  if (log.logsRoutine) {
    // Debug mode only: these hooks cost on every request.
    app.addHook('onRequest', (req, _reply, done) => {
      log.noteStart(req);
      done();
    });
    app.addHook('onResponse', (req, reply, done) => {
      log.write(req, reply);
      done();
    });
  }
}

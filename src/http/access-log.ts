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

  constructor(private readonly logger: Logger) {
    this.routine = logger.isLevelEnabled('debug');
  }

  get logsRoutine(): boolean {
    return this.routine;
  }

  /** An error answer is on its way: make sure it gets a line even when routine lines are off. */
  noteError(reply: FastifyReply): void {
    if (!this.routine) reply.raw.once('close', () => this.write(reply.request, reply));
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
      bytes: client ? req.raw.socket.bytesWritten - client.startBytes : undefined,
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
    app.addHook('onResponse', (req, reply, done) => {
      log.write(req, reply);
      done();
    });
  }
}

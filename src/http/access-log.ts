// One structured access line per request with the gate's verdict (ip, origin, country).
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log/index.js';
import { pathOf } from './context.js';

export function installAccessLog(app: FastifyInstance, logger: Logger): void {
  app.addHook('onResponse', (req, reply, done) => {
    const status = reply.statusCode;
    const client = req.client;
    const routine = status < 400 && client?.allowed !== false;
    if (routine && !logger.isLevelEnabled('debug')) return done(); // skip building a line nobody reads
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
    // Routine traffic is debug (as in caic); denials and client errors are info so they show by default.
    if (status >= 500) logger.error(line, 'request');
    else if (routine) logger.debug(line, 'request');
    else logger.info(line, 'request');
    done();
  });
}

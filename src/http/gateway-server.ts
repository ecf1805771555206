// buildGatewayServer: the standalone voice gateway's Fastify app (gate → headers → CORS → the rtc routes and /healthz), without listening.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { routes, type RouteDef } from '../api/index.js';
import type { Logger } from '../log/index.js';
import { installAccessLog } from './access-log.js';
import { createClientErrorHandler, createFrameworkErrorHandler } from './edge.js';
import { installErrorHandlers, sendError } from './errors.js';
import { createGateStep } from './gate/hook.js';
import type { Gate } from './gate/index.js';
import { applySecurityHeaders } from './headers.js';
import { routeOptions } from './routes/define.js';
import { voiceRtcRoutes, type VoiceRtcRouteDeps } from './routes/voice-rtc.js';

export interface GatewayServerDeps {
  logger: Logger;
  gate: Gate;
  gateway: VoiceRtcRouteDeps;
  /** Bytes of a request body (an SDP offer is a few kilobytes; the schema caps it at 64 KiB). */
  bodyLimit?: number;
}

/**
 * CORS for a browser page on a caic host's origin. Any origin may call, without credentials: the
 * gateway reads no cookie and trusts only the bearer token in the request, which a page can only
 * send if it got one from its caic host, so an answer to another origin gives nothing away.
 */
function applyCors(req: FastifyRequest, reply: FastifyReply): void {
  const origin = req.headers.origin;
  if (!origin) return;
  reply.header('access-control-allow-origin', origin);
  reply.header('vary', 'Origin');
  reply.header('access-control-expose-headers', 'www-authenticate');
}

/**
 * The standalone gateway: no login, no sessions, no cookies, no web UI; the edge's gate, security
 * headers, error envelope and access log, and only the rtc routes (voice tokens) and /healthz.
 */
export async function buildGatewayServer(deps: GatewayServerDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? 128 * 1024;
  const baseLogger: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance: baseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (parent) => parent,
    bodyLimit,
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestTimeout: 30_000,
    http: { headersTimeout: 10_000, requireHostHeader: false },
    clientErrorHandler: createClientErrorHandler(deps.gate, deps.logger),
    frameworkErrors: createFrameworkErrorHandler(deps.gate),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const gateStep = createGateStep(deps.gate);
  app.decorateRequest('client', null);
  app.decorateRequest('user', null);
  app.addHook('onRequest', (req, reply, done) => {
    if (!gateStep(req, reply)) return;
    applySecurityHeaders(req, reply);
    applyCors(req, reply);
    done();
  });
  installAccessLog(app, deps.logger);
  installErrorHandlers(app, bodyLimit);
  app.route({ ...routeOptions(routes.healthz), handler: () => ({ status: 'ok' as const }) });
  voiceRtcRoutes(app, deps.gateway);
  // The preflights the route table declares (routes with `cors`), answered as the document says.
  for (const def of Object.values(routes) as RouteDef[]) {
    const cors = def.cors;
    if (!cors) continue;
    app.route({
      method: 'OPTIONS',
      url: def.path,
      config: { access: 'public' },
      handler: (req, reply) => {
        if (!req.headers.origin) return sendError(reply, 'METHOD_NOT_ALLOWED', `OPTIONS is for CORS preflights; use ${def.method} on ${def.path}`);
        return reply
          .code(204)
          .header('access-control-allow-methods', cors.methods)
          .header('access-control-allow-headers', cors.headers)
          .header('access-control-max-age', '600')
          .send();
      },
    });
  }
  return app;
}

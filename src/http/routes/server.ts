// Routes: /healthz, /readyz and the public /api/v1/server/config capability document.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes, type ServerConfigResp } from '../../api/index.js';
import { routeOptions } from './define.js';

export interface ServerRoutesOptions {
  /** The capability document for this caller (public: some fields only for a signed-in caller). */
  serverConfig: (req: FastifyRequest) => ServerConfigResp;
  /** Named readiness checks; each answers "ok" or why it is not ready. */
  readiness: () => Promise<Record<string, string>>;
}

export function serverRoutes(app: FastifyInstance, opts: ServerRoutesOptions): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.route({ ...routeOptions(routes.healthz), handler: () => ({ status: 'ok' as const }) });
  r.route({
    ...routeOptions(routes.readyz),
    handler: async (_req, reply) => {
      const checks = await opts.readiness();
      const ok = Object.values(checks).every((v) => v === 'ok');
      // 503 carries the same body as 200; the route table only types the 200 answer.
      return reply.code((ok ? 200 : 503) as 200).send({ status: ok ? 'ok' : 'unavailable', checks });
    },
  });
  r.route({ ...routeOptions(routes.serverConfig), handler: (req) => opts.serverConfig(req) });
}

// Route: GET /api/v1/server/doctor, the engine's health and what clean-up would remove (the Settings "Server health" panel).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes, type DoctorResp } from '../../api/index.js';
import { routeOptions } from './define.js';

export interface HygieneRouteDeps {
  /**
   * The report for a caller: `viewer` is the signed-in user's id with login on (containers and task
   * actions of other users are counted, not named), null without login.
   */
  report(viewer: string | null): Promise<DoctorResp>;
  authEnabled: boolean;
}

export function hygieneRoutes(app: FastifyInstance, deps: HygieneRouteDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.route({
    ...routeOptions(routes.serverDoctor),
    handler: async (req, reply) => {
      reply.header('cache-control', 'no-store');
      // With login on, the edge lets only signed-in callers through to a `user` route.
      return deps.report(deps.authEnabled ? (req.user?.id ?? '\0nobody') : null);
    },
  });
}

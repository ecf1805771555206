// Routes: a task's previews (detected ports, one-time open links); the preview hosts themselves
// are served by PreviewService.dispatch from the edge.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes } from '../../api/index.js';
import type { Caller } from '../../tasks/index.js';
import type { PreviewService } from '../preview/service.js';
import { routeOptions } from './define.js';

function callerOf(req: FastifyRequest): Caller | null {
  return req.user ? { id: req.user.id, username: req.user.username } : null;
}

export function previewRoutes(app: FastifyInstance, previews: PreviewService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.route({ ...routeOptions(routes.taskPreviews), handler: (req) => previews.ports(req, req.params.id, callerOf(req)) });
  r.route({
    ...routeOptions(routes.taskPreviewOpen),
    handler: (req, reply) => (reply.header('cache-control', 'no-store'), previews.open(req, req.params.id, req.params.port, callerOf(req))),
  });
}

// Routes: review comments on a task's diff (list, add, edit, delete, send) and restarting or
// forking a task from one of its user messages. The task service checks ownership and states.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes } from '../../api/index.js';
import type { Caller, TaskService } from '../../tasks/index.js';
import { routeOptions } from './define.js';

function callerOf(req: FastifyRequest): Caller | null {
  return req.user ? { id: req.user.id, username: req.user.username } : null;
}

export function reviewRoutes(app: FastifyInstance, service: TaskService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.route({ ...routeOptions(routes.reviewList), handler: async (req) => ({ comments: await service.reviewList(req.params.id, callerOf(req)) }) });
  r.route({ ...routeOptions(routes.reviewAdd), handler: (req) => service.reviewAdd(req.params.id, req.body, callerOf(req)) });
  r.route({ ...routeOptions(routes.reviewEdit), handler: (req) => service.reviewEdit(req.params.id, req.params.commentId, req.body.body, callerOf(req)) });
  r.route({
    ...routeOptions(routes.reviewDelete),
    handler: async (req) => (await service.reviewDelete(req.params.id, req.params.commentId, callerOf(req)), { status: 'deleted' }),
  });
  r.route({
    ...routeOptions(routes.reviewSend),
    handler: async (req) => ({ status: 'sent' as const, sent: await service.reviewSend(req.params.id, callerOf(req)) }),
  });
  r.route({
    ...routeOptions(routes.taskRestartFrom),
    handler: async (req) => (await service.restartFrom(req.params.id, req.body.eventId, req.body.prompt, callerOf(req)), { status: 'restarted' }),
  });
  r.route({ ...routeOptions(routes.taskFork), handler: (req) => service.fork(req.params.id, req.body.eventId, req.body.prompt, callerOf(req)) });
}

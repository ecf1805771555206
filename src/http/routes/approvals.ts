// Routes: tool calls that wait for a person (per task and across the caller's tasks) and their answers. The task service checks ownership.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes } from '../../api/index.js';
import type { Caller, TaskService } from '../../tasks/index.js';
import { routeOptions } from './define.js';

function callerOf(req: FastifyRequest): Caller | null {
  return req.user ? { id: req.user.id, username: req.user.username } : null;
}

export function approvalRoutes(app: FastifyInstance, service: TaskService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.route({ ...routeOptions(routes.taskApprovals), handler: async (req) => ({ approvals: await service.approvalsOf(req.params.id, callerOf(req)) }) });
  r.route({ ...routeOptions(routes.answerApproval), handler: (req) => service.answerApproval(req.params.id, req.params.requestId, req.body, callerOf(req)) });
  r.route({ ...routeOptions(routes.listApprovals), handler: (req) => ({ approvals: service.pendingApprovals(callerOf(req)) }) });
}

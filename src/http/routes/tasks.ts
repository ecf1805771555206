// Routes: tasks (CRUD, operations, diff, sync, tool inputs) and their event streams (SSE).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes } from '../../api/index.js';
import type { Caller, TaskService } from '../../tasks/index.js';
import type { ForgeService } from '../../forge/index.js';
import type { EventMessage, TaskListEvent } from '../../api/index.js';
import { openSse, sseFrame } from '../sse.js';
import { routeOptions } from './define.js';

/**
 * Every subscriber gets the same event objects (a task's events, task-list changes): serialise
 * each once. Task events carry their id as the SSE id.
 */
const frames = new WeakMap<object, string>();
function frameOf(e: EventMessage | TaskListEvent): string {
  let f = frames.get(e);
  if (f === undefined) {
    f = sseFrame(e, 'id' in e && typeof e.id === 'number' ? { id: e.id } : {});
    frames.set(e, f);
  }
  return f;
}

function callerOf(req: FastifyRequest): Caller | null {
  return req.user ? { id: req.user.id, username: req.user.username } : null;
}

function lastEventId(req: FastifyRequest): number {
  const header = req.headers['last-event-id'];
  const value = Array.isArray(header) ? header[0] : header;
  const n = Number(value ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

export function taskRoutes(app: FastifyInstance, service: TaskService, forge: ForgeService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const ok = (status: string) => ({ status });

  r.route({ ...routeOptions(routes.listTasks), handler: (req) => service.list(callerOf(req)) });
  // The forge side reads an issue into the prompt first, then hands the task to the task service.
  r.route({ ...routeOptions(routes.createTask), handler: (req) => forge.create(req.body, callerOf(req)) });
  r.route({ ...routeOptions(routes.getTask), handler: (req) => service.get(req.params.id, callerOf(req)) });
  r.route({ ...routeOptions(routes.renameTask), handler: (req) => service.rename(req.params.id, req.body.title, callerOf(req)) });

  r.route({
    ...routeOptions(routes.taskListEvents),
    handler: (req, reply) => {
      const sse = openSse(req, reply);
      const { snapshot, unsubscribe } = service.subscribeList(callerOf(req), (event) => sse.sendFrame(frameOf(event)));
      sse.onClose(unsubscribe);
      sse.send({ type: 'snapshot', tasks: snapshot });
    },
  });

  r.route({
    ...routeOptions(routes.taskEvents),
    handler: async (req, reply) => {
      const after = lastEventId(req);
      let sse: ReturnType<typeof openSse> | null = null;
      const pending: Parameters<Parameters<TaskService['subscribe']>[3]>[0][] = [];
      // Subscribing may replay a log (async); errors (404/403) still answer as JSON.
      const { history, unsubscribe } = await service.subscribe(req.params.id, callerOf(req), after, (events) => {
        if (sse) for (const e of events) sse.sendFrame(frameOf(e));
        else pending.push(events);
      });
      sse = openSse(req, reply);
      sse.onClose(unsubscribe);
      for (const e of history) sse.sendFrame(frameOf(e), true);
      for (const events of pending) for (const e of events) sse.sendFrame(frameOf(e), true);
      sse.send({}, { event: 'ready' });
    },
  });

  r.route({ ...routeOptions(routes.taskInput), handler: async (req) => (await service.input(req.params.id, req.body.prompt, callerOf(req)), ok('sent')) });
  r.route({
    ...routeOptions(routes.taskRestart),
    handler: async (req) => (await service.restart(req.params.id, req.body.prompt, callerOf(req)), ok('restarted')),
  });
  r.route({ ...routeOptions(routes.taskClearContext), handler: async (req) => (await service.clearContext(req.params.id, callerOf(req)), ok('cleared')) });
  r.route({
    ...routeOptions(routes.taskCompact),
    handler: async (req) => (await service.compact(req.params.id, req.body.instructions, callerOf(req)), ok('compacting')),
  });
  r.route({ ...routeOptions(routes.taskInterrupt), handler: async (req) => ok(await service.interrupt(req.params.id, callerOf(req))) });
  r.route({ ...routeOptions(routes.taskStop), handler: async (req) => (await service.stop(req.params.id, callerOf(req)), ok('stopped')) });
  r.route({ ...routeOptions(routes.taskRevive), handler: async (req) => (await service.revive(req.params.id, callerOf(req)), ok('running')) });
  r.route({ ...routeOptions(routes.taskPurge), handler: async (req) => (await service.purge(req.params.id, callerOf(req)), ok('purged')) });
  r.route({
    ...routeOptions(routes.taskSync),
    handler: (req) => forge.sync(req.params.id, req.body, callerOf(req)),
  });
  r.route({ ...routeOptions(routes.taskDiff), handler: (req) => service.diff(req.params.id, req.query.path, callerOf(req)) });
  // A password: never kept by a cache or a proxy.
  r.route({ ...routeOptions(routes.taskSudoPassword), handler: (req) => service.sudoPassword(req.params.id, callerOf(req)) });
  r.route({ ...routeOptions(routes.taskToolInput), handler: (req) => service.toolInput(req.params.id, req.params.toolUseId, callerOf(req)) });
}

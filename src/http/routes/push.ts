// Routes: Web Push: the VAPID public key, the caller's subscriptions (list, add, remove) and a test push.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes, type PushSubscribeReq, type PushSubscription } from '../../api/index.js';
import { DEFAULT_USER } from '../../config/index.js';
import { sendError } from '../errors.js';
import { routeOptions } from './define.js';

/** What the routes need of src/push (the daemon hands in its PushService). */
export interface PushRouteDeps {
  publicKey(): Promise<string>;
  list(userId: string): Promise<PushSubscription[]>;
  /** Rejects with `{ invalid: message }` for an endpoint or keys caic refuses. */
  subscribe(userId: string, req: PushSubscribeReq): Promise<PushSubscription | { invalid: string }>;
  unsubscribe(userId: string, by: { id?: string | undefined; endpoint?: string | undefined }): Promise<boolean>;
  test(userId: string): Promise<number>;
}

export function pushRoutes(app: FastifyInstance, deps: PushRouteDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // Without login every request is the local user's, as for preferences and voice.
  const userOf = (req: { user?: { id: string } | null }) => req.user?.id ?? DEFAULT_USER;
  r.route({ ...routeOptions(routes.pushKey), handler: async () => ({ publicKey: await deps.publicKey() }) });
  r.route({ ...routeOptions(routes.pushList), handler: async (req) => ({ subscriptions: await deps.list(userOf(req)) }) });
  r.route({
    ...routeOptions(routes.pushSubscribe),
    handler: async (req, reply) => {
      const out = await deps.subscribe(userOf(req), req.body);
      if ('invalid' in out) return sendError(reply, 'BAD_REQUEST', out.invalid);
      return out;
    },
  });
  r.route({
    ...routeOptions(routes.pushUnsubscribe),
    handler: async (req) => ({ removed: await deps.unsubscribe(userOf(req), { id: req.body.id, endpoint: req.body.endpoint }) }),
  });
  r.route({ ...routeOptions(routes.pushTest), handler: async (req) => ({ sent: await deps.test(userOf(req)) }) });
}

// Routes: the caller's secrets (the vault): list names and dates, set or rotate a value, delete; values never go out.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes, type ErrorCode, type SecretMeta } from '../../api/index.js';
import { DEFAULT_USER } from '../../config/index.js';
import { sendError } from '../errors.js';
import { routeOptions } from './define.js';

/** What the routes need of src/vault (the daemon hands in its SecretVault). Refusals carry an envelope code. */
export interface SecretsRouteDeps {
  list(userId: string): Promise<SecretMeta[]>;
  set(userId: string, name: string, value: string): Promise<SecretMeta>;
  delete(userId: string, name: string): Promise<void>;
}

function refusal(err: unknown): { code: ErrorCode; message: string } | null {
  const e = err as { code?: unknown; message?: unknown };
  return e && (e.code === 'NOT_FOUND' || e.code === 'CONFLICT' || e.code === 'BAD_REQUEST') && typeof e.message === 'string' ? { code: e.code, message: e.message } : null;
}

export function secretRoutes(app: FastifyInstance, deps: SecretsRouteDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // Without login every request is the local user's, as for preferences and push.
  const userOf = (req: { user?: { id: string } | null }) => req.user?.id ?? DEFAULT_USER;
  /** The vault's refusals (unknown name, too many, a vault that cannot be read) as their 4xx. */
  const guarded = async <T>(reply: FastifyReply, fn: () => Promise<T>) => {
    try {
      return await fn();
    } catch (err) {
      const r = refusal(err);
      if (r) return sendError(reply, r.code, r.message);
      throw err;
    }
  };
  // Names are not secret, but the list is the caller's own: never kept by a cache.
  r.route({
    ...routeOptions(routes.listSecrets),
    handler: (req, reply) => guarded(reply, async () => (reply.header('cache-control', 'no-store'), { secrets: await deps.list(userOf(req)) })),
  });
  r.route({ ...routeOptions(routes.setSecret), handler: (req, reply) => guarded(reply, () => deps.set(userOf(req), req.params.name, req.body.value)) });
  r.route({
    ...routeOptions(routes.deleteSecret),
    handler: (req, reply) => guarded(reply, async () => (await deps.delete(userOf(req), req.params.name), { status: 'deleted' as const })),
  });
}

// The connected-apps routes: list and revoke the caller's OAuth grants (route table entries in src/api).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { LOCAL_ACCOUNT, routes } from '../api/index.js';
import { routeOptions, sendError } from '../http/index.js';
import type { OAuthServer } from './server.js';

export function grantRoutes(app: FastifyInstance, server: OAuthServer, loginEnabled: boolean): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // With login, requireUser has run: req.user is set. Without it, everything is the local account's.
  const accountOf = (user: { id: string } | null) => (loginEnabled ? user?.id : LOCAL_ACCOUNT);
  r.route({
    ...routeOptions(routes.oauthGrants),
    handler: (req, reply) => {
      const account = accountOf(req.user);
      if (!account) {
        sendError(reply, 'UNAUTHORIZED', 'sign-in required');
        return undefined;
      }
      reply.header('cache-control', 'no-store');
      return { grants: server.grants(account).map(({ accountId: _a, ...g }) => g) };
    },
  });
  r.route({
    ...routeOptions(routes.oauthGrantRevoke),
    handler: async (req, reply) => {
      const account = accountOf(req.user);
      if (!account) return sendError(reply, 'UNAUTHORIZED', 'sign-in required');
      // Another user's grant answers exactly like an unknown one.
      if (!(await server.revokeGrant(account, req.params.id))) return sendError(reply, 'NOT_FOUND', 'no such grant');
      return { status: 'revoked' };
    },
  });
}

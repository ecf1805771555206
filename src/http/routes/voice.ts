// Route: GET /api/v1/voice/token, a voice token for the signed-in user (or the local user without login).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes, type VoiceStatus, type VoiceTokenResp } from '../../api/index.js';
import { DEFAULT_USER } from '../../config/index.js';
import { effectiveHost, isHttps } from '../context.js';
import { sendError } from '../errors.js';
import { routeOptions } from './define.js';

/** What the route needs of src/voice (the daemon hands in its VoiceTokenService). */
export interface VoiceRouteDeps {
  status: VoiceStatus;
  /** Called only while voice is enabled. */
  token(sub: string, requestOrigin: string | null): Promise<VoiceTokenResp>;
}

/** The origin the client used to reach us (the host lock has vetted the host); null when the request does not say. */
function requestOrigin(req: FastifyRequest): string | null {
  const host = effectiveHost(req);
  // Only a bare host[:port]: anything that would make a URL say more (a path, credentials) is not an origin.
  if (!host || /[/?#@\\\s]/.test(host)) return null;
  try {
    return new URL(`${isHttps(req) ? 'https' : 'http'}://${host}`).origin;
  } catch {
    return null;
  }
}

export function voiceRoutes(app: FastifyInstance, deps: VoiceRouteDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.route({
    ...routeOptions(routes.voiceToken),
    handler: async (req, reply) => {
      const { status } = deps;
      // 409, not 503: nothing will change until the configuration does, so a client should not retry.
      if (!status.enabled) return sendError(reply, 'CONFLICT', status.reason, { mode: status.mode });
      return deps.token(req.user?.id ?? DEFAULT_USER, requestOrigin(req));
    },
  });
}

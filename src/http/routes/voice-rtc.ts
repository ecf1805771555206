// Routes: POST /api/v1/voice/rtc/offer and /api/v1/voice/rtc/{sessionId}/close, the voice gateway's signalling (embedded and standalone).
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes, type ErrorCode, type RouteDef, type VoiceRtcCloseResp, type VoiceRtcOfferResp } from '../../api/index.js';
import { sendError } from '../errors.js';
import { routeOptions } from './define.js';

type Result<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

/**
 * What the routes need of a gateway (src/voice's VoiceGateway). Both take the request's
 * Authorization header as it came: the gateway trusts the voice token in it and nothing else (no
 * session, no cookie), and answers every refusal as a result rather than by throwing.
 */
export interface VoiceRtcRouteDeps {
  offer(authorization: string | undefined, sdp: string): Promise<Result<VoiceRtcOfferResp>>;
  close(authorization: string | undefined, sessionId: string): Promise<Result<VoiceRtcCloseResp>>;
}

function answer<T>(reply: FastifyReply, result: Result<T>, def: RouteDef): T | FastifyReply {
  if (result.ok) return result.value;
  if (result.code === 'UNAUTHORIZED' && def.challenge) reply.header('www-authenticate', def.challenge);
  return sendError(reply, result.code, result.message);
}

export function voiceRtcRoutes(app: FastifyInstance, deps: VoiceRtcRouteDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.route({
    ...routeOptions(routes.voiceRtcOffer),
    handler: async (req, reply) => answer(reply, await deps.offer(req.headers.authorization, req.body.sdp), routes.voiceRtcOffer),
  });
  r.route({
    ...routeOptions(routes.voiceRtcClose),
    handler: async (req, reply) => answer(reply, await deps.close(req.headers.authorization, req.params.sessionId), routes.voiceRtcClose),
  });
}

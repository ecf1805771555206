// What both webhook routes share: the raw body (bounded, unparsed), authentication first, replay refusal, then the hook.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ForgeKind } from '../../api/index.js';
import type { ForgeHook } from '../../forge/index.js';
import type { Logger } from '../../log/index.js';
import { sendError } from '../errors.js';
import { deliveryId, type DeliveryLog } from './deliveries.js';

export interface WebhookDeps {
  deliveries: DeliveryLog;
  /** Acts on a verified delivery (src/forge/hooks.ts); a throw makes the forge's redelivery count again. */
  handle: (hook: ForgeHook) => Promise<void>;
  logger: Logger;
}

export interface WebhookRouteSpec {
  path: string;
  forge: ForgeKind;
  bodyLimit: number;
  deps: WebhookDeps;
  /** Checks the request's credential against the raw bytes; answers (401) and gives null when it fails, else the body as text. */
  authenticate: (req: FastifyRequest, reply: FastifyReply, raw: Buffer) => Promise<string | null>;
  event: (req: FastifyRequest) => string;
  delivery: (req: FastifyRequest) => string | string[] | undefined;
  known: (event: string) => boolean;
  /** Throws PayloadError-like errors (message shown) for a payload that is not its event. */
  toHook: (event: string, payload: unknown) => ForgeHook | null;
}

/** The JSON of a delivery: the body itself, or GitHub's form encoding (`payload=<json>`). */
function payloadText(req: FastifyRequest, text: string): string | null {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return new URLSearchParams(text).get('payload');
  return text;
}

/**
 * Registers one webhook route in its own scope, where no content-type parser but a byte reader
 * exists: nothing can parse the body before the route has authenticated it, and the reader stops
 * at `bodyLimit` (a declared length above it is refused before a byte is read).
 */
export function registerWebhookRoute(app: FastifyInstance, spec: WebhookRouteSpec): void {
  const { deps } = spec;
  void app.register((scope, _opts, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: spec.bodyLimit }, (_req, body, done) => done(null, body));
    scope.post(
      spec.path,
      {
        bodyLimit: spec.bodyLimit,
        config: { access: 'public' },
        errorHandler: (err: FastifyError, _req, reply) => {
          if (err.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') throw err;
          sendError(reply, 'PAYLOAD_TOO_LARGE', `request body is larger than ${spec.bodyLimit} bytes`);
        },
      },
      async (req, reply) => {
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const text = await spec.authenticate(req, reply, raw);
        if (text === null) return reply;
        const event = spec.event(req);
        if (!spec.known(event)) return reply.code(204).send();
        let payload: unknown;
        try {
          const json = payloadText(req, text);
          if (json === null) throw new SyntaxError('no payload field');
          payload = JSON.parse(json);
        } catch {
          return sendError(reply, 'BAD_REQUEST', 'the body is not valid JSON');
        }
        let hook: ForgeHook | null;
        try {
          hook = spec.toHook(event, payload);
        } catch (err) {
          return sendError(reply, 'BAD_REQUEST', (err as Error).message);
        }
        const id = deliveryId(spec.delivery(req));
        const key = id ? `${spec.forge}:${id}` : null;
        if (key && !deps.deliveries.claim(key)) {
          deps.logger.info({ forge: spec.forge, event, delivery: id }, 'webhook delivery seen before; ignored');
          return reply.code(204).send();
        }
        if (!hook) return reply.code(204).send();
        try {
          await deps.handle(hook);
        } catch (err) {
          if (key) deps.deliveries.release(key);
          deps.logger.error({ forge: spec.forge, event, delivery: id, err: (err as Error).message }, 'webhook delivery could not be handled');
          return sendError(reply, 'SERVICE_UNAVAILABLE', 'the delivery could not be handled now; redeliver it later');
        }
        return reply.code(204).send();
      },
    );
    done();
  });
}

// Every failure leaves as the JSON error envelope (or a small HTML page for browser navigations).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { codeForStatus, errorBody, statusOfCode, type ErrorCode } from '../api/index.js';
import { ContainerError, DockerUnavailableError } from '../containers/index.js';
import { TaskError } from '../tasks/index.js';
import { pathOf } from './context.js';
import { COMMON_SECURITY_HEADERS, htmlHeaders } from './headers.js';

/**
 * A refusal that leaves a request body unread closes the connection: otherwise Node reads and
 * discards the rest of the body to keep the connection alive, for as long as the client drips it.
 */
function closeIfBodyUnread(reply: FastifyReply): void {
  if (!reply.request.raw.complete) reply.header('connection', 'close');
}

/** Every error answer leaves through here: JSON envelope, security headers, an access line. */
function sendEnvelope(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  // Set here too: the gate may refuse a request before the security headers are applied.
  reply.headers(COMMON_SECURITY_HEADERS);
  closeIfBodyUnread(reply);
  reply.server.accessLog?.noteError(reply);
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

export function sendError(reply: FastifyReply, code: ErrorCode, message: string, details?: Record<string, unknown>): FastifyReply {
  return sendEnvelope(reply, statusOfCode[code], errorBody(code, message, details));
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A minimal styled page; used where a person's browser lands (login callback, status page). */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · caic</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2228;background:#fafbfc}
@media (prefers-color-scheme:dark){body{color:#e6e8eb;background:#15181c}a{color:#7cb7ff}}
h1{font-size:1.4rem}code{font-size:.9em}.btn{display:inline-block;margin:.25rem .5rem .25rem 0;padding:.5rem 1rem;border-radius:6px;background:#24292f;color:#fff;text-decoration:none}</style>
</head><body>${body}</body></html>`;
}

function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html');
}

/** Browser navigations get a readable page with the same status; API clients get the envelope. */
export function sendErrorPage(req: FastifyRequest, reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  if (!wantsHtml(req)) return sendError(reply, code, message);
  const page = htmlPage('Sign-in failed', `<h1>Sign-in failed</h1><p>${escapeHtml(message)}</p><p><a href="/">Back to caic</a></p>`);
  closeIfBodyUnread(reply);
  reply.server.accessLog?.noteError(reply);
  return htmlHeaders(reply.code(statusOfCode[code])).send(page);
}

/** A path is repeated in an answer only when it is short and plain; anything else is not reflected. */
function echoablePath(path: string): string {
  return /^\/[\w\-./@+~%]{0,120}$/.test(path) ? path : '(this path)';
}

const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type; send application/json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'request body is empty but content-type is application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'content-length does not match the body',
};

/**
 * Gets the first chance at a request no route matched (the web UI's index.html for its own
 * routes); returns true when it answered, false to leave the 404 envelope.
 */
export type NotFoundFallback = (req: FastifyRequest, reply: FastifyReply) => boolean;

export function installErrorHandlers(app: FastifyInstance, bodyLimit: number, notFoundFallback?: NotFoundFallback): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof TaskError) return sendError(reply, err.code, err.message, err.details);
    if (err instanceof DockerUnavailableError) return sendError(reply, 'SERVICE_UNAVAILABLE', err.message);
    if (err instanceof ContainerError) return sendError(reply, 'CONFLICT', err.message);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({ path: v.instancePath, message: v.message }));
      const where = err.validationContext ?? 'request';
      const first = issues[0]!;
      const message = `invalid ${where}: ${first.path === '/' ? '' : `${first.path.slice(1).replaceAll('/', '.')}: `}${first.message}`;
      return sendError(reply, 'BAD_REQUEST', message, { issues });
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err, method: req.method, url: req.routeOptions.url }, 'request failed');
      return sendEnvelope(reply, 500, errorBody('INTERNAL_ERROR', 'internal error'));
    }
    let message = FASTIFY_MESSAGES[err.code] ?? err.message;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `request body is larger than ${bodyLimit} bytes`;
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) message = 'request body is not valid JSON';
    return sendEnvelope(reply, status, errorBody(codeForStatus(status), message));
  });
  // One handler for every unmatched request, so the fallback and the 404 envelope cannot disagree on order.
  app.setNotFoundHandler((req, reply) => {
    if (notFoundFallback?.(req, reply)) return reply;
    return sendError(reply, 'NOT_FOUND', `no route for ${req.method} ${echoablePath(pathOf(req.url))}`);
  });
}

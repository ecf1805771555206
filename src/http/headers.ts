// Security headers on every response; the CSP goes on HTML pages, HSTS only when the client used HTTPS.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isHttps } from './context.js';

// img-src allows blob: because the UI previews pasted images from object URLs before upload.
// connect-src may name more origins: a standalone voice gateway, which the UI calls to open a session.
// worker-src and manifest-src: the installable app's service worker (/sw.js) and manifest, same origin only.
// frame-src may name app previews' hosts (their own origins), which the task view shows in a side panel.
const csp = (connect: readonly string[], frames: readonly string[] = []) =>
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; " +
  `connect-src ${["'self'", ...connect].join(' ')}; ${frames.length ? `frame-src ${frames.join(' ')}; ` : ''}worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;
const CSP = csp([]);

/** On every response. Framing headers only matter for documents, so they go on HTML alone. */
export const COMMON_SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

/**
 * Marks a reply as an HTML page: content security policy and framing refusal. Every HTML sender
 * calls it. `connectOrigins` (URL origins, nothing else) are origins the page may fetch from;
 * `frameSources` (CSP host sources) are what it may show in frames.
 */
export function htmlHeaders(reply: FastifyReply, connectOrigins: readonly string[] = [], frameSources: readonly string[] = []): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', connectOrigins.length || frameSources.length ? csp(connectOrigins, frameSources) : CSP)
    .header('x-frame-options', 'DENY');
}

/**
 * The headers step of the edge hook. Headers are set when the request arrives rather than in an
 * onSend hook: an onSend hook sends every response through Fastify's slower path (measured: about
 * a quarter fewer requests per second).
 */
export function applySecurityHeaders(req: FastifyRequest, reply: FastifyReply): void {
  reply.headers(COMMON_SECURITY_HEADERS);
  if (isHttps(req)) reply.header('strict-transport-security', 'max-age=31536000');
}

// Security headers on every response; the CSP goes on HTML, HSTS only when the client used HTTPS.
import type { FastifyInstance } from 'fastify';
import { isHttps } from './context.js';

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('text/html')) reply.header('content-security-policy', CSP);
    if (isHttps(req)) reply.header('strict-transport-security', 'max-age=31536000');
    done(null, payload);
  });
}

// onRequest hooks after the gate: host lock, cross-site refusal, session loading, and requireUser.
import type {} from '@fastify/cookie'; // request.cookies typing
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { effectiveHost, isHttps } from '../context.js';
import { sendError } from '../errors.js';
import type { HostLock } from './host-lock.js';
import { SESSION_COOKIE, type SessionManager } from './session.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session token a request presents: `Authorization: Bearer` first, else the cookie. */
export function presentedToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  return req.cookies[SESSION_COOKIE];
}

/**
 * A state-changing request that a browser marks as coming from another site is refused: with
 * no-auth mode on localhost, nothing else would stop a web page from driving the daemon.
 */
export function isCrossSite(req: FastifyRequest): boolean {
  if (SAFE_METHODS.has(req.method)) return false;
  if (req.headers['sec-fetch-site'] === 'cross-site') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false; // not a browser, or a same-origin navigation of an old browser
  if (origin === 'null') return true;
  try {
    return new URL(origin).host.toLowerCase() !== (effectiveHost(req) ?? '').toLowerCase();
  } catch {
    return true;
  }
}

export interface AuthHookOptions {
  hostLock: HostLock;
  /** Null in no-auth mode: every route is open and no token is read. */
  sessions: SessionManager | null;
}

export function installAuthHooks(app: FastifyInstance, { hostLock, sessions }: AuthHookOptions): void {
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (req, reply) => {
    if (!hostLock.check(effectiveHost(req), isHttps(req) ? 'https' : 'http')) {
      return sendError(reply, 'FORBIDDEN', 'invalid host: this server answers a different hostname');
    }
    if (isCrossSite(req)) {
      return sendError(reply, 'FORBIDDEN', 'cross-site request refused');
    }
    if (!sessions) return;
    const token = presentedToken(req);
    req.user = token ? await sessions.verify(token) : null;
    // requireUser: routes mark themselves public; anything else under /api/ needs a session.
    const url = req.routeOptions.url;
    if (url === undefined) return;
    const access = req.routeOptions.config.access ?? (url.startsWith('/api/') ? 'user' : 'public');
    if (access === 'user' && !req.user) {
      return sendError(reply, 'UNAUTHORIZED', token ? 'session invalid or expired; sign in again' : 'sign-in required');
    }
  });
}

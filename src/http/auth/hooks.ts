// The auth step of the edge hook: host lock, cross-site refusal, session loading, and requireUser.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { effectiveHost, isHttps } from '../context.js';
import { sendError } from '../errors.js';
import type { HostLock } from './host-lock.js';
import { SESSION_COOKIE, type SessionManager } from './session.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** One cookie's value, parsed on demand (most API requests carry a bearer token and no cookies). */
export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  return header ? req.server.parseCookie(header)[name] : undefined;
}

/** The session token a request presents: `Authorization: Bearer` first, else the cookie. */
export function presentedToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return auth.slice(7).trim();
  return readCookie(req, SESSION_COOKIE);
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

export interface AuthStepOptions {
  hostLock: HostLock;
  /** Null in no-auth mode: every route is open and no token is read. */
  sessions: SessionManager | null;
}

/**
 * Returns the auth step. It calls `done` to go on, or answers (403/401) and does not. Known
 * tokens are checked synchronously: this runs on every request.
 */
export function createAuthStep({ hostLock, sessions }: AuthStepOptions) {
  return (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    if (!hostLock.check(effectiveHost(req), isHttps(req) ? 'https' : 'http')) {
      sendError(reply, 'FORBIDDEN', 'invalid host: this server answers a different hostname');
      return;
    }
    if (isCrossSite(req)) {
      sendError(reply, 'FORBIDDEN', 'cross-site request refused');
      return;
    }
    if (!sessions) return done();
    const token = presentedToken(req);
    // requireUser: routes mark themselves public; anything else under /api/ needs a session.
    const requireUser = () => {
      const url = req.routeOptions.url;
      const access = req.routeOptions.config.access ?? (url?.startsWith('/api/') ? 'user' : 'public');
      if (url !== undefined && access === 'user' && !req.user) {
        sendError(reply, 'UNAUTHORIZED', token ? 'session invalid or expired; sign in again' : 'sign-in required');
        return;
      }
      done();
    };
    const known = token ? sessions.cached(token) : null;
    if (known !== undefined) {
      req.user = known;
      return requireUser();
    }
    sessions.verify(token!).then((user) => {
      req.user = user;
      requireUser();
    }, done);
  };
}

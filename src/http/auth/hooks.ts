// The auth step of the edge hook: host lock, cross-site refusal, session loading, and requireUser.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { effectiveHost, isHttps } from '../context.js';
import { sendError } from '../errors.js';
import type { StoredUser } from '../../config/index.js';
import type { Credentials, Presented } from './credentials.js';
import type { HostLock } from './host-lock.js';
import { SESSION_COOKIE } from './session.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/**
 * OAuth endpoints that take no cookie authority (the client authenticates with what it sends:
 * a code and its verifier, a refresh token, a registration token): browser-based MCP clients
 * call them from their own origin, so the cross-site refusal does not apply.
 */
export const CROSS_SITE_EXEMPT = /^\/oauth\/(?:token|register|revoke|introspect|device_authorization)(?:[/?]|$)/;

/** One cookie's value, parsed on demand (most API requests carry a bearer token and no cookies). */
export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  return header ? req.server.parseCookie(header)[name] : undefined;
}

/**
 * Every value of a cookie the request carries, in the order sent. Another host of the same site
 * (an app preview on a sibling domain) can set a cookie of the same name for the parent domain,
 * with a longer path so that browsers send it first: the parser alone would take that one.
 */
export function readCookies(req: FastifyRequest, name: string): string[] {
  const header = req.headers.cookie;
  if (!header || !header.includes(name)) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const v = req.server.parseCookie(part)[name];
    if (v !== undefined) values.push(v);
  }
  return values;
}

/**
 * The credential a request presents: `Authorization: Bearer` first, else the session cookie (with
 * the other values of that cookie, when several were sent; resolvePresented decides among them).
 */
export function presentedCredential(req: FastifyRequest): Presented | undefined {
  const auth = req.headers.authorization;
  if (auth && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return { token: auth.slice(7).trim(), bearer: true };
  const [first, ...others] = readCookies(req, SESSION_COOKIE);
  if (first === undefined) return undefined;
  return others.length ? { token: first, bearer: false, alternates: others } : { token: first, bearer: false };
}

/**
 * The user of a presented credential. Several session cookies: those that do not verify are
 * ignored (a planted junk cookie cannot sign the user out), and valid sessions of two different
 * users are refused (a planted session of another account cannot make the user act as it).
 */
export async function resolvePresented(credentials: Credentials, presented: Presented): Promise<StoredUser | null> {
  if (!presented.alternates) return credentials.verify(presented);
  const users = await Promise.all([presented.token, ...presented.alternates].map((token) => credentials.verify({ token, bearer: false })));
  const valid = users.filter((u): u is StoredUser => u !== null);
  const ids = new Set(valid.map((u) => u.id));
  return ids.size === 1 ? valid[0]! : null;
}

/** The token a request presents (bearer or cookie). */
export function presentedToken(req: FastifyRequest): string | undefined {
  return presentedCredential(req)?.token;
}

/**
 * A state-changing request that a browser marks as coming from another site is refused: with
 * no-auth mode on localhost, nothing else would stop a web page from driving the daemon.
 */
export function isCrossSite(req: FastifyRequest): boolean {
  if (SAFE_METHODS.has(req.method) || CROSS_SITE_EXEMPT.test(req.url)) return false;
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
  credentials: Credentials | null;
}

/**
 * Returns the auth step: host lock, cross-site refusal, then the session (if any) on `req.user`.
 * It calls `done` to go on, or answers 403 and does not. Known tokens are checked synchronously:
 * this runs on every request.
 */
export function createAuthStep({ hostLock, credentials }: AuthStepOptions) {
  return (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    const host = effectiveHost(req);
    // HTTP/1.1 requires Host (RFC 9112 §3.2); Node's own check is off so that this answer, too, comes from the edge.
    if (host === undefined && req.raw.httpVersion === '1.1') {
      sendError(reply, 'BAD_REQUEST', 'missing Host header');
      return;
    }
    if (!hostLock.check(host, isHttps(req) ? 'https' : 'http')) {
      sendError(reply, 'FORBIDDEN', 'invalid host: this server answers a different hostname');
      return;
    }
    if (isCrossSite(req)) {
      sendError(reply, 'FORBIDDEN', 'cross-site request refused');
      return;
    }
    const presented = credentials ? presentedCredential(req) : undefined;
    if (!credentials || !presented) return done();
    const known = presented.alternates ? undefined : credentials.cached(presented);
    if (known !== undefined) {
      req.user = known;
      return done();
    }
    resolvePresented(credentials, presented).then((user) => {
      req.user = user;
      done();
    }, done);
  };
}

/**
 * Whether the credential a request came with still holds: its token has not expired, the session
 * was not ended (or the device unpaired), and its user is still in users.json and allowed.
 * Long-lived answers (event streams) ask again as they go.
 */
export async function sessionHolds(req: FastifyRequest, credentials: Credentials): Promise<boolean> {
  const presented = presentedCredential(req);
  return presented !== undefined && (await resolvePresented(credentials, presented)) !== null;
}

/** The guard of protected routes: 401 unless the edge found a valid session. */
export function requireUser(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (req.user) return done();
  sendError(reply, 'UNAUTHORIZED', presentedToken(req) ? 'session invalid or expired; sign in again' : 'sign-in required');
}

/**
 * Attaches `requireUser` to every route that needs a session: routes mark themselves public;
 * anything else under /api/ is protected. Must run before routes are added. With login off the
 * guard is not attached at all (no-auth mode: every route is open).
 */
export function installRequireUser(app: FastifyInstance, loginEnabled: boolean): void {
  if (!loginEnabled) return;
  app.addHook('onRoute', (route) => {
    const access = route.config?.access ?? (route.url.startsWith('/api/') ? 'user' : 'public');
    if (access !== 'user') return;
    const existing = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : [];
    route.onRequest = [...existing, requireUser];
  });
}

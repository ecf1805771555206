// Routes: OAuth login start/callback for GitHub and GitLab, the app's code redemption, the current user, logout.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes, type AuthProvider, type UserResp } from '../../api/index.js';
import { UserError, type StoredUser, type UserStore } from '../../config/index.js';
import type { Logger } from '../../log/index.js';
import {
  AppHandoff,
  LoginStates,
  OAuthError,
  SESSION_COOKIE,
  STATE_COOKIE,
  STATE_MAX_AGE_SECONDS,
  type OAuthProvider,
  type PendingLogin,
  type Credentials,
  type Presented,
  type SessionManager,
} from '../auth/index.js';
import { presentedCredential, presentedToken, readCookie } from '../auth/hooks.js';
import { isHttps } from '../context.js';
import { sendError, sendErrorPage } from '../errors.js';
import { routeOptions } from './define.js';

export interface AuthRoutesOptions {
  providers: ReadonlyMap<AuthProvider, OAuthProvider>;
  /** Null in no-auth mode. */
  sessions: SessionManager | null;
  /** Sessions and paired devices' tokens; null in no-auth mode. */
  credentials: Credentials | null;
  /** Unpairs every device of a user ("sign out everywhere"); how many. */
  unpairDevices?: (userId: string) => Promise<number>;
  users: UserStore;
  sessionSecret: Buffer;
  /** Explicit https external URL (required by config whenever a provider exists). */
  externalUrl: URL | null;
  /**
   * Until this time (ms since the epoch) an app may still sign in without a PKCE challenge and
   * get the token in the deep link (old app builds); null refuses that at once.
   */
  legacyAppLoginUntil: number | null;
  logger: Logger;
}

export function toUserResp(user: StoredUser): UserResp {
  return { id: user.id, provider: user.provider, username: user.username, avatarURL: user.avatarURL };
}

export function authRoutes(app: FastifyInstance, opts: AuthRoutesOptions): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { providers, sessions, users, sessionSecret, externalUrl, logger } = opts;
  const states = new LoginStates(sessionSecret);
  const handoff = new AppHandoff();
  const legacyUntil = opts.legacyAppLoginUntil;
  const legacyAllowed = () => legacyUntil !== null && Date.now() < legacyUntil;
  const legacyRefused = () =>
    `this app signs in without code_challenge (PKCE S256), which this server refuses${
      legacyUntil === null ? '' : ` since ${new Date(legacyUntil).toISOString().slice(0, 10)}`
    }; update the caic app`;
  const secureState = externalUrl?.protocol === 'https:';
  const redirectUri = (provider: AuthProvider) => `${externalUrl?.origin ?? ''}/api/v1/auth/${provider}/callback`;
  const secureSession = (req: FastifyRequest) => secureState || isHttps(req);

  r.route({
    ...routeOptions(routes.authStart),
    handler: (req, reply) => {
      const provider = providers.get(req.params.provider);
      if (!provider || !sessions) return sendError(reply, 'NOT_FOUND', `login with ${req.params.provider} is not configured`);
      const { return: returnTo = 'web', code_challenge: codeChallenge, code_challenge_method: method, next } = req.query;
      if (next && returnTo !== 'web') return sendErrorPage(req, reply, 'BAD_REQUEST', 'next is only used with return=web');
      if (codeChallenge && returnTo !== 'app') return sendErrorPage(req, reply, 'BAD_REQUEST', 'code_challenge is only used with return=app');
      if (codeChallenge && method !== 'S256') return sendErrorPage(req, reply, 'BAD_REQUEST', 'code_challenge_method must be S256');
      if (returnTo === 'app' && !codeChallenge && !legacyAllowed()) return sendErrorPage(req, reply, 'BAD_REQUEST', legacyRefused());
      const { state, cookie } = states.begin({ returnTo, ...(codeChallenge ? { codeChallenge } : {}), ...(next ? { next } : {}) });
      reply.setCookie(STATE_COOKIE, cookie, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure: secureState,
        maxAge: STATE_MAX_AGE_SECONDS,
      });
      return reply.redirect(provider.authorizeUrl(state, redirectUri(provider.name)), 302);
    },
  });

  r.route({
    ...routeOptions(routes.authCallback),
    handler: async (req, reply) => {
      // One attempt per state, whatever the outcome.
      reply.clearCookie(STATE_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureState });
      const provider = providers.get(req.params.provider);
      if (!provider || !sessions) return sendError(reply, 'NOT_FOUND', `login with ${req.params.provider} is not configured`);
      const { code, state, error, error_description } = req.query;
      // The state first: without it, nothing else in this request is from a sign-in we started.
      const login = states.finish(readCookie(req, STATE_COOKIE), state);
      if (!login) {
        logger.info({ provider: provider.name }, 'login state check failed');
        return sendErrorPage(req, reply, 'BAD_REQUEST', 'login state mismatch or expired; start the sign-in again');
      }
      if (error) {
        logger.info({ provider: provider.name, error }, 'login refused by provider');
        return sendErrorPage(req, reply, 'FORBIDDEN', `${provider.name} did not authorize the login: ${error_description ?? error}`);
      }
      if (!code) return sendErrorPage(req, reply, 'BAD_REQUEST', 'missing authorization code');
      return finishLogin(req, reply, provider, code, login);
    },
  });

  async function finishLogin(
    req: FastifyRequest,
    reply: FastifyReply,
    provider: OAuthProvider,
    code: string,
    login: PendingLogin,
  ): Promise<FastifyReply> {
    let user: StoredUser;
    try {
      const tokens = await provider.exchange(code, redirectUri(provider.name));
      const profile = await provider.profile(tokens);
      if (!provider.isAllowed(profile.username)) {
        logger.warn({ provider: provider.name, username: profile.username }, 'login denied: user not in allowed_users');
        return sendErrorPage(req, reply, 'FORBIDDEN', `${profile.username} is not allowed to use this caic server`);
      }
      user = await users.upsert({
        provider: provider.name,
        providerId: profile.providerId,
        username: profile.username,
        avatarURL: profile.avatarURL,
        name: profile.name,
        email: profile.email,
        accessToken: tokens.accessToken,
        ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}),
        ...(tokens.expiresAt ? { tokenExpiresAt: tokens.expiresAt } : {}),
      });
    } catch (err) {
      if (err instanceof UserError) {
        logger.error({ provider: provider.name, err: err.message }, 'login failed: users.json unusable');
        return sendErrorPage(req, reply, 'SERVICE_UNAVAILABLE', `sign-in is unavailable: ${err.message}`);
      }
      if (!(err instanceof OAuthError)) throw err;
      logger.warn({ provider: provider.name, err: err.message }, 'login failed');
      const code = err.status === 400 ? 'BAD_REQUEST' : err.status === 403 ? 'FORBIDDEN' : 'UNAUTHORIZED';
      return sendErrorPage(req, reply, code, `sign-in with ${provider.name} failed: ${err.message}`);
    }
    logger.info({ provider: provider.name, username: user.username, returnTo: login.returnTo }, 'login');
    if (login.returnTo === 'app' && login.codeChallenge) {
      // Only the app holding the verifier can turn this code into a session (POST /api/v1/auth/token).
      return reply.redirect(`caic://auth?code=${handoff.issue(user.id, login.codeChallenge)}`, 302);
    }
    const { token } = await sessions!.issue(user);
    if (login.returnTo === 'app') {
      logger.warn({ username: user.username }, 'app sign-in without code_challenge (old app build): token handed to whichever app owns caic://');
      return reply.redirect(`caic://auth?token=${encodeURIComponent(token)}`, 302);
    }
    reply.setCookie(SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: secureSession(req),
      maxAge: sessions!.ttlSeconds,
    });
    // `next` was checked to be a path under /oauth/ when the sign-in started (bound to the state).
    return reply.redirect(login.next ?? '/', 302);
  }

  r.route({
    ...routeOptions(routes.authToken),
    handler: async (req, reply) => {
      if (!sessions) return sendError(reply, 'NOT_FOUND', 'login is not configured');
      const redeemed = handoff.redeem(req.body.code, req.body.code_verifier);
      if ('error' in redeemed) {
        logger.info({ reason: redeemed.error }, 'app sign-in code refused');
        return sendError(reply, 'BAD_REQUEST', redeemed.error);
      }
      const user = sessions.userById(redeemed.userId);
      if (!user) return sendError(reply, 'BAD_REQUEST', 'this user can no longer sign in here');
      const { token, expiresAt } = await sessions.issue(user);
      return { token, expiresAt: expiresAt.toISOString(), user: toUserResp(user) };
    },
  });

  r.route({
    ...routeOptions(routes.authMe),
    handler: (req, reply) => {
      if (req.user) return toUserResp(req.user);
      // A presented but rejected token is 401 so clients know to sign in again; no token is 404.
      if (sessions && presentedToken(req)) sendError(reply, 'UNAUTHORIZED', 'session invalid or expired; sign in again');
      else sendError(reply, 'NOT_FOUND', sessions ? 'not signed in' : 'login is not configured');
      return undefined;
    },
  });

  const clearSession = (req: FastifyRequest, reply: FastifyReply) =>
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureSession(req) });

  r.route({
    ...routeOptions(routes.authLogout),
    handler: async (req, reply) => {
      clearSession(req, reply);
      const presented = presentedCredential(req);
      // Ended server-side: a copy of the token (a stolen cookie, a replay) is refused from now on.
      const ended = opts.credentials && presented ? await endSessions(opts.credentials, presented, req.user?.id) : false;
      if (ended) {
        logger.info({ username: req.user?.username }, 'logout: session ended');
        req.server.endRevokedSseStreams();
      }
      return { status: 'ok' };
    },
  });

  r.route({
    ...routeOptions(routes.authLogoutEverywhere),
    handler: async (req, reply) => {
      const user = req.user;
      if (!sessions || !user) return sendError(reply, 'NOT_FOUND', 'login is not configured');
      await sessions.revokeAll(user.id);
      const devicesUnpaired = (await opts.unpairDevices?.(user.id)) ?? 0;
      clearSession(req, reply);
      logger.info({ username: user.username, devicesUnpaired }, 'signed out everywhere');
      req.server.endRevokedSseStreams();
      return { status: 'ok' as const, devicesUnpaired };
    },
  });
}

/**
 * Logout's server side: the presented session (or device token) is ended. With several session
 * cookies, only those of the signed-in user are, not one that another host of the site planted.
 */
async function endSessions(credentials: Credentials, presented: Presented, userId: string | undefined): Promise<boolean> {
  const candidates = presented.alternates ? [presented.token, ...presented.alternates].map((token) => ({ token, bearer: false })) : [presented];
  let ended = false;
  for (const c of candidates) {
    if (presented.alternates && (userId === undefined || (await credentials.verify(c))?.id !== userId)) continue;
    if (await credentials.end(c).catch(() => false)) ended = true;
  }
  return ended;
}

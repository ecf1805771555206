// Routes: OAuth login start/callback for GitHub and GitLab, the current user, logout.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes, type AuthProvider, type UserResp } from '../../api/index.js';
import type { StoredUser, UserStore } from '../../config/index.js';
import type { Logger } from '../../log/index.js';
import {
  checkState,
  newState,
  OAuthError,
  SESSION_COOKIE,
  STATE_COOKIE,
  STATE_MAX_AGE_SECONDS,
  type OAuthProvider,
  type SessionManager,
} from '../auth/index.js';
import { presentedToken, readCookie } from '../auth/hooks.js';
import { isHttps } from '../context.js';
import { sendError, sendErrorPage } from '../errors.js';
import { routeOptions } from './define.js';

export interface AuthRoutesOptions {
  providers: ReadonlyMap<AuthProvider, OAuthProvider>;
  /** Null in no-auth mode. */
  sessions: SessionManager | null;
  users: UserStore;
  sessionSecret: Buffer;
  /** Explicit https external URL (required by config whenever a provider exists). */
  externalUrl: URL | null;
  logger: Logger;
}

export function toUserResp(user: StoredUser): UserResp {
  return { id: user.id, provider: user.provider, username: user.username, avatarURL: user.avatarURL };
}

export function authRoutes(app: FastifyInstance, opts: AuthRoutesOptions): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { providers, sessions, users, sessionSecret, externalUrl, logger } = opts;
  const secureState = externalUrl?.protocol === 'https:';
  const redirectUri = (provider: AuthProvider) => `${externalUrl?.origin ?? ''}/api/v1/auth/${provider}/callback`;
  const secureSession = (req: FastifyRequest) => secureState || isHttps(req);

  r.route({
    ...routeOptions(routes.authStart),
    handler: (req, reply) => {
      const provider = providers.get(req.params.provider);
      if (!provider || !sessions) return sendError(reply, 'NOT_FOUND', `login with ${req.params.provider} is not configured`);
      const { state, cookie } = newState(sessionSecret, req.query.return === 'app' ? 'app' : 'web');
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
      if (error) {
        logger.info({ provider: provider.name, error }, 'login refused by provider');
        return sendErrorPage(req, reply, 'FORBIDDEN', `${provider.name} did not authorize the login: ${error_description ?? error}`);
      }
      const returnTo = checkState(sessionSecret, readCookie(req, STATE_COOKIE), state);
      if (!returnTo) {
        logger.info({ provider: provider.name }, 'login state check failed');
        return sendErrorPage(req, reply, 'BAD_REQUEST', 'login state mismatch or expired; start the sign-in again');
      }
      if (!code) return sendErrorPage(req, reply, 'BAD_REQUEST', 'missing authorization code');
      return finishLogin(req, reply, provider, code, returnTo);
    },
  });

  async function finishLogin(
    req: FastifyRequest,
    reply: FastifyReply,
    provider: OAuthProvider,
    code: string,
    returnTo: 'web' | 'app',
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
      if (!(err instanceof OAuthError)) throw err;
      logger.warn({ provider: provider.name, err: err.message }, 'login failed');
      const code = err.status === 400 ? 'BAD_REQUEST' : err.status === 401 ? 'UNAUTHORIZED' : err.status === 403 ? 'FORBIDDEN' : 'INTERNAL_ERROR';
      return sendErrorPage(req, reply, code, `sign-in with ${provider.name} failed: ${err.message}`);
    }
    const { token } = await sessions!.issue(user);
    logger.info({ provider: provider.name, username: user.username, returnTo }, 'login');
    if (returnTo === 'app') return reply.redirect(`caic://auth?token=${encodeURIComponent(token)}`, 302);
    reply.setCookie(SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: secureSession(req),
      maxAge: sessions!.ttlSeconds,
    });
    return reply.redirect('/', 302);
  }

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

  r.route({
    ...routeOptions(routes.authLogout),
    handler: (req, reply) => {
      reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureSession(req) });
      return { status: 'ok' };
    },
  });
}

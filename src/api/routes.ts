// The route table: every HTTP route's method, path, access level and zod schemas, used by the
// Fastify server, the OpenAPI document (android-api/openapi.json) and, later, the web client.
import type { z } from 'zod';
import { AuthCallbackQuery, AuthProviderParams, AuthStartQuery, StatusResp, UserResp } from './auth.js';
import type { ErrorCode } from './errors.js';
import { HealthResp, ReadyResp, ServerConfigResp } from './server.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteDef {
  readonly method: HttpMethod;
  /** Fastify path syntax (`:param`). */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  /** `user` routes need a session when login is configured; `public` ones never do. */
  readonly access: 'public' | 'user';
  readonly params?: z.ZodObject;
  readonly querystring?: z.ZodObject;
  readonly body?: z.ZodType;
  /** JSON body of the 200 answer; absent when the route answers with a redirect. */
  readonly response?: z.ZodType;
  /** Answers 302 with a Location header. */
  readonly redirect?: boolean;
  /** Error codes worth documenting beyond the ones every route can return. */
  readonly errors?: readonly ErrorCode[];
}

export const routes = {
  healthz: {
    method: 'GET',
    path: '/healthz',
    summary: 'Liveness: 200 while the process serves requests.',
    tag: 'server',
    access: 'public',
    response: HealthResp,
  },
  readyz: {
    method: 'GET',
    path: '/readyz',
    summary: 'Readiness: configuration loaded and dependencies reachable (503 otherwise).',
    tag: 'server',
    access: 'public',
    response: ReadyResp,
  },
  serverConfig: {
    method: 'GET',
    path: '/api/v1/server/config',
    summary: 'Version, login providers and capabilities; public so clients can render a login page.',
    tag: 'server',
    access: 'public',
    response: ServerConfigResp,
  },
  authStart: {
    method: 'GET',
    path: '/api/v1/auth/:provider/start',
    summary: 'Begin OAuth login: sets the state cookie and redirects to the provider.',
    tag: 'auth',
    access: 'public',
    params: AuthProviderParams,
    querystring: AuthStartQuery,
    redirect: true,
    errors: ['NOT_FOUND'],
  },
  authCallback: {
    method: 'GET',
    path: '/api/v1/auth/:provider/callback',
    summary: 'OAuth callback: checks state, exchanges the code, issues the session, redirects to / or caic://auth.',
    tag: 'auth',
    access: 'public',
    params: AuthProviderParams,
    querystring: AuthCallbackQuery,
    redirect: true,
    errors: ['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND'],
  },
  authMe: {
    method: 'GET',
    path: '/api/v1/auth/me',
    summary: 'The signed-in user (cookie or bearer token); 401 for a rejected token, 404 without one.',
    tag: 'auth',
    access: 'public',
    response: UserResp,
    errors: ['UNAUTHORIZED', 'NOT_FOUND'],
  },
  authLogout: {
    method: 'POST',
    path: '/api/v1/auth/logout',
    summary: 'Clear the session cookie. Tokens are stateless; nothing is revoked server-side.',
    tag: 'auth',
    access: 'public',
    response: StatusResp,
  },
} as const satisfies Record<string, RouteDef>;

export type RouteName = keyof typeof routes;

// Mounts the MCP endpoint in Fastify: refusals (Origin, query tokens, 401, rate limit), sessions, Streamable HTTP.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import rateLimit from '@fastify/rate-limit';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LOCAL_ACCOUNT, MCP_PATH, type McpScope } from '../api/index.js';
import { isLoopbackHost, type Config, type UserStore } from '../config/index.js';
import { effectiveHost, isHttps, sendError } from '../http/index.js';
import type { Logger } from '../log/index.js';
import { ALL_SCOPES, bearerChallenge, resourceUrls, scopesOf, type AuditSink, type McpTokenVerifier, type Principal, type ResourceUrls } from './auth.js';
import { createSession, type McpSession } from './server.js';
import type { McpServices } from './tools.js';

export interface McpOptions {
  /** Verifies OAuth access tokens (the authorization server); without one, only the web session cookie is accepted when login is on. */
  tokenVerifier?: McpTokenVerifier;
  audit?: AuditSink;
  /** Requests per window per caller (default 120 per minute). */
  rateLimit?: { max: number; windowMs: number };
  /** How often open sessions check that their credentials still hold (default 60 s). */
  recheckMs?: number;
}

export interface McpDeps extends McpOptions {
  services: McpServices;
  config: Config;
  users: UserStore;
  /** Login is configured (sessions exist). */
  loginEnabled: boolean;
  version: string;
  logger: Logger;
}

/** Sessions a client leaves open without using them are closed after this long. */
const IDLE_MS = 30 * 60_000;
/** Sessions one caller may hold; the least recently used goes first. */
const MAX_SESSIONS_PER_SUBJECT = 32;
const QUERY_CREDENTIALS = /[?&](access_token|token|bearer|authorization)=/i;

interface Entry {
  transport: StreamableHTTPServerTransport;
  session: McpSession;
  subject: string;
  clientId: string;
  lastUsed: number;
  streams: number;
  /** Whether the credentials that opened the session still hold (token not revoked or expired, user not deleted). */
  holds: () => Promise<boolean>;
}

interface Authenticated {
  principal: Principal;
  holds: () => Promise<boolean>;
}

function rawJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const rpcError = (code: number, message: string) => ({ jsonrpc: '2.0', error: { code, message }, id: null });

/**
 * Registers `/api/v1/mcp` (POST, GET, DELETE), or not at all when nobody could be trusted to call
 * it: with no login, only a daemon on loopback serves MCP. Returns whether it was registered.
 */
export async function registerMcp(app: FastifyInstance, deps: McpDeps): Promise<boolean> {
  const { config, logger } = deps;
  if (!deps.loginEnabled && !isLoopbackHost(config.listen.host)) {
    logger.warn(
      { listen: config.listen.host, path: MCP_PATH },
      'MCP endpoint not registered: no login is configured and the daemon listens beyond loopback (configure [github.oauth] or [gitlab.oauth], or listen on 127.0.0.1)',
    );
    return false;
  }
  const principals = new WeakMap<FastifyRequest, Authenticated>();
  const sessions = new Map<string, Entry>();
  const bySubject = new Map<string, Set<string>>();

  const originOf = (req: FastifyRequest) => config.externalUrl?.origin ?? `${isHttps(req) ? 'https' : 'http'}://${effectiveHost(req) ?? 'localhost'}`;
  const urlsOf = (req: FastifyRequest): ResourceUrls => resourceUrls(originOf(req));

  /** A browser page of another origin must not drive the endpoint (DNS rebinding, cross-site). */
  const originAllowed = (req: FastifyRequest): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (origin === config.externalUrl?.origin) return true;
    try {
      return new URL(origin).host.toLowerCase() === (effectiveHost(req) ?? '').toLowerCase();
    } catch {
      return false;
    }
  };

  const unauthorized = (req: FastifyRequest, reply: FastifyReply, message: string, error?: 'invalid_token' | 'invalid_request') => {
    reply.header('www-authenticate', bearerChallenge(urlsOf(req), error ? { error, description: message } : {}));
    return sendError(reply, 'UNAUTHORIZED', message);
  };

  /** Who is calling; answers the refusal itself and returns null when nobody may. */
  const always = () => Promise.resolve(true);
  const authenticate = async (req: FastifyRequest, reply: FastifyReply): Promise<Authenticated | null> => {
    const auth = req.headers.authorization;
    const local = (scopes: ReadonlySet<McpScope>, clientId: string, via: Principal['via']): Principal => ({ subject: `local:${req.client?.ip ?? ''}`, caller: null, clientId, scopes, via });
    // No login, no token: this machine's user, with every tool (the daemon listens on loopback only).
    if (!deps.loginEnabled && auth === undefined) return { principal: local(ALL_SCOPES, 'local', 'none'), holds: always };
    if (auth !== undefined) {
      // Only caic's own access tokens: a session token or anyone else's token fails verification.
      const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(auth.trim());
      if (!m) return unauthorized(req, reply, 'malformed Authorization header (expected Bearer)', 'invalid_request'), null;
      const token = m[1]!;
      const resource = urlsOf(req).resource;
      // With login a token must act for a user in users.json; without, for the local account
      // (a token from before login was configured, or after it was removed, holds no more).
      const holder = (userId: string) => (deps.loginEnabled ? deps.users.get(userId) !== undefined : userId === LOCAL_ACCOUNT);
      const verify = async () => {
        const v = deps.tokenVerifier ? await deps.tokenVerifier.verify(token, resource).catch(() => null) : null;
        return v && holder(v.userId) ? v : null;
      };
      const verified = await verify();
      if (!verified) return unauthorized(req, reply, 'access token invalid, expired, or not issued for this resource', 'invalid_token'), null;
      const holds = async () => (await verify())?.userId === verified.userId;
      // No login: a token the person consented to in the browser carries the scopes they ticked.
      if (!deps.loginEnabled) return { principal: local(scopesOf(verified.scopes), verified.clientId, 'token'), holds };
      const user = deps.users.get(verified.userId)!;
      return {
        principal: { subject: `user:${user.id}`, caller: { id: user.id, username: user.username }, clientId: verified.clientId, scopes: scopesOf(verified.scopes), via: 'token' },
        holds,
      };
    }
    // No Authorization header: the edge read the session cookie (same-origin web UI).
    const web = req.user;
    if (web) {
      return {
        principal: { subject: `user:${web.id}`, caller: { id: web.id, username: web.username }, clientId: 'web', scopes: ALL_SCOPES, via: 'cookie' },
        // The cookie's session itself, not only its user: after logout (or sign out everywhere)
        // the MCP session ends at the next recheck, as the web UI's event streams do.
        holds: async () => deps.users.get(web.id) !== undefined && (await (req.server.sseSessionCheck?.(req) ?? true)),
      };
    }
    return unauthorized(req, reply, 'sign-in required: connect with OAuth'), null;
  };


  const closeEntry = (id: string) => {
    const e = sessions.get(id);
    if (!e) return;
    sessions.delete(id);
    bySubject.get(e.subject)?.delete(id);
    e.session.close();
    void e.transport.close().catch(() => undefined);
  };
  // Idle sessions go; so do sessions whose credentials no longer hold (a revoked grant, a deleted
  // user): their GET stream would otherwise go on telling a client about the user's tasks.
  let rechecking = false;
  const sweep = setInterval(() => {
    if (rechecking) return;
    rechecking = true;
    const now = Date.now();
    const checks = [...sessions].map(async ([id, e]) => {
      if (e.streams === 0 && now - e.lastUsed > IDLE_MS) return closeEntry(id);
      if (!(await e.holds().catch(() => false))) {
        logger.info({ client: e.clientId }, 'MCP session closed: its credentials no longer hold');
        closeEntry(id);
      }
    });
    void Promise.all(checks).finally(() => (rechecking = false));
  }, deps.recheckMs ?? 60_000);
  sweep.unref();
  app.addHook('preClose', (done) => {
    clearInterval(sweep);
    for (const id of [...sessions.keys()]) closeEntry(id);
    done();
  });

  const newSession = (req: FastifyRequest, { principal: p, holds }: Authenticated): { transport: StreamableHTTPServerTransport; session: McpSession } => {
    const mine = bySubject.get(p.subject) ?? bySubject.set(p.subject, new Set()).get(p.subject)!;
    if (mine.size >= MAX_SESSIONS_PER_SUBJECT) {
      const oldest = [...mine].map((id) => sessions.get(id)!).filter(Boolean).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (oldest?.transport.sessionId) closeEntry(oldest.transport.sessionId);
    }
    const session = createSession({ services: deps.services, version: deps.version, logger, ...(deps.audit ? { audit: deps.audit } : {}), urls: urlsOf(req) }, p);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // Answers as plain JSON; notifications go on the client's GET stream.
      enableJsonResponse: true,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, session, subject: p.subject, clientId: p.clientId, lastUsed: Date.now(), streams: 0, holds });
        mine.add(id);
      },
      onsessionclosed: (id) => closeEntry(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) closeEntry(transport.sessionId);
      else session.close();
    };
    return { transport, session };
  };

  const { max, windowMs } = deps.rateLimit ?? { max: 120, windowMs: 60_000 };
  // In a scope of its own, so the limiter's settings and hooks belong to this route alone.
  await app.register(async (scope) => {
    await scope.register(rateLimit, { global: false, hook: 'preHandler' });
    // A body that is not JSON is a JSON-RPC parse error here (-32700), not the REST envelope; the
    // checks of onRequest (Origin, credentials) have run before the body is read. Anything else
    // goes on to the server's error handler.
    scope.setErrorHandler((err: FastifyError, _req, reply) => {
      if (err.code !== 'FST_ERR_CTP_INVALID_JSON_BODY' && err.code !== 'FST_ERR_CTP_EMPTY_JSON_BODY') throw err;
      return reply.code(400).type('application/json').send(rpcError(-32700, 'Parse error: the body is not valid JSON'));
    });
    scope.route({
      method: ['GET', 'POST', 'DELETE'],
      url: MCP_PATH,
      config: {
        access: 'public', // authenticated below: OAuth tokens or the session cookie, never the session bearer
        rateLimit: {
          max,
          timeWindow: windowMs,
          keyGenerator: (req: FastifyRequest) => principals.get(req)?.principal.subject ?? `ip:${req.client?.ip ?? ''}`,
          errorResponseBuilder: (_req: FastifyRequest, ctx: { after: string; ttl: number }) =>
            Object.assign(new Error(`rate limit: at most ${max} requests per ${Math.round(windowMs / 1000)} s; retry in ${ctx.after}`), { statusCode: 429 }),
        },
      },
      onRequest: async (req, reply) => {
        if (QUERY_CREDENTIALS.test(req.url)) return unauthorized(req, reply, 'credentials in the URL are refused; send Authorization: Bearer', 'invalid_request');
        if (!originAllowed(req)) return sendError(reply, 'FORBIDDEN', 'Origin not allowed for the MCP endpoint');
        const a = await authenticate(req, reply);
        if (!a) return reply;
        principals.set(req, a);
        const p = a.principal;
        // The SDK hands this to every handler as extra.authInfo; the token itself stays out.
        (req.raw as typeof req.raw & { auth?: unknown }).auth = { token: '', clientId: p.clientId, scopes: [...p.scopes], extra: { principal: p } };
      },
      handler: async (req, reply) => {
        const a = principals.get(req)!;
        const p = a.principal;
        reply.hijack();
        const res = reply.raw;
        for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) res.setHeader(k, v);
        const header = req.headers['mcp-session-id'];
        const sid = Array.isArray(header) ? header[0] : header;
        if (sid !== undefined) {
          const e = sessions.get(sid);
          // Someone else's session answers like one that does not exist.
          if (!e || e.subject !== p.subject || e.clientId !== p.clientId) return rawJson(res, 404, rpcError(-32001, 'session not found; initialize a new one'));
          e.lastUsed = Date.now();
          if (req.method === 'GET') {
            e.streams++;
            res.once('close', () => e.streams--);
          }
          return e.transport.handleRequest(req.raw, res, req.body);
        }
        if (req.method !== 'POST' || !isInitializeRequest(req.body)) return rawJson(res, 400, rpcError(-32000, 'no session: send initialize first (without Mcp-Session-Id)'));
        const { transport, session } = newSession(req, a);
        await session.server.connect(transport);
        return transport.handleRequest(req.raw, res, req.body);
      },
    });
  });
  logger.info({ path: MCP_PATH, auth: deps.loginEnabled ? (deps.tokenVerifier ? 'oauth+cookie' : 'cookie') : deps.tokenVerifier ? 'none (loopback), or an OAuth token' : 'none (loopback)' }, 'MCP endpoint registered');
  return true;
}

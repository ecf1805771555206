// buildServer: assembles the Fastify app (gate → host lock → session → routes) without listening.
import fastifyCookie from '@fastify/cookie';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { routes, type AuthProvider, type HarnessInfo, type HttpMethod } from '../api/index.js';
import type { Config, PreferenceStore, UserStore } from '../config/index.js';
import type { RepoRegistry, TaskService } from '../tasks/index.js';
import type { ForgeService } from '../forge/index.js';
import type { Logger } from '../log/index.js';
import type { AuditSink } from '../audit/index.js';
import { installAccessLog } from './access-log.js';
import { Credentials, type DeviceTokenCheck, type HostLock, type OAuthProvider, type SessionManager } from './auth/index.js';
import { installErrorHandlers, sendError } from './errors.js';
import type { Gate } from './gate/index.js';
import { installRequireUser, sessionHolds } from './auth/hooks.js';
import { createClientErrorHandler, createFrameworkErrorHandler, installEdge } from './edge.js';
import { landingPage } from './landing.js';
import { installSse } from './sse.js';
import { DEFAULT_WEB_DIR, serveWebUi, spaFallback, webUiDir } from './static.js';
import { authRoutes } from './routes/auth.js';
import { repoRoutes } from './routes/repos.js';
import { taskRoutes } from './routes/tasks.js';
import { terminalRoutes } from './routes/terminal.js';
import { previewRoutes } from './routes/preview.js';
import { PreviewService } from './preview/service.js';
import { reviewRoutes } from './routes/review.js';
import { approvalRoutes } from './routes/approvals.js';
import { serverRoutes } from './routes/server.js';
import { voiceRoutes, type VoiceRouteDeps } from './routes/voice.js';
import { pushRoutes, type PushRouteDeps } from './routes/push.js';
import { secretRoutes, type SecretsRouteDeps } from './routes/secrets.js';
import { hygieneRoutes, type HygieneRouteDeps } from './routes/hygiene.js';
import { voiceRtcRoutes, type VoiceRtcRouteDeps } from './routes/voice-rtc.js';
import { githubWebhookRoute, gitlabWebhookRoute, type WebhookDeps } from './webhooks/index.js';

export interface ServerDeps {
  config: Config;
  version: string;
  logger: Logger;
  gate: Gate;
  hostLock: HostLock;
  users: UserStore;
  sessionSecret: Buffer;
  /** Null in no-auth mode. */
  sessions: SessionManager | null;
  /** Access tokens of paired devices (the authorization server, audience /api/v1); absent: sessions only. */
  deviceTokens?: DeviceTokenCheck;
  /** "Sign out everywhere" also unpairs the user's devices: how many were. */
  unpairDevices?: (userId: string) => Promise<number>;
  providers: ReadonlyMap<AuthProvider, OAuthProvider>;
  /** Extra readiness checks added by later subsystems (Docker...); config is always checked. */
  readiness?: () => Promise<Record<string, string>>;
  /** The task engine; absent in tests of the edge alone. */
  tasks?: {
    service: TaskService;
    repos: RepoRegistry;
    preferences: PreferenceStore;
    dockerAvailable: () => boolean;
    /** Whether a task may ask for sudo (an engine answers and gives root in containers). */
    sudoAvailable: () => boolean;
    harnesses: () => Promise<HarnessInfo[]>;
    /** Pull requests, CI and issues: task creation and sync go through it. */
    forge: ForgeService;
  };
  /** The built web UI to serve (default: the package's web/dist); without index.html, `/` is the status page. */
  webDir?: string;
  /** Subsystems that register their own routes behind the edge hooks (the OAuth authorization server). */
  subsystems?: ((app: FastifyInstance) => void | Promise<void>)[];
  /** Where verified forge webhooks go; absent: no /webhooks routes (each also needs its secret in the config). */
  webhooks?: WebhookDeps;
  /** Voice tokens (src/voice's VoiceTokenService); absent: voice is reported off and the token route answers 409. */
  voice?: VoiceRouteDeps;
  /** The embedded voice gateway's signalling (src/voice's VoiceGateway); absent: those routes are not mounted. */
  voiceRtc?: VoiceRtcRouteDeps;
  /** Web Push subscriptions (src/push's PushService); absent: the push routes are not mounted. */
  /** The secrets vault's routes (list names, set, delete); absent: no vault. */
  secrets?: SecretsRouteDeps;
  /** The doctor report (hygiene); absent: the route is not mounted. */
  hygiene?: HygieneRouteDeps;
  push?: PushRouteDeps;
  /** The audit log: task terminals are recorded opening and closing (never their bytes). */
  audit?: AuditSink;
  /** Registers more routes behind the same edge hooks (later subsystems; tests). */
  extend?: (app: FastifyInstance) => void | Promise<void>;
}

/** `legacy_app_login_until` as ms since the epoch (00:00 UTC of that day); null when empty. */
function legacyUntil(date: string): number | null {
  return date === '' ? null : Date.parse(`${date}T00:00:00Z`);
}

const ALL_METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Known paths answer 405 (with Allow) for methods they do not implement, instead of a bare 404. */
function methodNotAllowed(app: FastifyInstance): void {
  const byPath = new Map<string, Set<HttpMethod>>();
  for (const r of Object.values(routes)) (byPath.get(r.path) ?? byPath.set(r.path, new Set()).get(r.path)!).add(r.method);
  byPath.set('/', new Set(['GET']));
  for (const [path, methods] of byPath) {
    const others = ALL_METHODS.filter((m) => !methods.has(m));
    const allow = [...methods, ...(methods.has('GET') ? ['HEAD'] : [])].join(', ');
    app.route({
      method: others,
      url: path,
      config: { access: 'public' },
      handler: (req, reply) => {
        reply.header('allow', allow);
        return sendError(reply, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; use ${allow}`);
      },
    });
  }
}

/**
 * How long a client may take to send a request: the whole request, and its headers (at most 10 s).
 * Only requests: a long response such as an event stream is not bounded. Node checks the clocks
 * every `checkIntervalMs`, so a request can outlive its bound by that much.
 */
function requestTimeouts(requestTimeoutSeconds: number): { requestMs: number; headersMs: number; checkIntervalMs: number } {
  const requestMs = requestTimeoutSeconds * 1000;
  return {
    requestMs,
    headersMs: Math.min(10_000, requestMs),
    checkIntervalMs: Math.min(5_000, Math.max(250, Math.floor(requestMs / 4))),
  };
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const bodyLimit = config.values.server.body_limit;
  const timeouts = requestTimeouts(config.values.server.request_timeout_seconds);
  // Typed as Fastify's base logger so the app keeps the default instance type plugins expect.
  const baseLogger: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance: baseLogger,
    // Our access log replaces Fastify's two lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger: nothing reads its request id, and creating one costs on every request.
    childLoggerFactory: (parent) => parent,
    bodyLimit,
    trustProxy: false, // the gate decides which forwarded headers to believe
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 200 },
    requestTimeout: timeouts.requestMs,
    http: {
      headersTimeout: timeouts.headersMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
      // A missing Host is refused by the edge (envelope, security headers) rather than by Node.
      requireHostHeader: false,
    },
    // Malformed requests and bad URLs, which Node and the router answer before any hook, get the edge too.
    clientErrorHandler: createClientErrorHandler(deps.gate, logger),
    frameworkErrors: createFrameworkErrorHandler(deps.gate),
  });
  // An `Expect` other than 100-continue would get Node's bare 417; the expectation is ignored
  // instead (RFC 9110 §10.1.1 allows it), so the request meets the edge like any other.
  app.server.on('checkExpectation', (req, res) => app.routing(req, res));
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // The edge hook is registered first: the gate is the first code every request meets.
  const credentials = deps.sessions ? new Credentials(deps.sessions, deps.deviceTokens ?? null) : null;
  const pv = config.values.preview;
  const previews = deps.tasks
    ? new PreviewService(deps.tasks.service, deps.sessions, { enabled: pv.enabled, domain: pv.domain, responseTimeoutSeconds: pv.response_timeout_seconds, externalUrl: config.externalUrl }, logger)
    : null;
  installEdge(app, { gate: deps.gate, hostLock: deps.hostLock, credentials, ...(previews ? { dispatchHost: (req, reply) => previews.dispatch(req, reply) } : {}) });
  // Cookies are parsed on demand (readCookie), not by a hook on every request.
  await app.register(fastifyCookie, { hook: false });
  // WebSocket routes (terminals, previews) are upgraded through the router: the edge (gate,
  // credentials) and the route's own hooks meet an upgrade like any request. 1 MiB per message.
  // At shutdown each WebSocket route says goodbye its own way first (a terminal tells why and
  // closes with 1001, so its client reconnects to the next daemon); what is left gets 1001 too
  // (the plugin's default would close with no code, 1005, which clients take as final).
  const wsShutdown = new Set<() => void>();
  await app.register(fastifyWebsocket, {
    options: { maxPayload: 1024 * 1024 },
    preClose(this: FastifyInstance, done: () => void) {
      for (const fn of [...wsShutdown]) fn();
      for (const client of this.websocketServer.clients) client.close(1001, 'server shutting down');
      this.websocketServer.close();
      done();
    },
  });
  installRequireUser(app, deps.sessions !== null);
  installSse(app, credentials ? (req) => sessionHolds(req, credentials) : undefined);
  installAccessLog(app, logger);
  const webDir = webUiDir(deps.webDir);
  installErrorHandlers(app, bodyLimit, webDir ? spaFallback : undefined);

  const voice: VoiceRouteDeps = deps.voice ?? {
    status: { enabled: false, mode: 'off', reason: 'voice is not part of this server' },
    token: () => Promise.reject(new Error('voice is off')),
  };
  serverRoutes(app, {
    serverConfig: (req) => ({
      version: deps.version,
      authEnabled: deps.sessions !== null,
      authProviders: [...deps.providers.keys()],
      // A host path is for someone who may use it: anyone in no-auth mode, else a signed-in user.
      root: deps.sessions === null || req.user ? (deps.tasks?.repos.root ?? '') : '',
      capabilities: {
        tailscaleAvailable: Boolean(config.env('TAILSCALE_API_KEY')),
        gitHubAppEnabled: Boolean(config.values.github.app.id),
        voiceAvailable: voice.status.enabled,
        dockerAvailable: deps.tasks?.dockerAvailable() ?? false,
        sudoAvailable: deps.tasks?.sudoAvailable() ?? false,
      },
      voice: voice.status,
    }),
    readiness: async () => ({ config: 'ok', ...(await deps.readiness?.()) }),
  });
  authRoutes(app, {
    providers: deps.providers,
    sessions: deps.sessions,
    credentials,
    ...(deps.unpairDevices ? { unpairDevices: deps.unpairDevices } : {}),
    users: deps.users,
    sessionSecret: deps.sessionSecret,
    externalUrl: config.externalUrl,
    legacyAppLoginUntil: legacyUntil(config.values.server.legacy_app_login_until),
    logger,
  });
  voiceRoutes(app, voice);
  if (deps.voiceRtc) voiceRtcRoutes(app, deps.voiceRtc);
  if (deps.push) pushRoutes(app, deps.push);
  if (deps.secrets) secretRoutes(app, deps.secrets);
  if (deps.hygiene) hygieneRoutes(app, deps.hygiene);
  if (deps.tasks) {
    const forge = deps.tasks.forge;
    taskRoutes(app, deps.tasks.service, forge);
    terminalRoutes(app, { service: deps.tasks.service, settings: config.values.terminal, logger, onShutdown: wsShutdown, ...(deps.audit ? { audit: deps.audit } : {}) }, deps.sessions !== null);
    reviewRoutes(app, deps.tasks.service);
    approvalRoutes(app, deps.tasks.service);
    repoRoutes(app, { ...deps.tasks, repoCI: (name: string) => forge.repoStatus(name) });
    if (previews) {
      previewRoutes(app, previews);
      app.addHook('preClose', (done) => {
        previews.closeAll();
        done();
      });
    }
  }
  if (deps.webhooks) {
    // Public (the forge signs instead of signing in), still behind the gate: allow the `github` origin for GitHub's senders.
    const { github, gitlab } = config.values;
    if (github.app.webhook_secret) githubWebhookRoute(app, github.app.webhook_secret, deps.webhooks);
    if (gitlab.webhook_secret) gitlabWebhookRoute(app, gitlab.webhook_secret, deps.webhooks);
  }
  if (webDir) {
    // The UI opens voice sessions at a standalone gateway's origin: its page may connect there.
    const gateway = voice.status.mode === 'standalone' && voice.status.enabled ? originOf(config.values['voice-gateway'].url) : null;
    // Its side panel frames previews, which live on hosts of their own under the preview domain.
    await serveWebUi(app, webDir, gateway ? [gateway] : [], previews?.frameSources() ?? []);
    logger.info({ webDir }, 'serving the web UI');
  } else {
    landingPage(app, { version: deps.version, providers: [...deps.providers.keys()] });
    logger.info({ webDir: deps.webDir ?? DEFAULT_WEB_DIR }, 'web UI not built (no index.html): serving the status page at /');
  }
  for (const register of deps.subsystems ?? []) await register(app);
  await deps.extend?.(app);
  methodNotAllowed(app);
  return app;
}

/** The origin of a URL (scheme, host, port: nothing a CSP could read as more), or null. */
function originOf(url: string): string | null {
  try {
    const { origin, protocol } = new URL(url);
    return (protocol === 'https:' || protocol === 'http:') && origin !== 'null' ? origin : null;
  } catch {
    return null;
  }
}

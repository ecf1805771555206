// The composition root: config → logger → state files → gate → auth → Fastify → listen.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { HARNESSES, HarnessReadiness } from './agents/index.js';
import {
  DEFAULT_USER,
  ensurePrivateDir,
  gitIdentityOf,
  isLoopbackHost,
  loadConfig,
  loadOrCreateSettings,
  lockCacheDir,
  PreferenceStore,
  resourceLimits,
  parseDuration,
  urlForListen,
  UserError,
  UserStore,
  VERSION,
  type Config,
} from './config/index.js';
import {
  allowedByProviders,
  buildProviders,
  buildServer,
  Gate,
  HostLock,
  openGeoDb,
  parseGitHubMeta,
  parseOpenAiRanges,
  RemoteCidrList,
  SessionManager,
  type ServerDeps,
} from './http/index.js';
import { DockerRuntime, DockerUnavailableError, engineClient, instanceId, resolveEngine } from './containers/index.js';
import { DeliveryLog } from './http/webhooks/index.js';
import { AUDIT_FILE_NAME, AuditLog } from './audit/index.js';
import { grantRoutes, OAuthServer, type GuardedFetchOptions, type OAuthLimits } from './oauth/index.js';
import { createLogger, type LogFormat, type Logger, type LogLevel } from './log/index.js';
import { registerMcp, registerVoiceTools, type McpOptions } from './mcp/index.js';
import { checkFreeDisk, doctorReport, Hygiene, RepoRegistry, resolveTitleModel, TaskService, TITLE_DEFAULTS, TitleModel } from './tasks/index.js';
import { Vault } from './vault/index.js';
import { loadOrCreateVapidKeys, PushService, PushValidationError, SubscriptionStore, TaskNews } from './push/index.js';
import { createVoiceBackend, VoiceGateway, VoiceTokenService, type VoiceGatewayOptions } from './voice/index.js';
import { Bot, createForgeClients, ForgeService, HookRouter, ManagedRepos, SenderPolicy, type CIWatchOptions, type ForgeClientsOptions } from './forge/index.js';

export interface DaemonOptions {
  configDir: string;
  cacheDir?: string;
  env?: Record<string, string | undefined>;
  /** Overrides `[debug] log_level`. */
  logLevel?: LogLevel;
  logDestination?: DestinationStream;
  /** `json` (default) or `pretty` (readable lines for a terminal; see createLogger). */
  logFormat?: LogFormat;
  /** Colours in pretty lines. */
  logColor?: boolean;
  /** The directory the command was started from: `[core] root` when the file does not set it (default: startDirectory()). */
  startDir?: string;
  /** Overrides the port of `[server] http` (tests use 0 for a free port). */
  port?: number;
  /** How long startup may wait for remote origin lists (GitHub meta, OpenAI). */
  originListWaitMs?: number;
  /** Extra routes behind the edge hooks (see ServerDeps.extend). */
  extend?: ServerDeps['extend'];
  /** The web UI build to serve (see ServerDeps.webDir). */
  webDir?: string;
  /** Tests only: how the authorization server may fetch Client ID Metadata Documents (loopback, a test CA). */
  oauthFetch?: GuardedFetchOptions;
  /** Tests only: smaller bounds on registrations and unauthenticated OAuth requests. */
  oauthLimits?: Partial<OAuthLimits>;
  /** The MCP endpoint's rate limit and session recheck; tests may stand in for the token verifier and audit sink (default: the OAuth server's and the audit log). */
  mcp?: McpOptions;
  /** Tests: the embedded voice gateway's idle timeout and session caps. */
  voiceGateway?: Partial<Pick<VoiceGatewayOptions, 'idleMs' | 'maxSessions' | 'maxSessionsPerSub'>>;
  /** Tests only: push endpoints on loopback with this CA (a local push-service stand-in), faster retries. */
  push?: { testEndpoints?: { ca: string }; retryBaseMs?: number };
  /** Tests: CI poll intervals, and what stands in for `gh`/`glab` on the host. */
  forge?: { watch?: CIWatchOptions; repoCIMs?: number; hostToken?: ForgeClientsOptions['hostToken'] };
  /** Tests only: clean-up prunes only images whose labels this accepts (other tests' images stay). */
  hygieneImageFilter?: (labels: Record<string, string>) => boolean;
}

export interface Daemon {
  url: string;
  config: Config;
  app: FastifyInstance;
  logger: Logger;
  tasks: TaskService;
  repos: RepoRegistry;
  /** Pull requests, CI watching and the fix loop; the webhooks tell it what forges report (ForgeEvents). */
  forge: ForgeService;
  /** The OAuth authorization server; null with no login on a non-loopback listener. */
  oauth: OAuthServer | null;
  audit: AuditLog;
  /** Voice tokens: status, issuing, and the verifier the embedded gateway checks tokens with. */
  voice: VoiceTokenService;
  /** The embedded voice gateway; null when voice is not embedded here (off, or a standalone gateway). */
  voiceGateway: VoiceGateway | null;
  /** Web Push: subscriptions and the queue of task news. */
  push: PushService;
  /** The secrets vault (per-user secrets, encrypted at rest). */
  vault: Vault;
  /** Resource clean-up ([limits]): its plan (doctor) and runs. */
  hygiene: Hygiene;
  /** This daemon's instance id (a label on its containers: clean-up touches only those). */
  instance: string;
  close(): Promise<void>;
}

function listenError(err: unknown, host: string, port: number): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new UserError(`server.http: ${host}:${port} is already in use`);
  if (code === 'EACCES') return new UserError(`server.http: no permission to listen on ${host}:${port}`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new UserError(`server.http: cannot listen on ${host}: no such local address`);
  return err as Error;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const config = loadConfig({
    configDir: opts.configDir,
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.startDir ? { startDir: opts.startDir } : {}),
  });
  const { logger, masker } = createLogger({
    level: opts.logLevel ?? config.values.debug.log_level,
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
    ...(opts.logFormat ? { format: opts.logFormat } : {}),
    ...(opts.logColor !== undefined ? { colorize: opts.logColor } : {}),
  });
  masker.add(...config.secrets);

  if (await ensurePrivateDir(config.configDir)) logger.warn({ dir: config.configDir }, 'config directory was readable by others; set to 0700');
  await ensurePrivateDir(config.cacheDir);
  // Voice tokens: the instance key is loaded (or made) now, so a bad configured key stops the start.
  let boundUrl = '';
  const voice = await VoiceTokenService.open(config, { listenUrl: () => boundUrl });
  if (voice.identity) {
    masker.add(...voice.identity.key.secretForms);
    if (voice.identity.key.created) logger.info({ file: voice.identity.key.path }, 'created the voice token signing key');
  }
  // The embedded gateway, with the configured backend; a backend that cannot run here turns voice off with its reason.
  let voiceGateway: VoiceGateway | null = null;
  if (voice.status.enabled && voice.status.mode === 'embedded') {
    try {
      voiceGateway = new VoiceGateway({
        backend: createVoiceBackend(config, { logger }),
        verifier: voice.verifier,
        logger,
        server: config.values['voice-gateway'].config.server,
        ...opts.voiceGateway,
      });
    } catch (err) {
      voice.embeddedUnavailable((err as Error).message);
    }
  }
  if (voice.status.enabled) {
    logger.info({ mode: voice.status.mode, instance: voice.identity?.instanceId, ...(voiceGateway ? { backend: voiceGateway.backendName, ...voiceGateway.network } : {}) }, `voice on (${voice.status.mode} gateway)`);
  } else logger.info({ mode: voice.status.mode, reason: voice.status.reason }, 'voice off');
  const settings = await loadOrCreateSettings(config.configDir);
  masker.add(settings.sessionSecret.toString('hex'));
  if (settings.created) logger.info({ dir: config.configDir }, 'created session secret in settings.json');
  const users = await UserStore.open(config.configDir, { onSecret: (s) => masker.add(s) });

  const geo = config.geoDbPath ? await openGeoDb(config.geoDbPath) : null;
  const { allowOrigins } = config;
  const gate = new Gate({ allow: allowOrigins, trustedProxies: config.trustedProxies, geo });

  const lists: RemoteCidrList[] = [];
  if (allowOrigins.names.has('github')) {
    const list = new RemoteCidrList({
      name: 'github',
      urls: [`${config.values.github.api_url.replace(/\/+$/, '')}/meta`],
      parse: parseGitHubMeta,
      cacheDir: config.cacheDir,
      logger,
      headers: { accept: 'application/vnd.github+json' },
    });
    list.onUpdate((cidrs) => gate.setNamedRanges('github', cidrs));
    lists.push(list);
  }
  if (allowOrigins.names.has('openai')) {
    const list = new RemoteCidrList({
      name: 'openai',
      urls: config.values.server.openai_ip_lists,
      parse: parseOpenAiRanges,
      cacheDir: config.cacheDir,
      logger,
    });
    list.onUpdate((cidrs) => gate.setNamedRanges('openai', cidrs));
    lists.push(list);
  }
  await Promise.all(lists.map((l) => l.start(opts.originListWaitMs ?? 3_000)));

  const hostLock = new HostLock(config.externalUrl, (url) => logger.info({ url }, 'external URL locked to the first hostname seen'));
  const providers = buildProviders(config);
  const sessions =
    config.authProviders.length > 0
      ? new SessionManager(settings.sessionSecret, users, {
          ttlSeconds: config.values.server.session_ttl_days * 86_400,
          isAllowed: allowedByProviders(providers),
        })
      : null;
  // Edits of users.json while we run take effect at once (deleting a user ends their sessions,
  // their open event streams included).
  let usersChanged = () => {};
  if (sessions) {
    users.watch((event) => {
      if (event.kind === 'reloaded') logger.info({ users: event.users, file: users.path }, 'users.json changed on disk; reloaded');
      else logger.error({ file: users.path, problem: event.message }, 'users.json is unusable; nobody is signed in until it is fixed');
      usersChanged();
    });
  }
  const { root } = config.values.core;
  const forgeClients = createForgeClients(config, { logger, onSecret: (secret) => masker.add(secret), ...(opts.forge?.hostToken ? { hostToken: opts.forge.hostToken } : {}) });
  const repos = new RepoRegistry(root, {
    allowLocalClone: config.values.core.allow_local_clone,
    classifyForge: (url) => forgeClients.repoOf(url)?.kind ?? '',
  });
  await repos.scan();
  if (!existsSync(root)) logger.warn({ root }, 'the repository root does not exist (yet); repositories created there will appear');
  const stopRepoWatch = repos.watch();
  const preferences = await PreferenceStore.open(config.configDir);
  // Docker may come up after caic: the daemon serves anyway and connects when it can.
  let runtime: DockerRuntime | null = null;
  const instance = instanceId(config.cacheDir);
  const limits = resourceLimits(config.values.limits);
  let retry: NodeJS.Timeout | undefined;
  const connectRuntime = async (): Promise<boolean> => {
    try {
      // Resolved on every attempt: a socket that appears later ([core] runtime, $DOCKER_HOST, $CONTAINER_HOST) is found.
      const docker = engineClient(resolveEngine(config.values.core.runtime, { env: (name) => config.env(name), uid: process.getuid?.() ?? -1 }));
      runtime = await DockerRuntime.open({ configDir: config.configDir, logger, image: config.values.core.image, instance, docker });
      logger.info('container engine connected');
      return true;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'container engine not available; retrying every 5 s');
      return false;
    }
  };
  // Task titles from a small model when a key is at hand ([titles]).
  const titleConfig = resolveTitleModel(config.values.titles, (p) => {
    const d = TITLE_DEFAULTS[p];
    return config.values.harness[d.harness].env[d.keyName] || config.env(d.keyName);
  });
  if (titleConfig) logger.info({ provider: titleConfig.provider, model: titleConfig.model }, 'task titles from a model');
  const titleModel = titleConfig ? new TitleModel(titleConfig, (err) => logger.warn({ err }, 'title generation failed')) : null;
  // A function, so TypeScript does not narrow `runtime` to null from its initialiser.
  const closeRuntime = () => runtime?.close();
  const readiness = new HarnessReadiness({
    harnesses: HARNESSES,
    image: config.values.core.image,
    docker: () => runtime?.docker ?? null,
    env: (h) => config.values.harness[h].env,
    logger,
  });
  // The secrets vault: opened now when it exists (a wrong vault.key is said at start, and every use
  // of the vault answers with it); its key is made when the first secret is set.
  const vault = new Vault(config.configDir, (v) => masker.add(v));
  const secretsApi = { list: (user: string) => vault.list(user), set: (user: string, name: string, value: string) => vault.set(user, name, value), delete: (user: string, name: string) => vault.delete(user, name) };
  const vaultProblem = await vault.check();
  if (vaultProblem) logger.error({ dir: config.configDir }, vaultProblem);
  const tasks = new TaskService({
    cacheDir: config.cacheDir,
    repos,
    runtime: () => {
      if (!runtime) throw new DockerUnavailableError('Docker engine not reachable; start Docker and caic connects by itself');
      return runtime;
    },
    harnesses: HARNESSES,
    preferences,
    logger,
    authEnabled: config.authProviders.length > 0,
    image: config.values.core.image,
    harnessEnv: (h) => ({ ...config.values.harness[h].env }),
    readiness: (h) => readiness.check(h),
    gitHubToken: (caller) => {
      const user = caller ? users.get(caller.id) : undefined;
      if (user?.provider === 'github' && user.accessToken) return user.accessToken;
      return config.values.github.pat.token || undefined;
    },
    titleModel,
    secretValues: (owner, names) => vault.values(owner, names),
    limits,
    egress: {
      mode: config.values.egress.mode,
      allow: config.values.egress.allow,
      repos: config.values.egress.repos,
      pollMs: parseDuration(config.values.egress.poll_interval) ?? 0,
    },
    forgeUrls: [{ url: config.values.github.url, apiUrl: config.values.github.api_url }, { url: config.values.gitlab.url }],
    ...(config.values.core.network ? { network: config.values.core.network } : {}),
    admission: async () => {
      if (runtime) await checkFreeDisk(runtime.docker, limits.minFreeDiskBytes);
    },
    gitIdentity: (caller) => {
      const user = caller ? users.get(caller.id) : undefined;
      return user ? gitIdentityOf(user, { github: config.values.github.url, gitlab: config.values.gitlab.url }) : null;
    },
    approval: { mode: config.values.approval.mode, rules: config.values.approval.rules, timeoutMs: parseDuration(config.values.approval.timeout) ?? 600_000 },
    // Decisions only come once tasks run, after the audit log below is open.
    audit: (record) => audit.append(record),
    onApproval: (task, owner, pending) => push.notify(owner || DEFAULT_USER, 'approval', task, `${pending.tool} waits for your approval`),
  });
  // Resource clean-up ([limits]): idle stops, old stopped containers, orphans, stale images.
  const hygiene = new Hygiene({
    docker: () => runtime?.docker ?? null,
    instance,
    limits,
    image: config.values.core.image,
    tasks: () => tasks.hygieneView(),
    stop: (id, reason) => tasks.systemStop(id, reason, (t) => ['waiting', 'asking', 'has_plan'].includes(t.state) && Date.now() - t.activeAt >= limits.idleStopMs),
    purge: (id, reason) => tasks.systemPurge(id, reason, (t) => t.state === 'stopped' || t.state === 'failed'),
    logger,
    ...(opts.hygieneImageFilter ? { imageFilter: opts.hygieneImageFilter } : {}),
  });
  // The task side of forges (PRs, CI, the fix loop) over the clients above.
  const forge = new ForgeService({
    tasks,
    repos,
    clients: forgeClients,
    ownerIdentity: (id) => {
      const u = users.get(id);
      return u ? { username: u.username, provider: u.provider, accessToken: u.accessToken } : null;
    },
    settings: (id) => preferences.get(id || DEFAULT_USER).settings,
    maxFixAttempts: config.values.forge.max_fix_attempts,
    logger,
    ...(opts.forge?.watch ? { watch: opts.forge.watch } : {}),
    ...(opts.forge?.repoCIMs ? { repoCIMs: opts.forge.repoCIMs } : {}),
  });
  // Web Push: a user's task news goes to their browsers; the keys are made on first use.
  const push = new PushService({
    keys: async () => {
      const keys = await loadOrCreateVapidKeys(config.configDir);
      masker.add(keys.privateKey);
      if (keys.created) logger.info({ file: keys.path }, 'created the Web Push VAPID keys');
      return keys;
    },
    store: await SubscriptionStore.open(config.configDir),
    subject: config.values.push.subject || (config.externalUrl?.protocol === 'https:' ? config.externalUrl.origin : `mailto:caic@${hostname()}`),
    logger,
    ...(opts.push?.testEndpoints ? { testEndpoints: opts.push.testEndpoints } : {}),
    ...(opts.push?.retryBaseMs !== undefined ? { retryBaseMs: opts.push.retryBaseMs } : {}),
  });
  const news = new TaskNews();
  // Tasks made without login belong to the local user (the one every request is without login).
  tasks.watchAll((task, owner) => {
    for (const kind of news.changed(task)) push.notify(owner || DEFAULT_USER, kind, task);
  });
  // Before any task log is read: a second daemon on the same cache would fight this one for every agent.
  const lock = await lockCacheDir(config.cacheDir);
  const audit = new AuditLog(join(config.configDir, AUDIT_FILE_NAME), {
    onError: (err) => logger.error({ err: err.message }, 'audit log write failed'),
  });
  // The authorization server for MCP clients. Without login it acts for the local user, which is
  // only sound while nobody but this machine can reach the daemon.
  const loginEnabled = config.authProviders.length > 0;
  const oauth =
    loginEnabled || isLoopbackHost(config.listen.host)
      ? await OAuthServer.open({
          configDir: config.configDir,
          issuer: () => config.externalUrl?.origin ?? boundUrl,
          secret: settings.sessionSecret,
          loginEnabled,
          providers: config.authProviders,
          secureCookies: config.externalUrl?.protocol === 'https:',
          audit,
          logger,
          ...(opts.oauthFetch ? { fetch: opts.oauthFetch } : {}),
          ...(opts.oauthLimits ? { limits: opts.oauthLimits } : {}),
        })
      : null;
  if (!oauth) logger.warn({ listen: config.listen.host }, 'OAuth authorization server (for MCP clients) off: no login is configured and the listener is not loopback');
  await tasks.load();
  // Open pull requests whose CI was still running when the daemon stopped are watched again.
  forge.resume();
  // The bot behind /webhooks/*; CI and pull request news from webhooks go to the forge service.
  const deliveries = await DeliveryLog.open(config.cacheDir, logger);
  const callerOf = (kind: string, login: string) => {
    const user = users.list().find((u) => u.provider === kind && u.username.toLowerCase() === login.toLowerCase());
    return user ? { id: user.id, username: user.username } : null;
  };
  const bot = new Bot({
    tasks: { create: (req, c) => forge.create(req, c), get: (id, c) => tasks.get(id, c), subscribeList: (c, fn) => tasks.subscribeList(c, fn) },
    issueAware: true,
    clients: () => forgeClients,
    senders: new SenderPolicy({
      allowedUsers: { github: config.values.github.oauth.allowed_users, gitlab: config.values.gitlab.oauth.allowed_users },
      clients: () => forgeClients,
    }),
    callerOf: (kind, login) => (loginEnabled ? callerOf(kind, login) : null),
    // The agent the triggering user used last when it can run, else the first that can, in HARNESSES order (fake last).
    harness: async (caller) => {
      const last = preferences.get(caller?.id ?? DEFAULT_USER).harness;
      const order = [...HARNESSES.keys()].sort((a, b) => Number(b === last) - Number(a === last));
      for (const name of order) if ((await readiness.check(name))?.ready) return name;
      return null;
    },
    settings: (caller) => preferences.get(caller?.id ?? DEFAULT_USER).settings,
    dir: config.cacheDir,
    logger,
    webUrl: () => config.externalUrl?.origin ?? boundUrl,
  });
  await bot.start();
  const githubApp = forgeClients.app;
  const hooks = new HookRouter({
    managed: new ManagedRepos({ list: () => repos.list(), repoOf: (url) => forgeClients.repoOf(url) }),
    events: () => forge,
    bot,
    allowedOwners: config.values.github.app.allowed_owners,
    uninstall: githubApp ? (id) => githubApp.deleteInstallation(id) : null,
    logger,
  });
  const app = await buildServer({
    config,
    version: VERSION,
    logger,
    gate,
    hostLock,
    users,
    sessionSecret: settings.sessionSecret,
    sessions,
    // Paired devices' tokens are accepted where sessions are (with login; without it nothing is checked).
    ...(oauth && sessions ? { deviceTokens: oauth.deviceTokens, unpairDevices: (userId: string) => oauth.revokeDevices(userId) } : {}),
    providers,
    tasks: { service: tasks, repos, preferences, dockerAvailable: () => runtime !== null, sudoAvailable: () => runtime !== null && runtime.sudoRefusal === null, harnesses: () => readiness.list(), forge },
    audit,
    readiness: async () => ({
      docker: runtime ? await runtime.docker.ping().then(() => 'ok', (err: Error) => `unreachable: ${err.message}`) : 'not connected',
    }),
    extend: async (app) => {
      // The MCP endpoint checks tokens with the authorization server's verifier and writes its
      // tool calls and resource reads to the same audit log as the authorization decisions.
      await registerMcp(app, {
        ...(oauth ? { tokenVerifier: oauth.verifier } : {}),
        audit,
        ...opts.mcp,
        services: { service: tasks, repos, preferences, harnesses: () => readiness.list(), forge, secrets: secretsApi },
        config,
        users,
        loginEnabled,
        version: VERSION,
        logger,
      });
      await opts.extend?.(app);
    },
    ...(opts.webDir !== undefined ? { webDir: opts.webDir } : {}),
    webhooks: { deliveries, handle: (hook) => hooks.handle(hook), logger },
    voice: { status: voice.status, token: (sub, origin) => voice.token(sub, origin) },
    push: {
      publicKey: () => push.publicKey(),
      list: (user) => Promise.resolve(push.list(user)),
      subscribe: (user, req) =>
        push.subscribe(user, req).catch((err: unknown) => {
          if (err instanceof PushValidationError) return { invalid: err.message };
          throw err;
        }),
      unsubscribe: (user, by) => push.unsubscribe(user, by),
      test: (user) => Promise.resolve(push.notify(user, 'test', { id: 'test', title: 'Notifications from caic work' })),
    },
    secrets: secretsApi,
    hygiene: {
      authEnabled: config.authProviders.length > 0,
      report: async (viewer) => doctorReport(await hygiene.plan(), { instance, image: config.values.core.image, limits, tasks: tasks.hygieneView(), viewer }),
    },
    ...(voiceGateway ? { voiceRtc: voiceGateway } : {}),
    subsystems: [
      ...(oauth
        ? [
            async (app: FastifyInstance) => {
              await oauth.register(app);
              grantRoutes(app, oauth, loginEnabled);
            },
          ]
        : []),
      // The MCP tools for voice clients, run with the caller's own session (the same audit log as MCP).
      (app: FastifyInstance) => registerVoiceTools(app, { services: { service: tasks, repos, preferences, harnesses: () => readiness.list(), forge, secrets: secretsApi }, logger, audit: opts.mcp?.audit ?? audit }),
    ],
  });
  usersChanged = () => app.endRevokedSseStreams();
  // A revoked device's open event streams end at once, as a deleted user's do.
  oauth?.onGrantRevoked(() => app.endRevokedSseStreams());

  const { host } = config.listen;
  const port = opts.port ?? config.listen.port;
  try {
    await app.listen({ host, port, listenTextResolver: (address) => `bound ${address}` });
  } catch (err) {
    await voiceGateway?.shutdown();
    lists.forEach((l) => l.stop());
    stopRepoWatch();
    users.close();
    await forge.close();
    await app.close();
    await bot.close();
    await deliveries.close();
    await lock.release();
    audit.close();
    throw listenError(err, host, port);
  }
  // Clean-up starts once the containers are adopted: before that no task knows its container, and an
  // idle stop would mark a task stopped while its container runs on (seen with Podman, whose engine
  // answers after the first clean-up run).
  const adopt = () =>
    tasks
      .adopt()
      .catch((err: unknown) => logger.error({ err }, 'adopting containers failed'))
      .finally(() => hygiene.start());
  if (await connectRuntime()) void adopt();
  else {
    retry = setInterval(() => {
      void connectRuntime().then((ok) => {
        if (!ok) return;
        clearInterval(retry);
        void adopt();
      });
    }, 5_000);
    retry.unref();
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = urlForListen({ host, port: boundPort });
  boundUrl = url;
  logger.info(
    {
      url,
      version: VERSION,
      config: config.file ?? '(none, defaults)',
      auth: config.authProviders.length ? config.authProviders : 'off',
      allowOrigins: config.values.server.allow_origins,
      geoDb: config.geoDbPath,
      root,
      repositories: repos.list().length,
    },
    'caic listening',
  );
  return {
    url,
    config,
    app,
    logger,
    tasks,
    repos,
    forge,
    oauth,
    audit,
    voice,
    voiceGateway,
    push,
    vault,
    hygiene,
    instance,
    async close() {
      clearInterval(retry);
      await hygiene.close();
      // Voice sessions end first: their models hang up and their clients hear the peer connection close.
      await voiceGateway?.shutdown();
      stopRepoWatch();
      lists.forEach((l) => l.stop());
      users.close();
      await app.close();
      await oauth?.close();
      audit.close();
      await forge.close();
      await bot.close();
      await deliveries.close();
      await tasks.close();
      await push.close();
      readiness.close();
      closeRuntime();
      await lock.release();
      logger.flush();
    },
  };
}

// caic's OAuth 2.1 authorization server: oidc-provider configured for MCP clients, its file-backed
// state, the consent step behind a caic session, grants, and the audit of every decision.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { parse as parseQuery } from 'node:querystring';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Provider, { errors as oidcErrors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { API_RESOURCE_PATH, API_SCOPE, LOCAL_ACCOUNT, MCP_PATH, MCP_READ_SCOPES, MCP_SCOPES, type AuthProvider } from '../api/index.js';
import type { AuditSink } from '../audit/index.js';
import { ensurePrivateDir, type StoredUser } from '../config/index.js';
import { effectiveHost, isHttps } from '../http/index.js';
import type { Logger } from '../log/index.js';
import { guardedFetch, type GuardedFetchOptions } from './fetch.js';
import { loadOrCreateSigningKey, SIGNING_ALG, type SigningKey } from './keys.js';
import { chooseLoginPage, consentPage, deviceConfirmPage, deviceInputPage, errorPage } from './pages.js';
import { adapterFactory, OAuthStore } from './store.js';
import { createDeviceTokenCheck, createTokenVerifier, type DeviceTokens, type OAuthTokenVerifier } from './verifier.js';

const ACCESS_TOKEN_TTL = 3600;
const REFRESH_TOKEN_TTL = 30 * 86_400;
/** Access tokens of paired devices (the REST API): short, they are refreshed. */
const API_ACCESS_TOKEN_TTL = 900;
/**
 * A pairing lasts a year; its refresh token (rotated on each use) 30 days, so a device that stays
 * away longer than that pairs again.
 */
const DEVICE_GRANT_TTL = 365 * 86_400;
/** Where a resource is requested through a browser redirect (the authorization code flow). */
const REDIRECT_ROUTES = new Set(['authorization', 'pushed_authorization_request', 'resume']);
/** Our own record per grant, beside oidc-provider's Grant: what the grants list shows. */
const GRANT_INFO = 'CaicGrant';

export interface GrantInfo {
  id: string;
  accountId: string;
  clientId: string;
  clientName: string;
  /** mcp: tokens for the MCP endpoint; device: a paired device's tokens for the REST API. */
  kind: 'mcp' | 'device';
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

export interface OAuthServerOptions {
  /** The config directory: the server's state lives in `<dir>/oauth/`. */
  configDir: string;
  /** `external_url`, or (external_url auto) the URL the daemon listens on, known once it listens. */
  issuer: () => string;
  /** HMAC key for cookies and consent CSRF tokens (the session secret). */
  secret: Buffer;
  /** Whether login is configured; without it, the server runs only on a loopback listener. */
  loginEnabled: boolean;
  /** Login providers, for sending a person without a session to sign in. */
  providers: readonly AuthProvider[];
  /** Whether the client of a request came over https (external_url https, or the request itself). */
  secureCookies: boolean;
  audit: AuditSink;
  logger: Logger;
  /** Tests only: how Client ID Metadata Documents may be fetched (loopback, a test CA). */
  fetch?: GuardedFetchOptions;
  now?: () => number;
  /** Bounds on what anyone who passes the gate may make the server store (defaults: OAUTH_LIMITS). */
  limits?: Partial<OAuthLimits>;
}

/**
 * Registration and authorization requests need no credential, and each one is written to the
 * state file (a client, an interaction): without bounds anyone who passes the gate could grow
 * that file, rewritten whole on every change, without end.
 */
export interface OAuthLimits {
  /** Dynamic client registrations per client address per window. */
  registrations: number;
  registrationWindowMs: number;
  /** Other requests to /oauth/* per client address per minute; the token, introspection,
   * revocation and key endpoints are left out (clients authenticate there, and refreshes are many). */
  requestsPerMinute: number;
  /** Registered clients kept; beyond, the oldest that never got a grant makes room, else 429. */
  maxClients: number;
}
export const OAUTH_LIMITS: OAuthLimits = { registrations: 30, registrationWindowMs: 10 * 60_000, requestsPerMinute: 600, maxClients: 1000 };
/** Endpoints where the client authenticates: not counted against the per-address limit. */
const UNLIMITED = /^\/oauth\/(token|token\/introspection|token\/revocation|jwks)(\?|$)/;

/**
 * Consent is asked on every authorization and grants what the person ticked, which may be less
 * than was asked: the "scopes missing" checks, which would ask again until everything requested
 * is granted, are replaced by one check that this very interaction produced a consent.
 */
function consentPolicy() {
  const policy = interactionPolicy.base();
  const consent = policy.get('consent')!;
  for (const name of ['op_scopes_missing', 'op_claims_missing', 'rs_scopes_missing']) consent.checks.remove(name);
  consent.checks.add(
    new interactionPolicy.Check('caic_consent', 'the user has not consented to this request', 'consent_required', (ctx) => !ctx.oidc.result?.consent?.grantId),
  );
  return policy;
}

/** A request parameter as text ('' when absent or not a string). */
function paramText(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function mac(secret: Buffer, text: string): string {
  return createHmac('sha256', secret).update(text).digest('base64url');
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class OAuthServer {
  private provider: Provider | null = null;
  private callback: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | null = null;
  readonly verifier: OAuthTokenVerifier;
  /** Paired devices' access tokens, for the REST API's auth step (audience /api/v1 only). */
  readonly deviceTokens: DeviceTokens;
  private readonly revokedListeners: ((grantId: string) => void)[] = [];

  private constructor(
    private readonly opts: OAuthServerOptions,
    private readonly store: OAuthStore,
    private readonly key: SigningKey,
  ) {
    this.verifier = createTokenVerifier({
      issuer: () => this.issuer,
      resource: () => this.resource,
      publicKey: key.publicKey,
      grantActive: (gid) => this.store.get('Grant', gid) !== undefined,
      onUse: (gid) => this.touch(gid),
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.deviceTokens = createDeviceTokenCheck({
      issuer: () => this.issuer,
      resource: () => this.apiResource,
      requiredScope: API_SCOPE,
      publicKey: key.publicKey,
      grantActive: (gid) => this.store.get('Grant', gid) !== undefined,
      onUse: (gid) => this.touch(gid),
      revoke: (accountId, gid) => this.revokeGrant(accountId, gid),
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  /** Called with each grant that is revoked (by its user, by the client, by refresh-token reuse): open streams end. */
  onGrantRevoked(listener: (grantId: string) => void): void {
    this.revokedListeners.push(listener);
  }

  private grantRevoked(grantId: string): void {
    for (const l of this.revokedListeners) l(grantId);
  }

  static async open(opts: OAuthServerOptions): Promise<OAuthServer> {
    const dir = join(opts.configDir, 'oauth');
    await ensurePrivateDir(dir);
    const key = await loadOrCreateSigningKey(join(dir, 'signing-key.json'));
    const store = await OAuthStore.open(join(dir, 'state.json'), opts.now);
    return new OAuthServer(opts, store, key);
  }

  get issuer(): string {
    return this.opts.issuer().replace(/\/+$/, '');
  }

  get resource(): string {
    return `${this.issuer}${MCP_PATH}`;
  }

  /** The REST API as a resource: paired devices' tokens are for it. */
  get apiResource(): string {
    return `${this.issuer}${API_RESOURCE_PATH}`;
  }

  /** The resource an authorization asked for (one; default the MCP endpoint) and the scopes it may grant. */
  private resourceOf(params: Record<string, unknown>): { resource: string; scopes: readonly string[]; device: boolean } {
    const asked = paramText(params.resource);
    if (asked === this.apiResource) return { resource: asked, scopes: [API_SCOPE], device: true };
    return { resource: this.resource, scopes: MCP_SCOPES, device: false };
  }

  /** Built on first use: with external_url auto, the issuer is the listening URL. */
  private get oidc(): Provider {
    if (this.provider) return this.provider;
    const provider = new Provider(this.issuer, this.configuration());
    provider.proxy = true; // forwarded headers are rewritten by `pass` from what the edge decided
    this.wireEvents(provider);
    this.provider = provider;
    this.callback = provider.callback();
    return provider;
  }

  private configuration(): Configuration {
    const { opts } = this;
    const cookieKey = mac(opts.secret, 'caic oauth cookies');
    const resourceInfo = {
      scope: MCP_SCOPES.join(' '),
      audience: this.resource,
      accessTokenTTL: ACCESS_TOKEN_TTL,
      accessTokenFormat: 'jwt' as const,
      jwt: { sign: { alg: SIGNING_ALG } },
    };
    const apiInfo = { ...resourceInfo, scope: API_SCOPE, audience: this.apiResource, accessTokenTTL: API_ACCESS_TOKEN_TTL };
    return {
      adapter: adapterFactory(this.store),
      jwks: { keys: [this.key.privateJwk] },
      cookies: {
        keys: [cookieKey],
        names: { session: 'caic_as_session', interaction: 'caic_as_interaction', resume: 'caic_as_resume' },
        long: { signed: true, httpOnly: true, sameSite: 'lax', secure: opts.secureCookies },
        short: { signed: true, httpOnly: true, sameSite: 'lax', secure: opts.secureCookies },
      },
      routes: {
        authorization: '/oauth/authorize',
        token: '/oauth/token',
        jwks: '/oauth/jwks',
        registration: '/oauth/register',
        revocation: '/oauth/revoke',
        introspection: '/oauth/introspect',
        end_session: '/oauth/end-session',
        device_authorization: '/oauth/device_authorization',
        code_verification: '/oauth/device',
        userinfo: '/oauth/userinfo',
        pushed_authorization_request: '/oauth/par',
      },
      scopes: ['offline_access', ...MCP_SCOPES, API_SCOPE],
      claims: { openid: ['sub'] },
      responseTypes: ['code'],
      clientAuthMethods: ['none'],
      clientDefaults: {
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        id_token_signed_response_alg: SIGNING_ALG,
      },
      enabledJWA: { idTokenSigningAlgValues: [SIGNING_ALG], requestObjectSigningAlgValues: [SIGNING_ALG] },
      pkce: { required: () => true },
      ttl: {
        // Per resource: the REST API's are shorter.
        AccessToken: (_ctx, token) => (token as { resourceServer?: { accessTokenTTL?: number } }).resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL,
        AuthorizationCode: 600,
        DeviceCode: 600,
        Grant: (_ctx, grant) => (this.apiResource in ((grant as { resources?: object }).resources ?? {}) ? DEVICE_GRANT_TTL : REFRESH_TOKEN_TTL),
        IdToken: 3600,
        Interaction: 600,
        RefreshToken: REFRESH_TOKEN_TTL,
        Session: 600,
      },
      rotateRefreshToken: true,
      issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      // Consent every time: a grant is never reused silently from an earlier one.
      loadExistingGrant: (ctx) => {
        const grantId = ctx.oidc.result?.consent?.grantId;
        return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
      },
      extraTokenClaims: (_ctx, token) => ({ gid: (token as { grantId?: string }).grantId }),
      findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
      interactions: { policy: consentPolicy(), url: (_ctx, interaction) => `/oauth/interaction/${interaction.uid}` },
      renderError: (ctx, out) => {
        ctx.type = 'html';
        ctx.body = errorPage('Authorization failed', `${out.error}: ${out.error_description ?? ''}`);
      },
      fetch: guardedFetch(opts.fetch) as unknown as Configuration['fetch'],
      allowOmittingSingleRegisteredRedirectUri: false,
      features: {
        devInteractions: { enabled: false },
        userinfo: { enabled: false },
        rpInitiatedLogout: { enabled: false },
        registration: { enabled: true, initialAccessToken: false },
        registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
        // A public client may introspect or revoke only its own tokens.
        revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
        introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token?.clientId === client.clientId },
        // Pinned to the draft this version implements: an update that changes it fails at start instead of drifting.
        clientIdMetadataDocument: { enabled: true, ack: 'draft-02' } as unknown as { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => this.resource,
          useGrantedResource: () => true,
          // A refresh token gets tokens only for the resource it was issued for (oidc-provider checks
          // it): an MCP grant never yields a REST API token, nor a device's an MCP one.
          getResourceServerInfo: (ctx, indicator) => {
            if (indicator === this.resource) return resourceInfo;
            if (indicator === this.apiResource) {
              // The REST API is paired through the device flow only, never through a browser redirect.
              if (REDIRECT_ROUTES.has(ctx.oidc.route)) throw new oidcErrors.InvalidTarget(`${this.apiResource} is granted through device pairing (RFC 8628) only`);
              return apiInfo;
            }
            throw new oidcErrors.InvalidTarget(`this server issues tokens for ${this.resource} and ${this.apiResource} only`);
          },
        },
        deviceFlow: {
          enabled: true,
          userCodeInputSource: (ctx, form, _out, err) => {
            ctx.body = deviceInputPage(form, err ? 'That code is not valid; try again.' : undefined);
          },
          userCodeConfirmSource: (ctx, form, client, _info, userCode) => {
            const params = (ctx.oidc.entities.DeviceCode as { params?: Record<string, unknown> } | undefined)?.params ?? {};
            const { scopes } = this.resourceOf(params);
            const asked = paramText(params.scope).split(' ').filter((s) => scopes.includes(s));
            ctx.body = deviceConfirmPage(form, userCode, client.clientName ?? client.clientId, client.clientId, asked.length > 0 ? asked : [...scopes].slice(0, 2));
          },
          successSource: (ctx) => {
            ctx.body = errorPage('Device connected', 'You can go back to your device.');
          },
        },
      },
    };
  }

  private wireEvents(provider: Provider): void {
    const audit = this.opts.audit;
    const who = (ctx: KoaContextWithOIDC | undefined) => ({
      client: ctx?.oidc?.client?.clientId,
      ip: (ctx?.req as IncomingMessage & { caicIp?: string })?.caicIp,
    });
    provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
      const grantType = paramText(ctx.oidc.params?.grant_type);
      const gid = ctx.oidc.entities.Grant?.jti ?? ctx.oidc.entities.AccessToken?.grantId;
      const event = grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued';
      audit.append({ event, grantType, grant: gid, user: ctx.oidc.entities.Account?.accountId, ...who(ctx), decision: 'allow' });
      if (gid) this.touch(gid);
    });
    provider.on('grant.error', (ctx: KoaContextWithOIDC, err: Error & { error?: string; error_detail?: string }) => {
      const reuse = err.error_detail === 'refresh token already used';
      audit.append({
        event: reuse ? 'refresh.reuse_detected' : 'token.refused',
        grantType: paramText(ctx.oidc?.params?.grant_type),
        error: err.error,
        reason: err.error_detail,
        ...who(ctx),
        decision: 'deny',
      });
      if (reuse) this.opts.logger.warn({ client: ctx.oidc?.client?.clientId }, 'refresh token reuse: the whole grant is revoked');
    });
    provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
      audit.append({ event: 'grant.revoked', grant: grantId, by: ctx.oidc?.route, ...who(ctx) });
      void this.store.remove(GRANT_INFO, grantId);
      this.grantRevoked(grantId);
    });
    // The device pages (code entry, confirmation, the auto-submitted form): no framing (a framed
    // confirmation could be clicked by someone else's page), scripts only by hash, and a referrer
    // policy under which Chromium sends the form's Origin (with no-referrer it sends `Origin: null`,
    // which the cross-site check refuses).
    provider.use(async (koaCtx, next) => {
      if (koaCtx.path.startsWith('/oauth/device')) {
        koaCtx.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'");
        koaCtx.set('x-frame-options', 'DENY');
        koaCtx.set('referrer-policy', 'same-origin');
        koaCtx.set('cache-control', 'no-store');
      }
      await next();
    });
    // RFC 7009 answers 200 whether or not the token existed; what was revoked is in the entities.
    provider.use(async (koaCtx, next) => {
      await next();
      const ctx = koaCtx as unknown as KoaContextWithOIDC;
      if (ctx.oidc?.route === 'revocation' && ctx.status === 200) {
        const kind = ctx.oidc.entities.RefreshToken ? 'refresh_token' : ctx.oidc.entities.AccessToken ? 'access_token' : 'unknown';
        audit.append({ event: 'token.revoked', kind, ...who(ctx) });
      }
    });
    provider.on('registration_create.success', (ctx: KoaContextWithOIDC, client: { clientId: string; clientName?: string }) =>
      audit.append({ event: 'client.registered', client: client.clientId, clientName: client.clientName }),
    );
    provider.on('registration_delete.success', (ctx: KoaContextWithOIDC, client: { clientId: string }) =>
      audit.append({ event: 'client.deleted', client: client.clientId }),
    );
    provider.on('server_error', (_ctx: unknown, err: Error) => this.opts.logger.error({ err }, 'oauth server error'));
  }

  private touch(grantId: string): void {
    const info = this.store.get(GRANT_INFO, grantId);
    if (info) info.lastUsedAt = new Date(this.opts.now?.() ?? Date.now()).toISOString(); // written with the next change
  }

  /** Grants of one account, newest first. */
  grants(accountId: string): GrantInfo[] {
    const out: GrantInfo[] = [];
    for (const [id, g] of this.store.entries('Grant')) {
      if (g.accountId !== accountId) continue;
      const info = this.store.get(GRANT_INFO, id) ?? {};
      const resources = (g.resources ?? {}) as Record<string, string>;
      const device = this.apiResource in resources;
      out.push({
        id,
        accountId,
        clientId: String(g.clientId),
        clientName: String(info.clientName ?? g.clientId),
        kind: device ? 'device' : 'mcp',
        scopes: (resources[device ? this.apiResource : this.resource] ?? '').split(' ').filter(Boolean),
        createdAt: new Date(Number(g.iat) * 1000).toISOString(),
        lastUsedAt: typeof info.lastUsedAt === 'string' ? info.lastUsedAt : null,
        expiresAt: typeof g.exp === 'number' ? new Date(g.exp * 1000).toISOString() : null,
      });
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Revokes a grant of this account and every token it issued; false when there is none. */
  async revokeGrant(accountId: string, grantId: string): Promise<boolean> {
    const g = this.store.get('Grant', grantId);
    if (!g || g.accountId !== accountId) return false;
    for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode']) await this.store.removeByGrant(model, grantId);
    await this.store.remove('Grant', grantId);
    await this.store.remove(GRANT_INFO, grantId);
    this.opts.audit.append({ event: 'grant.revoked', grant: grantId, user: accountId, client: g.clientId, by: 'user' });
    this.grantRevoked(grantId);
    return true;
  }

  /** Unpairs every device of this account ("sign out everywhere"); MCP clients stay connected. How many. */
  async revokeDevices(accountId: string): Promise<number> {
    let n = 0;
    for (const g of this.grants(accountId)) if (g.kind === 'device' && (await this.revokeGrant(accountId, g.id))) n++;
    return n;
  }

  /** RFC 9728 metadata of the REST API (paired devices). */
  apiResourceMetadata(): Record<string, unknown> {
    return {
      resource: this.apiResource,
      authorization_servers: [this.issuer],
      scopes_supported: [API_SCOPE],
      bearer_methods_supported: ['header'],
      resource_name: 'caic API',
      resource_documentation: 'https://github.com/caic-xyz/caic/blob/main/android-api/README.md',
    };
  }

  /** RFC 9728 metadata of the MCP endpoint. */
  protectedResourceMetadata(): Record<string, unknown> {
    return {
      resource: this.resource,
      authorization_servers: [this.issuer],
      scopes_supported: MCP_SCOPES,
      bearer_methods_supported: ['header'],
      resource_name: 'caic',
      resource_documentation: 'https://github.com/caic-xyz/caic',
    };
  }

  /** Hands a request to oidc-provider as it came (its body unread), with forwarded headers set from the edge's verdict. */
  pass(req: FastifyRequest, reply: FastifyReply, url?: string): void {
    void this.oidc; // built on first use
    const raw = req.raw as IncomingMessage & { caicIp?: string };
    raw.headers['x-forwarded-proto'] = this.opts.secureCookies || isHttps(req) ? 'https' : 'http';
    raw.headers['x-forwarded-host'] = effectiveHost(req) ?? '';
    delete raw.headers['x-forwarded-for'];
    raw.caicIp = req.client?.ip;
    if (url) raw.url = url;
    // Security headers the edge set on the reply go out on the raw response too.
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) reply.raw.setHeader(k, v);
    reply.hijack();
    void this.callback!(raw, reply.raw);
  }

  /** The account the authorize step acts for: the caic session's user, or `local` with no login. */
  private account(req: FastifyRequest): { id: string; name: string } | null {
    if (!this.opts.loginEnabled) return { id: LOCAL_ACCOUNT, name: 'you (no login configured)' };
    const user: StoredUser | null = req.user;
    return user ? { id: user.id, name: `${user.username} (${user.provider})` } : null;
  }

  private csrf(uid: string, accountId: string): string {
    return mac(this.opts.secret, `consent:${uid}:${accountId}`);
  }

  /** The authorization request behind an interaction page; null when it is over (the error page is sent). */
  private async interaction(req: FastifyRequest, reply: FastifyReply): Promise<Awaited<ReturnType<Provider['interactionDetails']>> | null> {
    try {
      return await this.oidc.interactionDetails(req.raw, reply.raw);
    } catch {
      this.page(reply, 400, errorPage('Authorization expired', 'This authorization request is over or unknown; start again from the app.'));
      return null;
    }
  }

  /** GET /oauth/interaction/:uid — sign in if needed, then the consent page. */
  async showInteraction(req: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply): Promise<FastifyReply> {
    const provider = this.oidc;
    const details = await this.interaction(req, reply);
    if (!details) return reply;
    if (details.uid !== req.params.uid) return this.page(reply, 400, errorPage('Authorization mismatch', 'This page belongs to another authorization request.'));
    const account = this.account(req);
    if (!account) {
      const next = encodeURIComponent(`/oauth/interaction/${details.uid}`);
      const links = this.opts.providers.map((p) => ({ provider: p, href: `/api/v1/auth/${p}/start?next=${next}` }));
      if (links.length === 1) return reply.redirect(links[0]!.href, 302);
      return this.page(reply, 200, chooseLoginPage(links));
    }
    const client = await provider.Client.find(String(details.params.client_id));
    if (!client) return this.page(reply, 400, errorPage('Unknown app', 'The app that asked is not registered here any more.'));
    const target = this.resourceOf(details.params);
    const requested = paramText(details.params.scope).split(' ').filter((s) => target.scopes.includes(s));
    const scopes = requested.length > 0 ? requested : target.device ? [API_SCOPE] : [...MCP_READ_SCOPES];
    const redirect = typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : '';
    let redirectHost: string;
    try {
      redirectHost = new URL(redirect).host || redirect;
    } catch {
      redirectHost = redirect;
    }
    return this.page(
      reply,
      200,
      consentPage({
        uid: details.uid,
        csrf: this.csrf(details.uid, account.id),
        clientName: client.clientName ?? client.clientId,
        clientId: client.clientId,
        redirectHost,
        scopes,
        username: account.name,
        // The device flow has no redirect: the person goes back to their device instead.
        device: !redirect,
        pairing: target.device,
      }),
    );
  }

  /** POST /oauth/interaction/:uid — the consent form: grants exactly what was ticked, or denies. */
  async submitInteraction(req: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply): Promise<FastifyReply | void> {
    const provider = this.oidc;
    const details = await this.interaction(req, reply);
    if (!details) return reply;
    const account = this.account(req);
    if (!account) return this.page(reply, 401, errorPage('Sign-in required', 'Your caic session ended; start again from the app.'));
    const body = typeof req.body === 'string' ? parseQuery(req.body) : {};
    const csrf = typeof body.csrf === 'string' ? body.csrf : '';
    if (details.uid !== req.params.uid || !equal(csrf, this.csrf(details.uid, account.id))) {
      return this.page(reply, 403, errorPage('Request refused', 'The consent form did not come from this page (CSRF check failed).'));
    }
    const clientId = String(details.params.client_id);
    const client = await provider.Client.find(clientId);
    const target = this.resourceOf(details.params);
    const asked = paramText(details.params.scope).split(' ').filter((s) => target.scopes.includes(s));
    const offered = asked.length > 0 ? asked : target.device ? [API_SCOPE] : [...MCP_READ_SCOPES];
    const ticked = ([] as string[]).concat(body.scope ?? []).filter((s) => offered.includes(s));
    const base = { user: account.id, client: clientId, clientName: client?.clientName, resource: target.resource, requested: offered };
    if (body.decision !== 'allow' || ticked.length === 0) {
      this.opts.audit.append({ event: 'consent.denied', ...base, decision: 'deny' });
      const result = { error: 'access_denied', error_description: 'the user did not allow this app' };
      reply.hijack();
      return provider.interactionFinished(req.raw, reply.raw, result, { mergeWithLastSubmission: false });
    }
    const grant = new provider.Grant({ accountId: account.id, clientId });
    grant.addResourceScope(target.resource, ticked.join(' '));
    if (paramText(details.params.scope).split(' ').includes('offline_access')) grant.addOIDCScope('offline_access');
    const grantId = await grant.save();
    await this.store.put(GRANT_INFO, grantId, { clientName: client?.clientName ?? clientId, lastUsedAt: null }, target.device ? DEVICE_GRANT_TTL : REFRESH_TOKEN_TTL);
    this.opts.audit.append({ event: 'consent.given', ...base, granted: ticked, grant: grantId, decision: 'allow' });
    reply.hijack();
    return provider.interactionFinished(
      req.raw,
      reply.raw,
      { login: { accountId: account.id }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  private page(reply: FastifyReply, status: number, html: string): FastifyReply {
    return reply
      .code(status)
      .header('cache-control', 'no-store')
      // No form-action: after consent the browser is redirected to the client's registered URI, which may be any scheme.
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
      .header('x-frame-options', 'DENY')
      // With no-referrer, Chromium sends `Origin: null` for the form's POST, which the cross-site check refuses.
      .header('referrer-policy', 'same-origin')
      .type('text/html; charset=utf-8')
      .send(html);
  }

  /** Registers the server's routes: oidc-provider's endpoints, discovery, consent. */
  async register(app: FastifyInstance): Promise<void> {
    const limits = { ...OAUTH_LIMITS, ...this.opts.limits };
    const byAddress = (req: FastifyRequest) => req.client?.ip ?? req.ip;
    const tooMany = (what: string) => (_req: FastifyRequest, ctx: { after: string }) =>
      Object.assign(new Error(`rate limit: too many ${what} from this address; retry in ${ctx.after}`), { statusCode: 429 });
    // oidc-provider reads its own request bodies: this scope leaves every body unread.
    await app.register(async (scope) => {
      await scope.register(rateLimit, { global: false, hook: 'onRequest' });
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
      const pass = (req: FastifyRequest, reply: FastifyReply) => this.pass(req, reply);
      scope.post('/oauth/register', {
        config: {
          access: 'public',
          rateLimit: { max: limits.registrations, timeWindow: limits.registrationWindowMs, keyGenerator: byAddress, errorResponseBuilder: tooMany('client registrations') },
        },
        handler: async (req, reply) => {
          if (!(await this.roomForClient(limits.maxClients))) {
            return reply.code(429).header('retry-after', '3600').send({ error: 'temporarily_unavailable', error_description: 'too many registered clients; an administrator must revoke unused ones' });
          }
          this.pass(req, reply);
          return reply;
        },
      });
      scope.route({
        method: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
        url: '/oauth/*',
        config: {
          access: 'public',
          rateLimit: {
            max: limits.requestsPerMinute,
            timeWindow: 60_000,
            keyGenerator: byAddress,
            allowList: (req: FastifyRequest) => UNLIMITED.test(req.url),
            errorResponseBuilder: tooMany('OAuth requests'),
          },
        },
        handler: pass,
      });
      scope.get('/.well-known/openid-configuration', { config: { access: 'public' } }, pass);
      // RFC 8414: the same document at its OAuth name.
      scope.get('/.well-known/oauth-authorization-server', { config: { access: 'public' } }, (req, reply) =>
        this.pass(req, reply, '/.well-known/openid-configuration'),
      );
    });
    await app.register((scope, _opts, done) => {
      scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_req, body, done) => done(null, body));
      scope.get<{ Params: { uid: string } }>('/oauth/interaction/:uid', { config: { access: 'public' } }, (req, reply) => this.showInteraction(req, reply));
      scope.post<{ Params: { uid: string } }>('/oauth/interaction/:uid', { config: { access: 'public' } }, (req, reply) => this.submitInteraction(req, reply));
      done();
    });
    const prm = (_req: FastifyRequest, reply: FastifyReply) => reply.header('cache-control', 'max-age=300').send(this.protectedResourceMetadata());
    app.get(`/.well-known/oauth-protected-resource${MCP_PATH}`, { config: { access: 'public' } }, prm);
    app.get('/.well-known/oauth-protected-resource', { config: { access: 'public' } }, prm);
    app.get(`/.well-known/oauth-protected-resource${API_RESOURCE_PATH}`, { config: { access: 'public' } }, (_req, reply) =>
      reply.header('cache-control', 'max-age=300').send(this.apiResourceMetadata()),
    );
  }

  /**
   * Makes room for one more registered client under the cap: the oldest client that holds no grant
   * (registered, then abandoned) goes, with its registration access token. False when every client
   * holds a grant: the person revokes what they no longer use.
   */
  private async roomForClient(max: number): Promise<boolean> {
    const clients = [...this.store.entries('Client')];
    if (clients.length < max) return true;
    const granted = new Set<unknown>();
    for (const [, g] of this.store.entries('Grant')) granted.add(g.clientId);
    const idle = clients
      .filter(([, c]) => !granted.has(c.client_id))
      .sort(([, a], [, b]) => Number(a.client_id_issued_at ?? 0) - Number(b.client_id_issued_at ?? 0));
    const excess = clients.length - max + 1;
    if (idle.length < excess) return false;
    for (const [id, c] of idle.slice(0, excess)) {
      await this.store.remove('Client', id);
      await this.store.removeWhere('RegistrationAccessToken', (t) => t.clientId === c.client_id);
      this.opts.audit.append({ event: 'client.evicted', client: String(c.client_id), reason: 'client cap reached; it held no grant' });
    }
    return true;
  }

  async close(): Promise<void> {
    await this.store.flush();
  }
}

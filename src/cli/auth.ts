// The CLI as a paired device (RFC 8628 on caic's authorization server): discovery, registration,
// the device flow, refresh with rotation under the token lock, revocation; and the fetch that
// carries the access token, refreshing it before it expires and once on a 401.
import { hostname } from 'node:os';
import { z } from 'zod';
import { API_RESOURCE_PATH, API_SCOPE } from '../api/index.js';
import { UserError } from '../config/index.js';
import type { StoredTokens, TokenStore } from './tokens.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Refresh this long before the access token expires: clocks differ and a request takes time. */
const REFRESH_MARGIN_MS = 60_000;
const REQUEST_TIMEOUT_MS = 30_000;

const ProtectedResource = z.object({ resource: z.string(), authorization_servers: z.array(z.string()).min(1) });
const AuthServer = z.object({
  issuer: z.string(),
  token_endpoint: z.string(),
  device_authorization_endpoint: z.string(),
  registration_endpoint: z.string(),
  revocation_endpoint: z.string().optional(),
});
const DeviceStart = z.object({
  device_code: z.string(),
  user_code: z.string(),
  verification_uri: z.string(),
  verification_uri_complete: z.string().optional(),
  expires_in: z.number(),
  interval: z.number().optional(),
});
export type DeviceStart = z.infer<typeof DeviceStart>;
const TokenResp = z.object({ access_token: z.string(), expires_in: z.number(), refresh_token: z.string() });
const OAuthError = z.object({ error: z.string(), error_description: z.string().optional() });

/** A not-signed-in state: the message says what to run. */
export class NotSignedIn extends UserError {}

export function loginHint(server: string): string {
  return `run caic login ${server}`;
}

async function getJson(url: string, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new UserError(`${what}: ${url}: ${networkReason(err)}`);
  }
  if (!res.ok) throw new UserError(`${what}: ${url} answered HTTP ${res.status}`);
  try {
    return await res.json();
  } catch {
    throw new UserError(`${what}: ${url} did not answer JSON`);
  }
}

/** Why a fetch failed, in a few words (undici hides the reason in `cause`). */
export function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/** POSTs a form to an OAuth endpoint: the JSON answer and the status. */
async function postForm(url: string, fields: Record<string, string>): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(fields).toString(),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new UserError(`${url}: ${networkReason(err)}`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  return { status: res.status, body };
}

export interface Endpoints {
  resource: string;
  tokenEndpoint: string;
  deviceEndpoint: string;
  registrationEndpoint: string;
  revocationEndpoint?: string;
}

/** The REST API's authorization server, found the standard way (RFC 9728, then RFC 8414). */
export async function discover(server: string): Promise<Endpoints> {
  const prm = ProtectedResource.safeParse(await getJson(`${server}/.well-known/oauth-protected-resource${API_RESOURCE_PATH}`, 'the API’s sign-in metadata'));
  if (!prm.success) throw new UserError(`${server} does not describe how to sign in to its API (is it caic?)`);
  const issuer = prm.data.authorization_servers[0]!.replace(/\/$/, '');
  const as = AuthServer.safeParse(await getJson(`${issuer}/.well-known/oauth-authorization-server`, 'the authorization server’s metadata'));
  if (!as.success) throw new UserError(`${issuer} does not offer device pairing`);
  return {
    resource: prm.data.resource,
    tokenEndpoint: as.data.token_endpoint,
    deviceEndpoint: as.data.device_authorization_endpoint,
    registrationEndpoint: as.data.registration_endpoint,
    ...(as.data.revocation_endpoint ? { revocationEndpoint: as.data.revocation_endpoint } : {}),
  };
}

/** Registers this installation (RFC 7591) under a name that says which machine it is. */
export async function registerClient(ep: Endpoints): Promise<string> {
  let res: Response;
  try {
    res = await fetch(ep.registrationEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        client_name: `caic on ${hostname()}`.slice(0, 100),
        grant_types: [DEVICE_GRANT, 'refresh_token'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
      }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new UserError(`${ep.registrationEndpoint}: ${networkReason(err)}`);
  }
  const body = (await res.json().catch(() => undefined)) as { client_id?: unknown; error_description?: unknown } | undefined;
  if (res.status !== 201 || typeof body?.client_id !== 'string') {
    throw new UserError(`registering this device failed: HTTP ${res.status}${typeof body?.error_description === 'string' ? `: ${body.error_description}` : ''}`);
  }
  return body.client_id;
}

export async function startDeviceFlow(ep: Endpoints, clientId: string): Promise<DeviceStart> {
  const { status, body } = await postForm(ep.deviceEndpoint, { client_id: clientId, scope: `${API_SCOPE} offline_access`, resource: ep.resource });
  const r = DeviceStart.safeParse(body);
  if (status !== 200 || !r.success) throw new UserError(`starting the pairing failed: ${oauthError(status, body)}`);
  return r.data;
}

function oauthError(status: number, body: unknown): string {
  const e = OAuthError.safeParse(body);
  return e.success ? `${e.data.error}${e.data.error_description ? ` (${e.data.error_description})` : ''}` : `HTTP ${status}`;
}

/**
 * Polls the token endpoint at the server's interval (plus 5 s on each slow_down, RFC 8628 §3.5)
 * until the person allows or denies, or the code expires.
 */
export async function pollDeviceFlow(ep: Endpoints, clientId: string, start: DeviceStart, now = Date.now): Promise<z.infer<typeof TokenResp>> {
  let intervalMs = Math.max(1, start.interval ?? 5) * 1000;
  const deadline = now() + start.expires_in * 1000;
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const { status, body } = await postForm(ep.tokenEndpoint, { grant_type: DEVICE_GRANT, device_code: start.device_code, client_id: clientId });
    const ok = TokenResp.safeParse(body);
    if (status === 200 && ok.success) return ok.data;
    const error = OAuthError.safeParse(body).data?.error;
    if (error === 'authorization_pending' && now() < deadline) continue;
    if (error === 'slow_down') {
      intervalMs += 5000;
      continue;
    }
    if (error === 'access_denied') throw new UserError('the pairing was denied in the browser');
    if (error === 'expired_token' || error === 'authorization_pending') throw new UserError('the code expired before it was approved; run caic login again');
    throw new UserError(`pairing failed: ${oauthError(status, body)}`);
  }
}

export function storedFrom(server: string, ep: Endpoints, clientId: string, t: z.infer<typeof TokenResp>, user?: string): StoredTokens {
  return {
    server,
    clientId,
    tokenEndpoint: ep.tokenEndpoint,
    ...(ep.revocationEndpoint ? { revocationEndpoint: ep.revocationEndpoint } : {}),
    accessToken: t.access_token,
    accessExpiresAt: Date.now() + t.expires_in * 1000,
    refreshToken: t.refresh_token,
    ...(user ? { user } : {}),
  };
}

/** Ends the pairing on the server (RFC 7009 with the refresh token: revokes the whole grant). */
export async function revoke(t: StoredTokens): Promise<void> {
  if (!t.revocationEndpoint) throw new UserError(`${t.server}: no revocation endpoint known; unpair the device in Settings → Connected apps`);
  const { status, body } = await postForm(t.revocationEndpoint, { token: t.refreshToken, token_type_hint: 'refresh_token', client_id: t.clientId });
  if (status !== 200) throw new UserError(`unpairing failed: ${oauthError(status, body)}`);
}

/**
 * The access side of a stored pairing: `fetch` adds the bearer token, refreshes it shortly before
 * it expires, and on a 401 refreshes once and tries again. Without stored tokens requests go out
 * without one (a server without login needs none).
 */
export class Session {
  constructor(
    readonly server: string,
    private readonly store: TokenStore,
  ) {}

  readonly fetch: typeof globalThis.fetch = async (input, init) => {
    const token = await this.accessToken();
    const res = await globalThis.fetch(input, withBearer(init, token));
    if (res.status !== 401 || token === null) return res;
    await res.body?.cancel().catch(() => undefined);
    const again = await this.refresh(token);
    return globalThis.fetch(input, withBearer(init, again));
  };

  /** A usable access token (refreshed when it is about to expire), or null when not paired. */
  async accessToken(): Promise<string | null> {
    const t = await this.store.read();
    if (!t) return null;
    if (t.accessExpiresAt - Date.now() > REFRESH_MARGIN_MS) return t.accessToken;
    return this.refresh(null);
  }

  /**
   * Rotates the refresh token under the lock. Another process may have refreshed while this one
   * waited: the file is read again inside the lock and a newer access token is taken as it is.
   * `rejected`: the access token the server just refused (refresh even though it has not expired).
   */
  async refresh(rejected: string | null): Promise<string> {
    return this.store.locked(async () => {
      const t = await this.store.read();
      if (!t) throw new NotSignedIn(`not signed in to ${this.server}: ${loginHint(this.server)}`);
      const fresh = t.accessExpiresAt - Date.now() > REFRESH_MARGIN_MS;
      if (rejected === null ? fresh : t.accessToken !== rejected) return t.accessToken;
      const { status, body } = await postForm(t.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: t.refreshToken, client_id: t.clientId });
      const ok = TokenResp.safeParse(body);
      if (status === 200 && ok.success) {
        await this.store.write({ ...t, accessToken: ok.data.access_token, accessExpiresAt: Date.now() + ok.data.expires_in * 1000, refreshToken: ok.data.refresh_token });
        return ok.data.access_token;
      }
      if (OAuthError.safeParse(body).data?.error === 'invalid_grant') {
        // The pairing is over (revoked in Settings, signed out everywhere, expired): its tokens are worthless.
        await this.store.remove();
        throw new NotSignedIn(`the pairing with ${this.server} has ended (revoked, signed out everywhere, or expired): ${loginHint(this.server)}`);
      }
      throw new UserError(`refreshing the sign-in failed: ${oauthError(status, body)}`);
    });
  }
}

function withBearer(init: RequestInit | undefined, token: string | null): RequestInit {
  const headers = new Headers(init?.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  return { ...init, headers };
}

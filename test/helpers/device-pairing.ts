// A paired device's side of device pairing (RFC 8628 against caic's authorization server): register,
// start, poll, refresh; and a person's approval walked over HTTP with a session cookie.
import assert from 'node:assert/strict';
import { call, consentForm, CookieJar, follow, form, register, token, type WalkTarget } from './oauth-walk.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DeviceStart {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export interface DeviceTokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  scope: string;
  token_type: string;
}

/** Registers a device client (RFC 7591) under the name the approval page shows. */
export async function registerDevice(t: WalkTarget, name: string): Promise<string> {
  const c = await register(t, { client_name: name, grant_types: [DEVICE_GRANT, 'refresh_token'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'none' });
  return c.client_id;
}

/** Starts pairing for the REST API (resource `<origin>/api/v1`, scope caic:api, with a refresh token). */
export async function startPairing(t: WalkTarget, clientId: string, origin: string, extra: Record<string, string> = {}): Promise<DeviceStart> {
  const res = await call(t, '/oauth/device_authorization', {
    method: 'POST',
    body: form({ client_id: clientId, scope: 'caic:api offline_access', resource: `${origin}/api/v1`, ...extra }),
  });
  assert.equal(res.status, 200, res.body);
  return res.json<DeviceStart>();
}

/** One poll of the token endpoint: the tokens, or the OAuth error (authorization_pending, access_denied, ...). */
export async function pollOnce(t: WalkTarget, clientId: string, deviceCode: string): Promise<DeviceTokens | { error: string }> {
  const res = await token(t, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId });
  return res.json();
}

export async function refresh(t: WalkTarget, clientId: string, refreshToken: string): Promise<{ status: number; body: DeviceTokens & { error?: string } }> {
  const res = await token(t, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
  return { status: res.status, body: res.json() };
}

/**
 * A signed-in person approves a user code over HTTP: the code page, its confirmation, the consent
 * page (allow with what is ticked), and the "device connected" page.
 */
export async function approveOverHttp(t: WalkTarget, session: string, userCode: string): Promise<string> {
  const jar = new CookieJar();
  jar.cookies.set('caic_session', session);
  const html = { accept: 'text/html' };
  // The auto-submitted form that carries the code (verification_uri_complete).
  const auto = await call(t, `/oauth/device?user_code=${encodeURIComponent(userCode)}`, { jar, headers: html });
  assert.equal(auto.status, 200, auto.body.slice(0, 300));
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(auto.body)?.[1];
  assert.ok(xsrf, auto.body.slice(0, 300));
  const confirmPage = await call(t, '/oauth/device', { method: 'POST', jar, headers: html, body: form({ xsrf, user_code: userCode }) });
  assert.equal(confirmPage.status, 200, confirmPage.body.slice(0, 300));
  const xsrf2 = /name="xsrf" value="([^"]+)"/.exec(confirmPage.body)?.[1];
  assert.ok(xsrf2);
  const confirmed = await call(t, '/oauth/device', { method: 'POST', jar, headers: html, body: form({ xsrf: xsrf2, user_code: userCode, confirm: 'yes' }) });
  const consent = await follow(t, confirmed, jar);
  assert.ok(!(consent instanceof URL), 'the consent page');
  const f = consentForm(consent.body);
  const posted = await call(t, f.action, { method: 'POST', jar, headers: html, body: form({ csrf: f.csrf, scope: f.checked, decision: 'allow' }) });
  const done = await follow(t, posted, jar);
  assert.ok(!(done instanceof URL));
  assert.match(done.body, /Device connected/);
  return confirmPage.body;
}

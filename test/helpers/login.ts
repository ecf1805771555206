// Signs a user in through the real OAuth flow against the stub forge and returns headers that
// carry the session (the daemon must be configured with an external_url of https://<host>).
import assert from 'node:assert/strict';
import { cookiePair, http } from './http.js';
import type { StubForge, StubUser } from './stub-forge.js';

/** The session cookie (`caic_session=<token>`) of `user`, signed in through the stub forge. */
export async function signInCookie(daemonUrl: string, host: string, stub: StubForge, user: StubUser, provider: 'github' | 'gitlab' = 'github'): Promise<string> {
  stub.user = user;
  const start = await http(`${daemonUrl}/api/v1/auth/${provider}/start`, { headers: { host } });
  assert.equal(start.status, 302, start.body);
  const state = cookiePair(start.setCookies.find((c) => c.startsWith('caic_oauth_state='))!);
  const approve = await http(String(start.headers.location));
  assert.equal(approve.status, 302, approve.body);
  const back = new URL(String(approve.headers.location));
  const done = await http(`${daemonUrl}${back.pathname}${back.search}`, { headers: { host, cookie: state, accept: 'text/html' } });
  const session = done.setCookies.find((c) => c.startsWith('caic_session='));
  assert.ok(session, `signed in (${done.status}: ${done.body.slice(0, 200)})`);
  return cookiePair(session);
}

/** Headers that carry `user`'s session as a bearer token (and the host the daemon expects). */
export async function signIn(daemonUrl: string, host: string, stub: StubForge, user: StubUser, provider: 'github' | 'gitlab' = 'github'): Promise<Record<string, string>> {
  const cookie = await signInCookie(daemonUrl, host, stub, user, provider);
  return { host, authorization: `Bearer ${cookie.slice('caic_session='.length)}` };
}

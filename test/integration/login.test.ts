// The OAuth login flow end to end against a local stand-in for GitHub and GitLab, then sessions in use.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { cookieAttributes, cookiePair, http, type HttpResponse } from '../helpers/http.js';
import { CLIENT, githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';

const HOST = 'caic.test';
type Envelope = { error: { code: string; message: string } };

function configFor(stub: StubForge): string {
  return `
[server]
allow_origins = ["local"]
external_url = "https://${HOST}"
${githubLoginToml(stub, ['octocat', 'GitLabber'])}[gitlab]
url = "${stub.url}"
[gitlab.oauth]
client_id = "${CLIENT.gitlab.id}"
client_secret = "${CLIENT.gitlab.secret}"
allowed_users = ["gitlabber"]
`;
}

/** A protected route, to see requireUser at work (every /api/ route is protected unless marked public). */
const protectedRoute = (app: FastifyInstance) => {
  app.get('/api/v1/test/protected', (req) => ({ user: req.user?.username ?? null }));
};

interface Flow {
  start: HttpResponse;
  stateCookie: string;
  callbackPath: string;
}

/** Start → provider authorize (auto-approves) → the callback URL our browser would open. */
async function beginLogin(d: TestDaemon, provider: 'github' | 'gitlab', query = ''): Promise<Flow> {
  const start = await http(`${d.url}/api/v1/auth/${provider}/start${query}`, { headers: { host: HOST } });
  assert.equal(start.status, 302, start.body);
  const stateSetCookie = start.setCookies.find((c) => c.startsWith('caic_oauth_state='))!;
  const attrs = cookieAttributes(stateSetCookie);
  assert.ok('httponly' in attrs && 'secure' in attrs);
  assert.equal(attrs.samesite?.toLowerCase(), 'lax');
  assert.equal(attrs['max-age'], '600');
  const authorize = new URL(String(start.headers.location));
  assert.equal(authorize.searchParams.get('redirect_uri'), `https://${HOST}/api/v1/auth/${provider}/callback`);
  const approve = await http(authorize.toString());
  assert.equal(approve.status, 302);
  const callback = new URL(String(approve.headers.location));
  assert.equal(callback.host, HOST);
  return { start, stateCookie: cookiePair(stateSetCookie), callbackPath: `${callback.pathname}${callback.search}` };
}

function callback(d: TestDaemon, path: string, cookie?: string, accept = 'text/html'): Promise<HttpResponse> {
  return http(`${d.url}${path}`, { headers: { host: HOST, accept, ...(cookie ? { cookie } : {}) } });
}

function stateCleared(res: HttpResponse): boolean {
  const c = res.setCookies.find((s) => s.startsWith('caic_oauth_state='));
  return c !== undefined && /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c);
}

async function storedUsers(d: TestDaemon): Promise<{ username: string; accessToken: string; refreshToken: string }[]> {
  return (JSON.parse(await readFile(join(d.configDir, 'users.json'), 'utf8')) as { users: [] }).users;
}

describe('OAuth login', () => {
  let stub: StubForge;
  let d: TestDaemon;
  before(async () => {
    stub = await startStubForge();
    // No web UI build: `/` is the status page, which shows the signed-in user.
    d = await startTestDaemon(configFor(stub), { extend: protectedRoute, webDir: null });
  });
  after(async () => {
    await d[Symbol.asyncDispose]();
    await stub.close();
  });

  test('server config lists both providers; protected routes need a session', async () => {
    const cfg = (await http(`${d.url}/api/v1/server/config`, { headers: { host: HOST } })).json<{ authEnabled: boolean; authProviders: string[] }>();
    assert.deepEqual(cfg, { ...cfg, authEnabled: true, authProviders: ['github', 'gitlab'] });
    const anon = await http(`${d.url}/api/v1/test/protected`, { headers: { host: HOST } });
    assert.equal(anon.status, 401);
    assert.equal(anon.json<Envelope>().error.code, 'UNAUTHORIZED');
    assert.equal((await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST } })).status, 404);
  });

  test('GitHub: success sets a secure session cookie; cookie and bearer both work; logout clears it', async () => {
    stub.user = { id: 1001, username: 'Octocat', avatarURL: 'https://avatars.example/1001' };
    const flow = await beginLogin(d, 'github');
    const done = await callback(d, flow.callbackPath, flow.stateCookie);
    assert.equal(done.status, 302, done.body);
    assert.equal(done.headers.location, '/');
    assert.ok(stateCleared(done), 'state cookie cleared');
    const sessionCookie = done.setCookies.find((c) => c.startsWith('caic_session='))!;
    const attrs = cookieAttributes(sessionCookie);
    assert.ok('httponly' in attrs, 'HttpOnly');
    assert.ok('secure' in attrs, 'Secure (external_url is https)');
    assert.equal(attrs.samesite?.toLowerCase(), 'lax');
    assert.equal(attrs.path, '/');
    assert.equal(attrs['max-age'], String(30 * 86400));

    const cookie = cookiePair(sessionCookie);
    const me = await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, cookie } });
    assert.equal(me.status, 200);
    const user = me.json<{ id: string; provider: string; username: string; avatarURL: string }>();
    assert.deepEqual({ ...user, id: 'x' }, { id: 'x', provider: 'github', username: 'Octocat', avatarURL: 'https://avatars.example/1001' });
    const token = cookie.slice('caic_session='.length);
    const bearer = await http(`${d.url}/api/v1/test/protected`, { headers: { host: HOST, authorization: `Bearer ${token}` } });
    assert.deepEqual(bearer.json(), { user: 'Octocat' });
    assert.equal((await http(`${d.url}/api/v1/test/protected`, { headers: { host: HOST, cookie } })).status, 200);
    const page = await http(`${d.url}/`, { headers: { host: HOST, cookie } });
    assert.match(page.body, /Signed in as <strong>Octocat<\/strong>/);

    const stored = (await storedUsers(d)).find((u) => u.username === 'Octocat')!;
    assert.ok(stub.issuedTokens.includes(stored.accessToken), 'provider token stored in users.json');

    const out = await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: { host: HOST, cookie } });
    assert.deepEqual(out.json(), { status: 'ok' });
    assert.match(out.setCookies.find((c) => c.startsWith('caic_session='))!, /caic_session=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)/i);
  });

  test('GitLab: success stores access and refresh tokens', async () => {
    stub.user = { id: 77, username: 'gitlabber' };
    const flow = await beginLogin(d, 'gitlab');
    const done = await callback(d, flow.callbackPath, flow.stateCookie);
    assert.equal(done.status, 302, done.body);
    const stored = (await storedUsers(d)).find((u) => u.username === 'gitlabber')!;
    assert.ok(stored.accessToken.startsWith('glpat_'));
    assert.ok(stored.refreshToken.length > 10);
  });

  test('return=app ends in the caic://auth deep link with a working bearer token', async () => {
    stub.user = { id: 1001, username: 'octocat' };
    const flow = await beginLogin(d, 'github', '?return=app');
    const done = await callback(d, flow.callbackPath, flow.stateCookie);
    assert.equal(done.status, 302);
    const link = new URL(String(done.headers.location));
    assert.equal(`${link.protocol}//${link.host}`, 'caic://auth');
    assert.equal(done.setCookies.some((c) => c.startsWith('caic_session=')), false, 'the app keeps the token itself');
    const token = link.searchParams.get('token')!;
    const me = await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, authorization: `Bearer ${token}` } });
    assert.equal(me.json<{ username: string }>().username, 'octocat');
  });

  test('wrong state, tampered state cookie and a missing cookie are refused', async () => {
    const flow = await beginLogin(d, 'github');
    const wrongState = flow.callbackPath.replace(/state=[^&]+/, `state=${encodeURIComponent('web:' + '0'.repeat(32))}`);
    const r1 = await callback(d, wrongState, flow.stateCookie, 'application/json');
    assert.equal(r1.status, 400);
    assert.match(r1.json<Envelope>().error.message, /state mismatch/);
    assert.ok(stateCleared(r1));

    const tampered = flow.stateCookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    assert.equal((await callback(d, flow.callbackPath, tampered)).status, 400);
    assert.equal((await callback(d, flow.callbackPath)).status, 400);
    // A code that was never issued: GitHub answers 200 with an error field.
    const flow2 = await beginLogin(d, 'github');
    const badCode = flow2.callbackPath.replace(/code=[^&]+/, 'code=deadbeef');
    const r2 = await callback(d, badCode, flow2.stateCookie, 'application/json');
    assert.equal(r2.status, 401);
    assert.match(r2.json<Envelope>().error.message, /bad_verification_code/);
  });

  test('a provider error is shown as a page and nothing is stored', async () => {
    stub.denyWith = 'access_denied';
    try {
      const flow = await beginLogin(d, 'github');
      const res = await callback(d, flow.callbackPath, flow.stateCookie);
      assert.equal(res.status, 403);
      assert.match(String(res.headers['content-type']), /text\/html/);
      assert.match(res.body, /did not authorize the login/);
      assert.ok(stateCleared(res));
    } finally {
      stub.denyWith = null;
    }
  });

  test('a user not in allowed_users gets 403 and is not stored', async () => {
    stub.user = { id: 666, username: 'mallory' };
    const before = await storedUsers(d);
    const flow = await beginLogin(d, 'github');
    const res = await callback(d, flow.callbackPath, flow.stateCookie, 'application/json');
    assert.equal(res.status, 403);
    assert.match(res.json<Envelope>().error.message, /mallory is not allowed/);
    assert.equal(res.setCookies.some((c) => c.startsWith('caic_session=')), false);
    assert.deepEqual(await storedUsers(d), before);
  });

  test('rejected tokens get 401 on protected routes and on /auth/me', async () => {
    // Forge tokens with the server's real secret: only the claim or algorithm under test is wrong.
    const secret = Buffer.from((JSON.parse(await readFile(join(d.configDir, 'settings.json'), 'utf8')) as { sessionSecret: string }).sessionSecret, 'hex');
    const known = (await storedUsers(d))[0] as unknown as { id: string };
    const now = Math.floor(Date.now() / 1000);
    const sign = (alg: string, sub: string, exp: number) =>
      new SignJWT({ prv: 'github', usr: 'octocat' }).setProtectedHeader({ alg }).setSubject(sub).setIssuedAt(now - 100).setExpirationTime(exp).sign(secret);
    const good = await sign('HS256', known.id, now + 600);
    assert.equal((await http(`${d.url}/api/v1/test/protected`, { headers: { host: HOST, authorization: `Bearer ${good}` } })).status, 200, 'control');
    const tampered = good.slice(0, -3) + (good.endsWith('AAA') ? 'BBB' : 'AAA');
    const expired = await sign('HS256', known.id, now - 10);
    const otherAlg = await sign('HS512', known.id, now + 600);
    const deletedUser = await sign('HS256', '01deleteduser0000000000000', now + 600);
    for (const token of ['not.a.jwt', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', tampered, expired, otherAlg, deletedUser]) {
      const res = await http(`${d.url}/api/v1/test/protected`, { headers: { host: HOST, authorization: `Bearer ${token}` } });
      assert.equal(res.status, 401);
      assert.match(res.json<Envelope>().error.message, /invalid or expired/);
      assert.equal((await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, cookie: `caic_session=${token}` } })).status, 401);
    }
  });
});

test('no-auth mode: requireUser is a no-op', async () => {
  await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\n', { extend: protectedRoute });
  const res = await http(`${d.url}/api/v1/test/protected`);
  assert.deepEqual(res.json(), { user: null });
});

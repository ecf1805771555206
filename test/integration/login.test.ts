// The OAuth login flow end to end against a local stand-in for GitHub and GitLab, then sessions in use.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SignJWT, UnsecuredJWT } from 'jose';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { cookieAttributes, cookiePair, http, type HttpResponse } from '../helpers/http.js';
import { SseClient } from '../helpers/sse.js';
import { CLIENT, githubLoginToml, startStubForge, type StubFailure, type StubForge } from '../helpers/stub-forge.js';
import { tempDir } from '../helpers/tmp.js';

const HOST = 'caic.test';
type Envelope = { error: { code: string; message: string } };

function configFor(stub: StubForge, legacyAppLoginUntil = '2999-01-01'): string {
  return `
[server]
allow_origins = ["local"]
external_url = "https://${HOST}"
legacy_app_login_until = "${legacyAppLoginUntil}"
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

type FileUser = { id: string; username: string; accessToken: string; refreshToken: string; tokenExpiresAt: string };
async function storedUsers(d: TestDaemon): Promise<FileUser[]> {
  return (JSON.parse(await readFile(join(d.configDir, 'users.json'), 'utf8')) as { users: FileUser[] }).users;
}

/** A full web sign-in; returns the session cookie pair. */
async function signIn(d: TestDaemon, stub: StubForge, user: StubForge['user']): Promise<string> {
  stub.user = user;
  const flow = await beginLogin(d, 'github');
  const done = await callback(d, flow.callbackPath, flow.stateCookie);
  assert.equal(done.status, 302, done.body);
  return cookiePair(done.setCookies.find((c) => c.startsWith('caic_session='))!);
}

/** Polls until `check` holds or the deadline passes, then asserts it (the state waited for). */
async function eventually(what: string, check: () => Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function redeem(d: TestDaemon, body: unknown): Promise<HttpResponse> {
  return http(`${d.url}/api/v1/auth/token`, { method: 'POST', headers: { host: HOST, 'content-type': 'application/json' }, body: JSON.stringify(body) });
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

  test('return=app with PKCE: the deep link carries a one-time code that only the verifier redeems', async () => {
    stub.user = { id: 1001, username: 'octocat' };
    const { verifier, challenge } = pkcePair();
    const flow = await beginLogin(d, 'github', `?return=app&code_challenge=${challenge}&code_challenge_method=S256`);
    const done = await callback(d, flow.callbackPath, flow.stateCookie);
    assert.equal(done.status, 302, done.body);
    const link = new URL(String(done.headers.location));
    assert.equal(`${link.protocol}//${link.host}`, 'caic://auth');
    assert.equal(link.searchParams.get('token'), null, 'no token in the deep link any app could catch');
    assert.equal(done.setCookies.some((c) => c.startsWith('caic_session=')), false, 'the app keeps the token itself');
    const code = link.searchParams.get('code')!;
    assert.match(code, /^[A-Za-z0-9_-]{43}$/);

    const res = await redeem(d, { code, code_verifier: verifier });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json<{ token: string; expiresAt: string; user: { username: string } }>();
    assert.equal(body.user.username, 'octocat');
    assert.ok(Date.parse(body.expiresAt) > Date.now() + 29 * 86_400_000);
    const me = await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, authorization: `Bearer ${body.token}` } });
    assert.equal(me.json<{ username: string }>().username, 'octocat');
    const again = await redeem(d, { code, code_verifier: verifier });
    assert.equal(again.status, 400);
    assert.match(again.json<Envelope>().error.message, /already used/);
  });

  test('return=app: an app that caught the deep link without the verifier gets nothing, and burns the code', async () => {
    stub.user = { id: 1001, username: 'octocat' };
    const { verifier, challenge } = pkcePair();
    const flow = await beginLogin(d, 'github', `?return=app&code_challenge=${challenge}&code_challenge_method=S256`);
    const done = await callback(d, flow.callbackPath, flow.stateCookie);
    const code = new URL(String(done.headers.location)).searchParams.get('code')!;
    const thief = await redeem(d, { code, code_verifier: pkcePair().verifier });
    assert.equal(thief.status, 400);
    assert.match(thief.json<Envelope>().error.message, /code_verifier does not match/);
    assert.equal((await redeem(d, { code, code_verifier: verifier })).status, 400, 'one attempt per code');
    assert.equal((await redeem(d, { code: 'x'.repeat(43), code_verifier: verifier })).status, 400, 'a code never issued');
    assert.equal((await redeem(d, { code, code_verifier: 'short' })).status, 400, 'malformed verifier');
  });

  test('return=app: malformed PKCE parameters are refused at the start', async () => {
    const { challenge } = pkcePair();
    for (const query of [
      `?return=web&code_challenge=${challenge}&code_challenge_method=S256`,
      `?return=app&code_challenge=${challenge}`,
      `?return=app&code_challenge=${challenge}&code_challenge_method=plain`,
      `?return=app&code_challenge=tooshort&code_challenge_method=S256`,
    ]) {
      const res = await http(`${d.url}/api/v1/auth/github/start${query}`, { headers: { host: HOST } });
      assert.equal(res.status, 400, query);
      assert.equal(res.json<Envelope>().error.code, 'BAD_REQUEST', query);
      assert.equal(res.setCookies.length, 0, query);
    }
  });

  test('return=app without a challenge (old app builds) still gets the token before legacy_app_login_until', async () => {
    stub.user = { id: 1001, username: 'octocat' };
    const flow = await beginLogin(d, 'github', '?return=app');
    const done = await callback(d, flow.callbackPath, flow.stateCookie);
    assert.equal(done.status, 302);
    const token = new URL(String(done.headers.location)).searchParams.get('token')!;
    const me = await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, authorization: `Bearer ${token}` } });
    assert.equal(me.json<{ username: string }>().username, 'octocat');
    assert.equal(d.logs.find('app sign-in without code_challenge (old app build): token handed to whichever app owns caic://').length, 1);
  });

  test('a state that completed a login cannot be replayed with a fresh provider code', async () => {
    stub.user = { id: 1001, username: 'Octocat' };
    const flow = await beginLogin(d, 'github');
    assert.equal((await callback(d, flow.callbackPath, flow.stateCookie)).status, 302);
    // The provider approves the same authorize URL again: a fresh code with the same state.
    const again = await http(String(flow.start.headers.location));
    const fresh = new URL(String(again.headers.location));
    assert.notEqual(fresh.searchParams.get('code'), new URLSearchParams(flow.callbackPath.split('?')[1]).get('code'));
    const replay = await callback(d, `${fresh.pathname}${fresh.search}`, flow.stateCookie, 'application/json');
    assert.equal(replay.status, 400);
    assert.match(replay.json<Envelope>().error.message, /state mismatch or expired/);
    assert.equal(replay.setCookies.some((c) => c.startsWith('caic_session=')), false);
  });

  test('a provider error without our state is a state mismatch, and its text is not shown', async () => {
    const res = await callback(d, '/api/v1/auth/github/callback?error=access_denied&error_description=Call%20%2B1-555-SCAM%20now&state=web%3Abogus');
    assert.equal(res.status, 400);
    assert.match(res.body, /state mismatch or expired/);
    assert.doesNotMatch(res.body, /SCAM|access_denied/);
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
    // Valid in every respect (known user, not expired, same claims) but the algorithm.
    const none = new UnsecuredJWT({ prv: 'github', usr: 'octocat' }).setSubject(known.id).setIssuedAt(now - 100).setExpirationTime(now + 600).encode();
    for (const token of ['not.a.jwt', none, tampered, expired, otherAlg, deletedUser]) {
      const res = await http(`${d.url}/api/v1/test/protected`, { headers: { host: HOST, authorization: `Bearer ${token}` } });
      assert.equal(res.status, 401);
      assert.match(res.json<Envelope>().error.message, /invalid or expired/);
      assert.equal((await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, cookie: `caic_session=${token}` } })).status, 401);
    }
  });
});

describe('provider failures', () => {
  let stub: StubForge;
  let d: TestDaemon;
  before(async () => {
    stub = await startStubForge();
    d = await startTestDaemon(configFor(stub), { webDir: null });
  });
  after(async () => {
    await d[Symbol.asyncDispose]();
    await stub.close();
  });

  /** Secrets of a flow that must reach neither the answer nor the log. */
  function assertNothingSecret(res: HttpResponse, flow: Flow): void {
    const params = new URLSearchParams(flow.callbackPath.split('?')[1]);
    const secrets = [CLIENT.github.secret, params.get('code')!, params.get('state')!, flow.stateCookie.split('=')[1]!, ...stub.issuedTokens];
    for (const secret of secrets) {
      assert.ok(!d.logs.text.includes(secret), `secret ${secret.slice(0, 6)}… in the log`);
      assert.ok(!res.body.includes(secret), `secret ${secret.slice(0, 6)}… in the answer`);
    }
  }

  const cases: { name: string; fail: { token?: StubFailure; user?: StubFailure }; message: RegExp }[] = [
    { name: 'token endpoint answers HTML', fail: { token: { kind: 'html', status: 200 } }, message: /token exchange: github answered HTTP 200 with something other than JSON/ },
    { name: 'token endpoint answers 503 HTML', fail: { token: { kind: 'html', status: 503 } }, message: /token exchange: github answered HTTP 503 with something other than JSON/ },
    { name: 'token endpoint answers HTTP 500 JSON', fail: { token: { kind: 'status', status: 500, body: { error: 'server_error', secret: 'x' } } }, message: /token exchange: github answered HTTP 500: server_error/ },
    { name: 'token endpoint answers JSON that is not an object', fail: { token: { kind: 'status', status: 200, body: ['access_token'] } }, message: /token exchange: unexpected answer from github/ },
    { name: 'token endpoint cuts the connection', fail: { token: { kind: 'reset' } }, message: /token exchange: github could not be reached \(\w+\)/ },
    { name: 'user endpoint answers HTML', fail: { user: { kind: 'html', status: 200 } }, message: /profile: github answered HTTP 200 with something other than JSON/ },
    { name: 'user endpoint answers 401', fail: { user: { kind: 'status', status: 401, body: { message: 'Bad credentials' } } }, message: /profile: github answered HTTP 401/ },
    { name: 'user endpoint answers a profile of the wrong shape', fail: { user: { kind: 'status', status: 200, body: { login: 42 } } }, message: /profile: unexpected answer from github/ },
  ];
  for (const c of cases) {
    test(`${c.name}: a clear 401, nothing stored, nothing secret logged`, async () => {
      stub.user = { id: 4242, username: 'octocat' };
      const before = await storedUsers(d);
      stub.fail = c.fail;
      try {
        const flow = await beginLogin(d, 'github');
        const json = await callback(d, flow.callbackPath, flow.stateCookie, 'application/json');
        assert.equal(json.status, 401, json.body);
        assert.equal(json.json<Envelope>().error.code, 'UNAUTHORIZED');
        assert.match(json.json<Envelope>().error.message, c.message);
        assert.equal(json.setCookies.some((s) => s.startsWith('caic_session=')), false);
        assertNothingSecret(json, flow);
        // The same failure in a browser: a readable page with the same status.
        const flow2 = await beginLogin(d, 'github');
        const page = await callback(d, flow2.callbackPath, flow2.stateCookie);
        assert.equal(page.status, 401);
        assert.match(String(page.headers['content-type']), /text\/html/);
        assert.match(page.body, /Sign-in failed/);
        assertNothingSecret(page, flow2);
      } finally {
        stub.fail = null;
      }
      assert.deepEqual(await storedUsers(d), before);
      assert.equal((await http(`${d.url}/healthz`)).status, 200, 'still serving');
    });
  }

  test('expires_in out of range (negative, huge, not finite, not a number) does not throw: no expiry stored', async () => {
    for (const extra of ['"expires_in":-5', '"expires_in":1e308', '"expires_in":1e400', '"expires_in":"soon"', '"expires_in":{"s":1}', '"refresh_token":7']) {
      stub.tokenExtra = extra;
      try {
        stub.user = { id: 5150, username: 'octocat' };
        const flow = await beginLogin(d, 'github');
        const res = await callback(d, flow.callbackPath, flow.stateCookie);
        assert.equal(res.status, 302, `${extra}: ${res.body}`);
        const stored = (await storedUsers(d)).find((u) => u.username === 'octocat')!;
        assert.equal(stored.tokenExpiresAt, '', extra);
        assert.equal(stored.refreshToken, '', extra);
      } finally {
        stub.tokenExtra = '';
      }
    }
  });

  test('provider unreachable: a clear 401, no crash', async () => {
    await using dir = await tempDir();
    const gone = await startStubForge();
    const dd = await startTestDaemon(configFor(gone), { dir, webDir: null });
    try {
      const flow = await beginLogin(dd, 'github');
      await gone.close();
      const res = await callback(dd, flow.callbackPath, flow.stateCookie, 'application/json');
      assert.equal(res.status, 401, res.body);
      assert.match(res.json<Envelope>().error.message, /token exchange: github could not be reached \(ECONNREFUSED\); try again later/);
      assert.ok(!dd.logs.text.includes(CLIENT.github.secret));
      assert.equal((await http(`${dd.url}/healthz`)).status, 200);
    } finally {
      await dd[Symbol.asyncDispose]();
    }
  });
});

describe('sessions end with their user', () => {
  test('deleting a user from users.json while the daemon runs ends their session, and the next save keeps it deleted', async () => {
    await using dir = await tempDir();
    const stub = await startStubForge();
    try {
      await using d = await startTestDaemon(configFor(stub), { dir, webDir: null });
      const alice = await signIn(d, stub, { id: 1, username: 'octocat' });
      const bob = await signIn(d, stub, { id: 2, username: 'GitLabber' });
      const me = (cookie: string) => http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, cookie } });
      assert.equal((await me(alice)).status, 200);
      const aliceId = (await me(alice)).json<{ id: string }>().id;
      // As an editor would: write a new file and rename it over users.json.
      const path = join(d.configDir, 'users.json');
      const kept = (await storedUsers(d)).filter((u) => u.id !== aliceId);
      await writeFile(`${path}.edit`, JSON.stringify({ users: kept }, null, 2));
      await rename(`${path}.edit`, path);
      await eventually('session refused after the edit', async () => (await me(alice)).status === 401);
      assert.equal((await me(bob)).status, 200, 'other users keep theirs');
      // Bob signs in again: the daemon saves users.json, and must not bring alice back.
      await signIn(d, stub, { id: 2, username: 'GitLabber' });
      assert.deepEqual((await storedUsers(d)).map((u) => u.username), ['GitLabber']);
      assert.equal((await me(alice)).status, 401);
      assert.equal(d.logs.find('users.json changed on disk; reloaded').length >= 1, true);
    } finally {
      await stub.close();
    }
  });

  test('deleting a user also ends the event streams they have open; other users’ streams go on', async () => {
    await using dir = await tempDir();
    const stub = await startStubForge();
    try {
      await using d = await startTestDaemon(configFor(stub), { dir, webDir: null });
      const alice = await signIn(d, stub, { id: 1, username: 'octocat' });
      const bob = await signIn(d, stub, { id: 2, username: 'GitLabber' });
      const aliceId = (await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, cookie: alice } })).json<{ id: string }>().id;
      const open = async (cookie: string) => {
        const s = new SseClient(`${d.url}/api/v1/tasks/events`, { host: HOST, cookie });
        await s.waitFor((ev) => ev.some((e) => (e.data as { type?: string } | undefined)?.type === 'snapshot'), 10_000, 'the snapshot');
        return s;
      };
      const [aliceStream, bobStream] = [await open(alice), await open(bob)];
      let aliceEnded = false;
      void aliceStream.done.then(() => (aliceEnded = true));
      const path = join(d.configDir, 'users.json');
      await writeFile(`${path}.edit`, JSON.stringify({ users: (await storedUsers(d)).filter((u) => u.id !== aliceId) }, null, 2));
      await rename(`${path}.edit`, path);
      await eventually('alice’s stream to end', () => Promise.resolve(aliceEnded));
      // Bob's stream is still open: the server has not closed it (a closed stream ends the client).
      assert.equal((await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, cookie: bob } })).status, 200);
      let bobEnded = false;
      void bobStream.done.then(() => (bobEnded = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(bobEnded, false, 'bob’s stream goes on');
      bobStream.close();
    } finally {
      await stub.close();
    }
  });

  test('a user taken off allowed_users loses their session at the next start', async () => {
    await using dir = await tempDir();
    const stub = await startStubForge();
    try {
      let cookie: string;
      {
        await using d = await startTestDaemon(configFor(stub), { dir, webDir: null });
        cookie = await signIn(d, stub, { id: 1, username: 'octocat' });
        assert.equal((await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, cookie } })).status, 200);
      }
      const config = join(dir.path, 'config', 'config.toml');
      const before = await readFile(config, 'utf8');
      const after = before.replace(JSON.stringify(['octocat', 'GitLabber']), JSON.stringify(['GitLabber']));
      assert.notEqual(after, before);
      await writeFile(config, after);
      await using d = await startTestDaemon('', { dir, webDir: null });
      const me = await http(`${d.url}/api/v1/auth/me`, { headers: { host: HOST, cookie } });
      assert.equal(me.status, 401);
      assert.equal((await storedUsers(d)).some((u) => u.username === 'octocat'), true, 'still stored; just not allowed');
    } finally {
      await stub.close();
    }
  });
});

describe('old app builds after legacy_app_login_until', () => {
  test('a start without code_challenge is refused with a clear 400; with one it works', async () => {
    const stub = await startStubForge();
    try {
      await using d = await startTestDaemon(configFor(stub, '2000-01-01'), { webDir: null });
      const old = await http(`${d.url}/api/v1/auth/github/start?return=app`, { headers: { host: HOST, accept: 'text/html' } });
      assert.equal(old.status, 400);
      assert.match(old.body, /signs in without code_challenge \(PKCE S256\), which this server refuses since 2000-01-01; update the caic app/);
      assert.equal(old.setCookies.length, 0);
      const { challenge } = pkcePair();
      const current = await http(`${d.url}/api/v1/auth/github/start?return=app&code_challenge=${challenge}&code_challenge_method=S256`, { headers: { host: HOST } });
      assert.equal(current.status, 302);
    } finally {
      await stub.close();
    }
  });
});

test('no-auth mode: requireUser is a no-op', async () => {
  await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\n', { extend: protectedRoute });
  const res = await http(`${d.url}/api/v1/test/protected`);
  assert.deepEqual(res.json(), { user: null });
});

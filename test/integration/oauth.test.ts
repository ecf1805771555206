// caic's OAuth authorization server over real HTTP with login configured (the GitHub stand-in):
// discovery, DCR, PKCE through sign-in and consent, refresh rotation, and every refusal.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, importJWK, type JWK } from 'jose';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { cookiePair } from '../helpers/http.js';
import { signIn } from '../helpers/login.js';
import { authorize, call, CookieJar, follow, form, pkcePair, qs, register, token, type WalkTarget } from '../helpers/oauth-walk.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { verifyAuditFile } from '../../src/audit/index.js';

const HOST = 'caic.test';
const ISSUER = `https://${HOST}`;
const RESOURCE = `${ISSUER}/api/v1/mcp`;
const REDIRECT = 'https://client.example/callback';

describe('OAuth authorization server', { timeout: 120_000 }, () => {
  let stub: StubForge;
  let d: TestDaemon;
  let t: WalkTarget;
  let sessionJar: () => CookieJar;

  before(async () => {
    stub = await startStubForge();
    d = await startTestDaemon(`[server]\nallow_origins = ["local"]\nexternal_url = "${ISSUER}"\n${githubLoginToml(stub, ['octocat', 'hubot'])}`);
    t = { url: d.url, host: HOST };
    const auth = await signIn(d.url, HOST, stub, { id: 1001, username: 'octocat' });
    const session = auth.authorization!.slice('Bearer '.length);
    sessionJar = () => {
      const jar = new CookieJar();
      jar.cookies.set('caic_session', session);
      return jar;
    };
  });
  after(async () => {
    await d?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  async function newClient(extra: Record<string, unknown> = {}) {
    return register(t, { client_name: 'Test MCP client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', ...extra });
  }

  /** A full authorization: returns the code and the verifier. */
  async function codeFor(clientId: string, scopes = ['caic:tasks.read', 'caic:tasks.write']) {
    const { verifier, challenge } = pkcePair();
    const back = await authorize(
      t,
      sessionJar(),
      { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'caic:tasks.read caic:tasks.write offline_access', code_challenge: challenge, code_challenge_method: 'S256', state: 'st1', resource: RESOURCE },
      { scopes },
    );
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
    assert.equal(back.searchParams.get('state'), 'st1');
    assert.equal(back.searchParams.get('iss'), ISSUER, 'RFC 9207 iss in the authorization response');
    return { code: back.searchParams.get('code')!, verifier };
  }

  async function tokensFor(clientId: string, scopes?: string[]) {
    const { code, verifier } = await codeFor(clientId, scopes);
    const res = await token(t, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT, resource: RESOURCE });
    assert.equal(res.status, 200, res.body);
    return res.json<{ access_token: string; refresh_token: string; scope: string; expires_in: number; token_type: string }>();
  }

  test('discovery: RFC 8414 and OpenID metadata, RFC 9728 protected-resource metadata', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const res = await call(t, path);
      assert.equal(res.status, 200, res.body);
      const m = res.json<Record<string, unknown>>();
      assert.equal(m.issuer, ISSUER);
      assert.equal(m.authorization_endpoint, `${ISSUER}/oauth/authorize`);
      assert.equal(m.token_endpoint, `${ISSUER}/oauth/token`);
      assert.equal(m.registration_endpoint, `${ISSUER}/oauth/register`);
      assert.equal(m.jwks_uri, `${ISSUER}/oauth/jwks`);
      assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
      assert.equal(m.authorization_response_iss_parameter_supported, true);
      assert.equal(m.client_id_metadata_document_supported, true);
      assert.deepEqual(m.token_endpoint_auth_methods_supported, ['none']);
      assert.ok((m.grant_types_supported as string[]).includes('urn:ietf:params:oauth:grant-type:device_code'));
      assert.ok((m.scopes_supported as string[]).includes('caic:tasks.admin'));
    }
    const prm = await call(t, '/.well-known/oauth-protected-resource/api/v1/mcp');
    assert.equal(prm.status, 200);
    assert.deepEqual(prm.json<{ resource: string; authorization_servers: string[] }>().authorization_servers, [ISSUER]);
    assert.equal(prm.json<{ resource: string }>().resource, RESOURCE);
    const jwks = await call(t, '/oauth/jwks');
    const keys = jwks.json<{ keys: JWK[] }>().keys;
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.kty, 'EC');
    assert.equal(keys[0]!.d, undefined, 'no private part published');
  });

  test('DCR (RFC 7591) and RFC 7592 read/delete', async () => {
    const c = await newClient();
    const read = await call(t, `/oauth/register/${c.client_id}`, { headers: { authorization: `Bearer ${c.registration_access_token}` } });
    assert.equal(read.status, 200, read.body);
    assert.deepEqual(read.json<{ redirect_uris: string[] }>().redirect_uris, [REDIRECT]);
    const noAuth = await call(t, `/oauth/register/${c.client_id}`);
    assert.equal(noAuth.status, 401);
    const del = await call(t, `/oauth/register/${c.client_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${c.registration_access_token}` } });
    assert.equal(del.status, 204);
    const gone = await call(t, `/oauth/register/${c.client_id}`, { headers: { authorization: `Bearer ${c.registration_access_token}` } });
    assert.equal(gone.status, 401);
    // A confidential registration is refused: public clients only.
    const secretClient = await call(t, '/oauth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' }),
    });
    assert.equal(secretClient.status, 400);
  });

  test('PKCE S256 through sign-in and consent; the token is an RFC 9068 JWT for the MCP resource', async () => {
    const c = await newClient();
    const tokens = await tokensFor(c.client_id, ['caic:tasks.read']);
    assert.equal(tokens.token_type, 'Bearer');
    assert.ok(tokens.expires_in <= 3600 && tokens.expires_in > 3500);
    assert.ok(tokens.refresh_token);
    assert.equal(tokens.scope.includes('caic:tasks.write'), false, 'only what was ticked is granted');
    const [header, payload] = tokens.access_token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
    assert.equal(header!.typ, 'at+jwt');
    assert.equal(header!.alg, 'ES256');
    assert.equal(payload!.aud, RESOURCE);
    assert.equal(payload!.iss, ISSUER);
    const who = await d.daemon.oauth!.verifier.verify(tokens.access_token);
    assert.ok(who);
    assert.deepEqual(who.scopes, ['caic:tasks.read']);
    assert.equal(who.clientId, c.client_id);
    const users = JSON.parse(await readFile(join(d.configDir, 'users.json'), 'utf8')) as { users: { id: string; username: string }[] };
    assert.equal(who.userId, users.users.find((u) => u.username === 'octocat')!.id);
  });

  test('without a caic session, the authorize step goes through the login and comes back to the same request', async () => {
    const c = await newClient();
    const { challenge } = pkcePair();
    const jar = new CookieJar();
    const start = await call(t, `/oauth/authorize?${qs({ response_type: 'code', client_id: c.client_id, redirect_uri: REDIRECT, scope: 'caic:tasks.read', code_challenge: challenge, code_challenge_method: 'S256' })}`, { jar });
    assert.equal(start.status, 303);
    const interactionPath = new URL(String(start.headers.location), ISSUER).pathname;
    assert.match(interactionPath, /^\/oauth\/interaction\//);
    const interaction = await call(t, interactionPath, { jar, headers: { accept: 'text/html' } });
    // No caic session: off to the login start, which will come back to this page.
    assert.equal(interaction.status, 302);
    const toLogin = new URL(String(interaction.headers.location), ISSUER);
    assert.equal(toLogin.pathname, '/api/v1/auth/github/start');
    const next = toLogin.searchParams.get('next')!;
    assert.equal(next, interactionPath);
    stub.user = { id: 1001, username: 'octocat' };
    const loginStart = await call(t, `${toLogin.pathname}${toLogin.search}`, { jar });
    const approve = await fetch(String(loginStart.headers.location), { redirect: 'manual' });
    const cb = new URL(approve.headers.get('location')!);
    const done = await call(t, `${cb.pathname}${cb.search}`, { jar, headers: { accept: 'text/html' } });
    assert.equal(done.status, 302);
    assert.equal(done.headers.location, next, 'back to the same authorization request');
    assert.ok(jar.cookies.has('caic_session'));
    const page = await call(t, next, { jar });
    assert.equal(page.status, 200);
    assert.match(page.body, /Allow Test MCP client to use caic\?/);
    assert.match(page.body, /client\.example/, 'the redirect host is shown');
    // A next that is not under /oauth/ is refused at the start.
    const evil = await call(t, `/api/v1/auth/github/start?next=${encodeURIComponent('//evil.example/')}`);
    assert.equal(evil.status, 400);
  });

  test('the consent form needs its CSRF token; denying returns access_denied', async () => {
    const c = await newClient();
    const { challenge } = pkcePair();
    const jar = sessionJar();
    const params = { response_type: 'code', client_id: c.client_id, redirect_uri: REDIRECT, scope: 'caic:tasks.read', code_challenge: challenge, code_challenge_method: 'S256' };
    const start = await call(t, `/oauth/authorize?${qs(params)}`, { jar });
    const page = await follow(t, start, jar);
    assert.ok(!(page instanceof URL));
    const action = /action="([^"]+)"/.exec(page.body)![1]!;
    const forged = await call(t, action, { method: 'POST', jar, body: form({ csrf: 'x'.repeat(43), scope: 'caic:tasks.read', decision: 'allow' }) });
    assert.equal(forged.status, 403);
    const denied = await authorize(t, sessionJar(), params, { scopes: ['caic:tasks.read'], decision: 'deny' });
    assert.equal(denied.searchParams.get('error'), 'access_denied');
  });

  test('PKCE refusals: plain, missing challenge, wrong verifier', async () => {
    const c = await newClient();
    const base = { response_type: 'code', client_id: c.client_id, redirect_uri: REDIRECT, scope: 'caic:tasks.read' };
    const plain = await call(t, `/oauth/authorize?${qs({ ...base, code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' })}`);
    assert.equal(plain.status, 303);
    assert.match(String(plain.headers.location), /error=invalid_request/);
    const missing = await call(t, `/oauth/authorize?${qs(base)}`);
    assert.equal(missing.status, 303);
    assert.match(String(missing.headers.location), /error=invalid_request/);
    assert.match(decodeURIComponent(String(missing.headers.location)), /PKCE/);
    const { code } = await codeFor(c.client_id);
    const wrong = await token(t, { grant_type: 'authorization_code', code, code_verifier: pkcePair().verifier, client_id: c.client_id, redirect_uri: REDIRECT });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json<{ error: string }>().error, 'invalid_grant');
  });

  test('an authorization code works once; its reuse fails', async () => {
    const c = await newClient();
    const { code, verifier } = await codeFor(c.client_id);
    const first = await token(t, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: c.client_id, redirect_uri: REDIRECT });
    assert.equal(first.status, 200);
    const again = await token(t, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: c.client_id, redirect_uri: REDIRECT });
    assert.equal(again.status, 400);
    assert.equal(again.json<{ error: string }>().error, 'invalid_grant');
    // The reuse also revokes what the code issued.
    assert.equal(await d.daemon.oauth!.verifier.verify(first.json<{ access_token: string }>().access_token), null);
  });

  test('redirect URIs match exactly', async () => {
    const c = await newClient();
    const { challenge } = pkcePair();
    for (const redirect of [`${REDIRECT}/x`, `${REDIRECT}?a=1`, 'https://client.example/Callback', 'https://evil.example/callback']) {
      const res = await call(t, `/oauth/authorize?${qs({ response_type: 'code', client_id: c.client_id, redirect_uri: redirect, scope: 'caic:tasks.read', code_challenge: challenge, code_challenge_method: 'S256' })}`);
      assert.equal(res.status, 400, `${redirect}: ${res.status}`);
      assert.equal(res.headers.location, undefined, 'never redirected to an unregistered URI');
    }
  });

  test('refresh tokens rotate on every use; reusing an old one revokes the whole grant', async () => {
    const c = await newClient();
    const first = await tokensFor(c.client_id);
    const r1 = await token(t, { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: c.client_id });
    assert.equal(r1.status, 200, r1.body);
    const second = r1.json<{ access_token: string; refresh_token: string }>();
    assert.notEqual(second.refresh_token, first.refresh_token, 'rotated');
    assert.ok(await d.daemon.oauth!.verifier.verify(second.access_token));
    const reuse = await token(t, { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: c.client_id });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.json<{ error: string }>().error, 'invalid_grant');
    // The grant is dead: the newest refresh token and the access tokens stop working too.
    const after = await token(t, { grant_type: 'refresh_token', refresh_token: second.refresh_token, client_id: c.client_id });
    assert.equal(after.status, 400);
    assert.equal(await d.daemon.oauth!.verifier.verify(second.access_token), null);
    assert.equal(await d.daemon.oauth!.verifier.verify(first.access_token), null);
    const log = await readFile(join(d.configDir, 'audit.jsonl'), 'utf8');
    assert.match(log, /"event":"refresh.reuse_detected"/);
  });

  test('grants API: list, and revoking one kills its tokens at once; another user cannot see or revoke it', async () => {
    const c = await newClient({ client_name: 'Grant list client' });
    const tokens = await tokensFor(c.client_id);
    const jar = sessionJar();
    const list = await call(t, '/api/v1/oauth/grants', { jar });
    assert.equal(list.status, 200, list.body);
    const grants = list.json<{ grants: { id: string; clientName: string; scopes: string[]; lastUsedAt: string | null }[] }>().grants;
    const mine = grants.find((g) => g.clientName === 'Grant list client');
    assert.ok(mine);
    assert.deepEqual(mine.scopes, ['caic:tasks.read', 'caic:tasks.write']);
    assert.ok(mine.lastUsedAt, 'the token issuance counts as a use');
    const other = await signIn(d.url, HOST, stub, { id: 1002, username: 'hubot' });
    const theirs = await call(t, '/api/v1/oauth/grants', { headers: other });
    assert.equal(theirs.json<{ grants: unknown[] }>().grants.length, 0);
    const foreign = await call(t, `/api/v1/oauth/grants/${mine.id}`, { method: 'DELETE', headers: other });
    assert.equal(foreign.status, 404);
    assert.ok(await d.daemon.oauth!.verifier.verify(tokens.access_token));
    const del = await call(t, `/api/v1/oauth/grants/${mine.id}`, { method: 'DELETE', jar });
    assert.equal(del.status, 200, del.body);
    assert.equal(await d.daemon.oauth!.verifier.verify(tokens.access_token), null, 'revoked grant: access token refused');
    const refresh = await token(t, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: c.client_id });
    assert.equal(refresh.status, 400, 'revoked grant: refresh refused');
    const unauth = await call(t, '/api/v1/oauth/grants');
    assert.equal(unauth.status, 401);
  });

  test('RFC 7009 revocation and RFC 7662 introspection', async () => {
    const c = await newClient();
    const tokens = await tokensFor(c.client_id);
    const intro = await call(t, '/oauth/introspect', { method: 'POST', body: form({ token: tokens.refresh_token, client_id: c.client_id }) });
    assert.equal(intro.status, 200, intro.body);
    assert.equal(intro.json<{ active: boolean }>().active, true);
    const rev = await call(t, '/oauth/revoke', { method: 'POST', body: form({ token: tokens.refresh_token, client_id: c.client_id }) });
    assert.equal(rev.status, 200, rev.body);
    const after = await call(t, '/oauth/introspect', { method: 'POST', body: form({ token: tokens.refresh_token, client_id: c.client_id }) });
    assert.equal(after.json<{ active: boolean }>().active, false);
    assert.equal(await d.daemon.oauth!.verifier.verify(tokens.access_token), null, 'revoking the refresh token ends the grant');
  });

  test('device authorization grant (RFC 8628): a code pair, then authorization_pending until someone consents', async () => {
    const c = await register(t, {
      client_name: 'CLI',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'none',
    });
    const res = await call(t, '/oauth/device_authorization', { method: 'POST', body: form({ client_id: c.client_id, scope: 'caic:tasks.read' }) });
    assert.equal(res.status, 200, res.body);
    const dev = res.json<{ device_code: string; user_code: string; verification_uri: string }>();
    assert.equal(dev.verification_uri, `${ISSUER}/oauth/device`);
    const poll = await token(t, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: dev.device_code, client_id: c.client_id });
    assert.equal(poll.status, 400);
    assert.equal(poll.json<{ error: string }>().error, 'authorization_pending');
    const page = await call(t, '/oauth/device', { jar: sessionJar() });
    assert.equal(page.status, 200);
    assert.match(page.body, /Enter the code your device shows/);
  });

  test('the verifier refuses expired, wrong-audience, foreign-issuer and foreign-key tokens', async () => {
    const c = await newClient();
    const tokens = await tokensFor(c.client_id);
    const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const jwk = JSON.parse(await readFile(join(d.configDir, 'oauth', 'signing-key.json'), 'utf8')) as JWK;
    const key = await importJWK(jwk, 'ES256');
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT({ ...payload, ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid! }).sign(key);
    assert.ok(await d.daemon.oauth!.verifier.verify(await sign({})), 'a token re-signed with the same claims verifies');
    assert.ok(await d.daemon.oauth!.verifier.verify(await sign({}), `${ISSUER}/api/v1/mcp`), 'presented at the resource it is for');
    assert.equal(await d.daemon.oauth!.verifier.verify(await sign({}), 'http://127.0.0.1:1/api/v1/mcp'), null, 'presented at a resource other than ours');
    const now = Math.floor(Date.now() / 1000);
    assert.equal(await d.daemon.oauth!.verifier.verify(await sign({ exp: now - 10, iat: now - 3700 })), null, 'expired');
    assert.equal(await d.daemon.oauth!.verifier.verify(await sign({ aud: `${ISSUER}/api/v1/other` })), null, 'wrong audience');
    assert.equal(await d.daemon.oauth!.verifier.verify(await sign({ iss: 'https://other.example' })), null, 'foreign issuer');
    const { privateKey } = await (await import('jose')).generateKeyPair('ES256');
    const foreign = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
    assert.equal(await d.daemon.oauth!.verifier.verify(foreign), null, 'another key');
    assert.equal(await d.daemon.oauth!.verifier.verify(await sign({ gid: 'no-such-grant' })), null, 'unknown grant');
  });

  test('state survives a restart; files are 0600; the audit chain holds and carries no token', async () => {
    const c = await newClient();
    const tokens = await tokensFor(c.client_id);
    const stateFile = join(d.configDir, 'oauth', 'state.json');
    assert.equal((await stat(stateFile)).mode & 0o777, 0o600);
    assert.equal((await stat(join(d.configDir, 'oauth', 'signing-key.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(d.configDir, 'audit.jsonl'))).mode & 0o777, 0o600);
    const state = await readFile(stateFile, 'utf8');
    assert.equal(state.includes(tokens.refresh_token), false, 'refresh tokens are stored hashed');
    // Restart on the same state.
    await d.daemon.close();
    d = await startTestDaemon('', { dir: d.dir, configDir: d.configDir, cacheDir: d.cacheDir });
    t = { url: d.url, host: HOST };
    assert.ok(await d.daemon.oauth!.verifier.verify(tokens.access_token), 'same key after restart');
    const r = await token(t, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: c.client_id });
    assert.equal(r.status, 200, `refresh after restart: ${r.body}`);
    const read = await call(t, `/oauth/register/${c.client_id}`, { headers: { authorization: `Bearer ${c.registration_access_token}` } });
    assert.equal(read.status, 200, 'registration survives');
    const log = await readFile(join(d.configDir, 'audit.jsonl'), 'utf8');
    for (const secret of [tokens.access_token, tokens.refresh_token, r.json<{ refresh_token: string }>().refresh_token, c.registration_access_token]) {
      assert.equal(log.includes(secret), false, 'no token in the audit log');
    }
    assert.match(log, /"event":"consent.given"/);
    assert.match(log, /"event":"token.issued"/);
    assert.match(log, /"event":"token.refreshed"/);
    assert.deepEqual(await verifyAuditFile(join(d.configDir, 'audit.jsonl')), { ok: true, records: log.trim().split('\n').length });
    void cookiePair;
  });
});

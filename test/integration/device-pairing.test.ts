// Device pairing over real HTTP (RFC 8628 on caic's authorization server, login through the GitHub
// stand-in): what a paired device's token opens and what it does not, refresh rotation and reuse
// detection, revocation (next call 401, open stream ends), and sign out everywhere unpairing.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importJWK, SignJWT, type JWK } from 'jose';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { approveOverHttp, pollOnce, refresh, registerDevice, startPairing, type DeviceTokens } from '../helpers/device-pairing.js';
import { http } from '../helpers/http.js';
import { signIn } from '../helpers/login.js';
import { call, form, qs, pkcePair, register, token, type WalkTarget } from '../helpers/oauth-walk.js';
import { SseClient } from '../helpers/sse.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { within } from '../helpers/wait.js';

const HOST = 'caic.test';
const ORIGIN = `https://${HOST}`;
const API = `${ORIGIN}/api/v1`;
const MCP = `${ORIGIN}/api/v1/mcp`;

function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
}

describe('device pairing', { timeout: 120_000 }, () => {
  let stub: StubForge;
  let d: TestDaemon;
  let t: WalkTarget;

  before(async () => {
    stub = await startStubForge();
    d = await startTestDaemon(`[server]\nallow_origins = ["local"]\nexternal_url = "${ORIGIN}"\n${githubLoginToml(stub, ['octocat', 'hubot'])}`, { webDir: null });
    t = { url: d.url, host: HOST };
  });
  after(async () => {
    await d?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  const session = async (id: number, username: string) => (await signIn(d.url, HOST, stub, { id, username })).authorization!.slice(7);
  const bearer = (tok: string) => ({ host: HOST, authorization: `Bearer ${tok}` });
  const tasks = (tok: string) => http(`${d.url}/api/v1/tasks`, { headers: bearer(tok) });
  const mcpInit = (tok: string) =>
    http(`${d.url}/api/v1/mcp`, {
      method: 'POST',
      headers: { ...bearer(tok), 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });

  /** Pairs a device for this session's user; returns its client id and tokens. */
  async function pair(sessionToken: string, name = 'caic on Pixel 8', extra: Record<string, string> = {}): Promise<{ clientId: string; tokens: DeviceTokens; confirmPage: string }> {
    const clientId = await registerDevice(t, name);
    const start = await startPairing(t, clientId, ORIGIN, extra);
    assert.deepEqual(await pollOnce(t, clientId, start.device_code), { error: 'authorization_pending', error_description: 'authorization request is still pending as the end-user hasn\'t yet completed the user interaction steps' });
    const confirmPage = await approveOverHttp(t, sessionToken, start.user_code);
    const tokens = await pollOnce(t, clientId, start.device_code);
    assert.ok('access_token' in tokens, JSON.stringify(tokens));
    return { clientId, tokens, confirmPage };
  }

  /** An MCP client's tokens from the same authorization server (device flow, the default resource). */
  async function pairMcp(sessionToken: string): Promise<DeviceTokens> {
    const mcpClient = await registerDevice(t, 'MCP CLI');
    const start = await call(t, '/oauth/device_authorization', { method: 'POST', body: form({ client_id: mcpClient, scope: 'caic:tasks.read caic:mcp.read offline_access' }) });
    const dev = start.json<{ device_code: string; user_code: string }>();
    await approveOverHttp(t, sessionToken, dev.user_code);
    return { ...((await pollOnce(t, mcpClient, dev.device_code)) as DeviceTokens), client_id: mcpClient } as DeviceTokens & { client_id: string };
  }

  test('a paired device calls the REST API and streams as its user; the approval page names the device and the scope', async () => {
    const s = await session(1001, 'octocat');
    const { tokens, confirmPage } = await pair(s);
    assert.match(confirmPage, /Connect caic on Pixel 8\?/);
    assert.match(confirmPage, /caic:api/);
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.expires_in, 900, 'short-lived');
    assert.ok(tokens.refresh_token);
    const c = claims(tokens.access_token);
    assert.equal(c.aud, API);
    assert.equal(c.scope, 'caic:api');
    const res = await tasks(tokens.access_token);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json(), []);
    assert.equal((await http(`${d.url}/api/v1/auth/me`, { headers: bearer(tokens.access_token) })).json<{ username: string }>().username, 'octocat');
    const stream = new SseClient(`${d.url}/api/v1/tasks/events`, bearer(tokens.access_token));
    await stream.waitFor((ev) => ev.some((e) => (e.data as { type?: string } | undefined)?.type === 'snapshot'), 10_000, 'the snapshot');
    stream.close();
    // As a cookie it is nothing: only session tokens go there.
    assert.equal((await http(`${d.url}/api/v1/tasks`, { headers: { host: HOST, cookie: `caic_session=${tokens.access_token}` } })).status, 401);
    // The protected-resource metadata of the REST API (RFC 9728).
    const prm = await call(t, '/.well-known/oauth-protected-resource/api/v1');
    assert.deepEqual(prm.json<{ resource: string; scopes_supported: string[] }>().scopes_supported, ['caic:api']);
    assert.equal(prm.json<{ resource: string }>().resource, API);
  });

  test('tokens do not cross: an /api/v1 token is refused by the MCP endpoint, an MCP token by the REST API; grants keep their resource', async () => {
    const s = await session(1001, 'octocat');
    const device = await pair(s);
    const toMcp = await mcpInit(device.tokens.access_token);
    assert.equal(toMcp.status, 401, toMcp.body);
    assert.match(String(toMcp.headers['www-authenticate']), /invalid_token/);
    const mcpTokens = (await pairMcp(s)) as DeviceTokens & { client_id: string };
    const mcpClient = mcpTokens.client_id;
    assert.equal(claims(mcpTokens.access_token).aud, MCP);
    assert.equal((await mcpInit(mcpTokens.access_token)).status, 200, 'control: the MCP token works where it is for');
    const toRest = await tasks(mcpTokens.access_token);
    assert.equal(toRest.status, 401, toRest.body);
    // A refresh asking for the other resource is refused either way.
    const cross1 = await token(t, { grant_type: 'refresh_token', refresh_token: mcpTokens.refresh_token, client_id: mcpClient, resource: API });
    assert.equal(cross1.status, 400, cross1.body);
    assert.equal(cross1.json<{ error: string }>().error, 'invalid_target');
    const cross2 = await token(t, { grant_type: 'refresh_token', refresh_token: device.tokens.refresh_token, client_id: device.clientId, resource: MCP });
    assert.equal(cross2.status, 400, cross2.body);
    assert.equal(cross2.json<{ error: string }>().error, 'invalid_target');
    // The REST API is not granted through a browser redirect (authorization code flow).
    const web = await register(t, { client_name: 'Web client', redirect_uris: ['https://client.example/cb'], token_endpoint_auth_method: 'none' });
    const { challenge } = pkcePair();
    const authz = await call(t, `/oauth/authorize?${qs({ response_type: 'code', client_id: web.client_id, redirect_uri: 'https://client.example/cb', scope: 'caic:api', code_challenge: challenge, code_challenge_method: 'S256', resource: API })}`, { headers: { accept: 'text/html', cookie: `caic_session=${s}` } });
    assert.equal(authz.status, 303, authz.body);
    assert.equal(new URL(String(authz.headers.location)).searchParams.get('error'), 'invalid_target');
  });

  test('the REST API takes only tokens for exactly its audience and with its scope (forged with the real key)', async () => {
    const s = await session(1001, 'octocat');
    const { tokens } = await pair(s);
    const payload = claims(tokens.access_token);
    const jwk = JSON.parse(await readFile(join(d.configDir, 'oauth', 'signing-key.json'), 'utf8')) as JWK;
    const key = await importJWK(jwk, 'ES256');
    const sign = (change: Record<string, unknown>) => new SignJWT({ ...payload, ...change }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid! }).sign(key);
    assert.equal((await tasks(await sign({}))).status, 200, 'control: the same claims re-signed');
    assert.equal((await tasks(await sign({ aud: [API, MCP] }))).status, 401, 'two audiences');
    assert.equal((await mcpInit(await sign({ aud: [MCP, API] }))).status, 401, 'two audiences at the MCP endpoint');
    assert.equal((await tasks(await sign({ scope: 'caic:tasks.read' }))).status, 401, 'without caic:api');
    assert.equal((await tasks(await sign({ aud: MCP }))).status, 401, 'for the MCP endpoint');
    assert.equal((await tasks(await sign({ iss: 'https://elsewhere.test' }))).status, 401, 'another issuer');
    assert.equal((await tasks(await sign({ exp: Math.floor(Date.now() / 1000) - 5 }))).status, 401, 'expired');
  });

  test('the device pages cannot be framed', async () => {
    const page = await call(t, '/oauth/device', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
  });

  test('refresh rotates; a used refresh token presented again revokes the whole pairing', async () => {
    const s = await session(1001, 'octocat');
    const { clientId, tokens } = await pair(s);
    const r1 = await refresh(t, clientId, tokens.refresh_token);
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    assert.notEqual(r1.body.refresh_token, tokens.refresh_token, 'rotated');
    assert.equal((await tasks(r1.body.access_token)).status, 200);
    const r2 = await refresh(t, clientId, r1.body.refresh_token);
    assert.equal(r2.status, 200);
    // The first refresh token again: theft is assumed and the pairing ends.
    const reuse = await refresh(t, clientId, tokens.refresh_token);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');
    assert.equal((await tasks(r2.body.access_token)).status, 401, 'the newest access token is dead too');
    assert.equal((await refresh(t, clientId, r2.body.refresh_token)).status, 400, 'and the newest refresh token');
  });

  test('revoking a device: its next call is 401, its open stream ends, its refresh token fails; the user’s other devices go on', async () => {
    const s = await session(1001, 'octocat');
    const a = await pair(s, 'Phone A');
    const b = await pair(s, 'Phone B');
    const streamA = new SseClient(`${d.url}/api/v1/tasks/events`, bearer(a.tokens.access_token));
    await streamA.waitFor((ev) => ev.length > 0, 10_000, 'the snapshot');
    assert.equal((await tasks(a.tokens.access_token)).status, 200, 'known (cached) before the revocation');
    const grants = (await http(`${d.url}/api/v1/oauth/grants`, { headers: bearer(s) })).json<{ grants: { id: string; clientName: string; kind: string; scopes: string[] }[] }>().grants;
    const ga = grants.find((g) => g.clientName === 'Phone A')! as (typeof grants)[number] & { expiresAt: string };
    assert.deepEqual([ga.kind, ga.scopes], ['device', ['caic:api']]);
    assert.ok(Date.parse(ga.expiresAt) > Date.now() + 300 * 86_400_000, `a pairing lasts a year (${ga.expiresAt})`);
    const del = await http(`${d.url}/api/v1/oauth/grants/${ga.id}`, { method: 'DELETE', headers: bearer(s) });
    assert.equal(del.status, 200, del.body);
    assert.equal((await tasks(a.tokens.access_token)).status, 401);
    await within(streamA.done, 10_000, 'the revoked device’s stream to end');
    assert.equal((await refresh(t, a.clientId, a.tokens.refresh_token)).status, 400);
    assert.equal((await tasks(b.tokens.access_token)).status, 200, 'Phone B still paired');
    // A device that signs out (logout with its own token) unpairs itself.
    assert.equal((await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: bearer(b.tokens.access_token) })).status, 200);
    assert.equal((await tasks(b.tokens.access_token)).status, 401);
    assert.equal((await refresh(t, b.clientId, b.tokens.refresh_token)).status, 400);
  });

  test('sign out everywhere unpairs the user’s devices, not another user’s nor MCP apps', async () => {
    const s = await session(1001, 'octocat');
    const mine = await pair(s, 'Octo phone');
    const app = await pairMcp(s);
    const other = await pair(await session(1002, 'hubot'), 'Hubot phone');
    const res = await http(`${d.url}/api/v1/auth/logout-everywhere`, { method: 'POST', headers: bearer(s) });
    assert.equal(res.status, 200, res.body);
    assert.ok(res.json<{ devicesUnpaired: number }>().devicesUnpaired >= 1);
    assert.equal((await tasks(mine.tokens.access_token)).status, 401);
    assert.equal((await refresh(t, mine.clientId, mine.tokens.refresh_token)).status, 400);
    assert.equal((await tasks(other.tokens.access_token)).status, 200, 'hubot’s device is not affected');
    assert.equal((await mcpInit(app.access_token)).status, 200, 'the MCP app stays connected');
  });
});

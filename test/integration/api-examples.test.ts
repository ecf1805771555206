// android-api/README.md's request/response examples come from this run: pairing, refresh, revocation, SSE resume, errors, voice, the deep link; a stale README fails (CAIC_WRITE_EXAMPLES=1, i.e. npm run gen:api-examples, rewrites it).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Task } from '../../src/api/index.js';
import { fillReadme, readReadme, README_FILE, Recorder, Scrubber, type Exchange } from '../helpers/api-examples.js';
import { approveOverHttp, DEVICE_GRANT } from '../helpers/device-pairing.js';
import { cookiePair } from '../helpers/http.js';
import { signIn } from '../helpers/login.js';
import { form, pkcePair } from '../helpers/oauth-walk.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { until } from '../helpers/wait.js';

const HOST = 'caic.example.com';
const ORIGIN = `https://${HOST}`;
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

/** An event stream read until its `ready` event, as one exchange. */
function streamUntilReady(baseUrl: string, path: string, headers: Record<string, string>): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { headers: { host: HOST, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        const at = body.indexOf('event: ready\ndata: {}\n\n');
        if (at < 0) return;
        req.destroy();
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') out[k] = v;
        resolve({ request: { method: 'GET', path, headers }, status: res.statusCode ?? 0, headers: out, body: body.slice(0, at + 'event: ready\ndata: {}\n'.length) });
      });
      res.on('end', () => reject(new Error(`the stream ended before ready: ${body.slice(0, 300)}`)));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('API examples for android-api/README.md', { timeout: 200_000 }, () => {
  let stub: StubForge;
  let env: TaskEnv;
  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({
      files: 2,
      // Appended inside [server]: the external URL the examples show, GitHub login, and a voice gateway.
      extraConfig: `external_url = "${ORIGIN}"\n${githubLoginToml(stub, ['octocat'])}[voice-gateway]\nurl = "https://voice.example.com"\n`,
    });
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test('the README shows what this run exchanged', async () => {
    const s = new Scrubber();
    s.add(env.d.url, ORIGIN);
    s.add(stub.url, 'https://github.com');
    const rec = new Recorder(env.d.url, s, HOST);
    const session = (await signIn(env.d.url, HOST, stub, { id: 1001, username: 'octocat' })).authorization!.slice('Bearer '.length);
    s.add(session, '<session_token>');

    // Pairing (RFC 8628): register, start, poll while pending, the person approves, poll again.
    const registered = await rec.send('pairing', {
      method: 'POST',
      path: '/oauth/register',
      headers: { 'content-type': JSON_TYPE },
      body: JSON.stringify({ client_name: 'caic on Pixel 8', grant_types: [DEVICE_GRANT, 'refresh_token'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(registered.status, 201, registered.body);
    const client = JSON.parse(registered.body) as { client_id: string; registration_access_token?: string; client_id_issued_at?: number };
    s.add(client.client_id, '<client_id>');
    s.add(client.registration_access_token, '<registration_access_token>');
    s.add(String(client.client_id_issued_at ?? ''), '1796032800');
    const started = await rec.send('pairing', {
      method: 'POST',
      path: '/oauth/device_authorization',
      headers: { 'content-type': FORM },
      body: form({ client_id: client.client_id, scope: 'caic:api offline_access', resource: `${ORIGIN}/api/v1` }),
    });
    assert.equal(started.status, 200, started.body);
    const device = JSON.parse(started.body) as { device_code: string; user_code: string };
    s.add(device.device_code, '<device_code>');
    s.add(device.user_code, 'WDJB-MJHT');
    const poll = { method: 'POST', path: '/oauth/token', headers: { 'content-type': FORM }, body: form({ grant_type: DEVICE_GRANT, device_code: device.device_code, client_id: client.client_id }) };
    assert.equal((await rec.send('pairing', poll)).status, 400);
    await approveOverHttp({ url: env.d.url, host: HOST }, session, device.user_code);
    const paired = await rec.send('pairing', poll);
    assert.equal(paired.status, 200, paired.body);
    const tokens = JSON.parse(paired.body) as { access_token: string; refresh_token: string };
    s.add(tokens.access_token, '<access_token>');
    s.add(tokens.refresh_token, '<refresh_token>');
    const me = await rec.send('pairing', { method: 'GET', path: '/api/v1/auth/me', headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(me.status, 200, me.body);
    s.add((JSON.parse(me.body) as { id: string }).id, '01jq8v6k3m2r9x4t7w5y0z1abc');

    // Refresh: a new access token and a new refresh token.
    const refreshed = await rec.send('refresh', {
      method: 'POST',
      path: '/oauth/token',
      headers: { 'content-type': FORM },
      body: form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id }),
    });
    assert.equal(refreshed.status, 200, refreshed.body);
    const next = JSON.parse(refreshed.body) as { access_token: string; refresh_token: string };
    s.add(next.access_token, '<new_access_token>');
    s.add(next.refresh_token, '<new_refresh_token>');
    const bearer = { authorization: `Bearer ${next.access_token}` };

    // A task to stream: the fake agent's reply, then a resume from an event id.
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } }, { host: HOST, ...bearer });
    assert.equal(created.status, 200, created.body);
    const task = JSON.parse(created.body) as Task;
    s.add(task.id, '<task_id>');
    const done = await env.waitState(task.id, 'waiting', { headers: { host: HOST, ...bearer } });
    const from = done.lastEventId - 2;
    assert.ok(from > 0);
    const resumed = await streamUntilReady(env.d.url, `/api/v1/tasks/${task.id}/events`, { ...bearer, accept: 'text/event-stream', 'Last-Event-ID': String(from) });
    // How many events a task's start logs may vary: the example numbers them from a fixed 40.
    const renumber = (n: number) => String(n - from + 40);
    rec.keep('sse-resume', {
      ...resumed,
      request: { ...resumed.request, headers: { ...resumed.request.headers, 'Last-Event-ID': renumber(from) } },
      body: resumed.body.replace(/^id: (\d+)$/gm, (_m, n: string) => `id: ${renumber(Number(n))}`).replace(/"id":(\d+)/g, (_m, n: string) => `"id":${renumber(Number(n))}`),
    });

    // Errors: a malformed body, an unknown task, an action the state does not allow.
    assert.equal((await rec.send('errors', { method: 'POST', path: '/api/v1/tasks', headers: { ...bearer, 'content-type': JSON_TYPE }, body: JSON.stringify({ harness: 'fake' }) })).status, 400);
    assert.equal((await rec.send('errors', { method: 'GET', path: '/api/v1/tasks/0000000000notatask', headers: bearer })).status, 404);
    assert.equal((await rec.send('errors', { method: 'POST', path: `/api/v1/tasks/${task.id}/revive`, headers: bearer })).status, 409);

    // Voice: a token for the gateway.
    const voice = await rec.send('voice', { method: 'GET', path: '/api/v1/voice/token', headers: bearer });
    assert.equal(voice.status, 200, voice.body);
    s.add((JSON.parse(voice.body) as { token: string }).token, '<voice_token>');

    // Revocation: the device unpairs itself; its access token answers 401 from then on.
    const revoked = await rec.send('revocation', { method: 'POST', path: '/oauth/revoke', headers: { 'content-type': FORM }, body: form({ token: next.refresh_token, client_id: client.client_id }) });
    assert.equal(revoked.status, 200, revoked.body);
    const gone = await until(async () => {
      const r = await rec.send(null, { method: 'GET', path: '/api/v1/tasks', headers: bearer });
      return r.status === 401 ? r : null;
    }, 'the revoked token to be refused', 10_000, 50);
    rec.keep('revocation', gone);

    // The deep link: browser sign-in with PKCE ends at caic://auth?code=, which the app redeems.
    const { verifier, challenge } = pkcePair();
    s.add(verifier, '<code_verifier>');
    s.add(challenge, '<code_challenge>');
    stub.user = { id: 1001, username: 'octocat' };
    const start = await rec.send('deep-link', { method: 'GET', path: `/api/v1/auth/github/start?return=app&code_challenge=${challenge}&code_challenge_method=S256` });
    assert.equal(start.status, 302, start.body);
    const authorize = new URL(start.headers.location!);
    s.add(authorize.searchParams.get('state'), '<state>');
    const stateCookie = cookiePair(start.headers['set-cookie']!.split(', ').find((c) => c.startsWith('caic_oauth_state='))!);
    const approved = await fetch(authorize, { redirect: 'manual' });
    const back = new URL(approved.headers.get('location')!);
    s.add(back.searchParams.get('code'), '<provider_code>');
    const callback = await rec.send('deep-link', { method: 'GET', path: `${back.pathname}${back.search}`, headers: { cookie: stateCookie } });
    assert.equal(callback.status, 302, callback.body);
    const link = new URL(callback.headers.location!);
    assert.equal(link.protocol, 'caic:');
    s.add(link.searchParams.get('code'), '<code>');
    const redeemed = await rec.send('deep-link', { method: 'POST', path: '/api/v1/auth/token', headers: { 'content-type': JSON_TYPE }, body: JSON.stringify({ code: link.searchParams.get('code'), code_verifier: verifier }) });
    assert.equal(redeemed.status, 200, redeemed.body);
    const appToken = (JSON.parse(redeemed.body) as { token: string }).token;
    s.add(appToken, '<session_token>');
    // Older app builds (no code_challenge): the deep link carries the session token itself.
    const legacy = await rec.send('deep-link-legacy', { method: 'GET', path: '/api/v1/auth/github/start?return=app' });
    assert.equal(legacy.status, 302, legacy.body);
    const legacyAuthorize = new URL(legacy.headers.location!);
    s.add(legacyAuthorize.searchParams.get('state'), '<state>');
    const legacyCookie = cookiePair(legacy.headers['set-cookie']!.split(', ').find((c) => c.startsWith('caic_oauth_state='))!);
    const legacyBack = new URL((await fetch(legacyAuthorize, { redirect: 'manual' })).headers.get('location')!);
    s.add(legacyBack.searchParams.get('code'), '<provider_code>');
    const legacyDone = await rec.send('deep-link-legacy', { method: 'GET', path: `${legacyBack.pathname}${legacyBack.search}`, headers: { cookie: legacyCookie } });
    assert.equal(legacyDone.status, 302, legacyDone.body);
    const legacyLink = new URL(legacyDone.headers.location!);
    assert.equal(`${legacyLink.protocol}//${legacyLink.host}`, 'caic://auth');
    s.add(legacyLink.searchParams.get('token'), '<session_token>');

    // Signing out ends that session: the token answers 401 from then on.
    assert.equal((await rec.send('logout', { method: 'POST', path: '/api/v1/auth/logout', headers: { authorization: `Bearer ${appToken}` } })).status, 200);
    assert.equal((await rec.send('logout', { method: 'GET', path: '/api/v1/auth/me', headers: { authorization: `Bearer ${appToken}` } })).status, 401);

    const regions = rec.render();
    const all = [...regions.values()].join('\n');
    for (const secret of s.secrets()) assert.ok(!all.includes(secret), `a raw value (${secret.slice(0, 6)}…) reached the examples`);
    assert.doesNotMatch(all, /127\.0\.0\.1/);
    const current = readReadme();
    const wanted = fillReadme(current, regions);
    if (process.env.CAIC_WRITE_EXAMPLES === '1') writeFileSync(README_FILE, wanted);
    else assert.equal(current, wanted, 'android-api/README.md examples are stale: run `npm run gen:api-examples`');
  });
});

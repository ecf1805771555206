// What anyone who passes the gate may make the authorization server store: registrations per
// address, a cap on registered clients (abandoned ones make room, granted ones never), and a
// per-address limit on the other unauthenticated endpoints that leaves token refreshes alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { authorize, call, CookieJar, pkcePair, register, token, type WalkTarget } from '../helpers/oauth-walk.js';

const REDIRECT = 'http://127.0.0.1:33418/callback';

describe('OAuth limits (no login, loopback)', { timeout: 120_000 }, () => {
  let d: TestDaemon;
  let t: WalkTarget;

  before(async () => {
    d = await startTestDaemon('', { oauthLimits: { registrations: 6, maxClients: 2, requestsPerMinute: 40 } });
    t = { url: d.url };
  });
  after(async () => {
    await d?.[Symbol.asyncDispose]();
  });

  const meta = (name: string) => ({ client_name: name, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
  const readable = async (c: { client_id: string; registration_access_token: string }) =>
    (await call(t, `/oauth/register/${c.client_id}`, { headers: { authorization: `Bearer ${c.registration_access_token}` } })).status;

  test('the client cap: an abandoned client makes room, a granted one never does; then registration is refused', async () => {
    const a = await register(t, meta('A'));
    const b = await register(t, meta('B'));
    // B gets a grant (and a refresh token): it is in use.
    const { verifier, challenge } = pkcePair();
    const back = await authorize(
      t,
      new CookieJar(),
      { response_type: 'code', client_id: b.client_id, redirect_uri: REDIRECT, scope: 'caic:tasks.read offline_access', code_challenge: challenge, code_challenge_method: 'S256' },
      { scopes: ['caic:tasks.read'] },
    );
    const tok = await token(t, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, code_verifier: verifier, client_id: b.client_id, redirect_uri: REDIRECT });
    assert.equal(tok.status, 200, tok.body);
    const c = await register(t, meta('C'));
    assert.notEqual(await readable(a), 200, 'the oldest client without a grant was removed');
    assert.equal(await readable(b), 200, 'the granted client stays');
    assert.equal(await readable(c), 200);
    // Now: B granted, C not: D evicts C.
    const dd = await register(t, meta('D'));
    assert.notEqual(await readable(c), 200);
    // Give D a grant too: every client is in use, so the next registration is refused.
    const p2 = pkcePair();
    const back2 = await authorize(
      t,
      new CookieJar(),
      { response_type: 'code', client_id: dd.client_id, redirect_uri: REDIRECT, scope: 'caic:tasks.read', code_challenge: p2.challenge, code_challenge_method: 'S256' },
      { scopes: ['caic:tasks.read'] },
    );
    assert.ok(back2.searchParams.get('code'));
    const refused = await call(t, '/oauth/register', { method: 'POST', body: JSON.stringify(meta('E')), headers: { 'content-type': 'application/json' } });
    assert.equal(refused.status, 429, refused.body);
    assert.match(refused.body, /too many registered clients/);
    assert.equal(await readable(b), 200);
    assert.equal(await readable(dd), 200);
    // Token refreshes are not limited by address: many in a row all succeed.
    let refresh = tok.json<{ refresh_token: string }>().refresh_token;
    for (let i = 0; i < 45; i++) {
      const r = await token(t, { grant_type: 'refresh_token', refresh_token: refresh, client_id: b.client_id });
      assert.equal(r.status, 200, `refresh ${i}: ${r.body}`);
      refresh = r.json<{ refresh_token: string }>().refresh_token;
    }
  });

  test('registrations per address per window, then the other unauthenticated endpoints per minute', async () => {
    // Six registrations were allowed in this window; the earlier test used five (one refused by the cap).
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(t, '/oauth/register', { method: 'POST', body: JSON.stringify(meta(`R${i}`)), headers: { 'content-type': 'application/json' } })).status);
    assert.equal(statuses.at(-1), 429);
    const limited = await call(t, '/oauth/register', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(limited.status, 429);
    assert.match(limited.body, /too many client registrations/);
    assert.ok(limited.headers['retry-after'], 'says when to retry');
    const codes: number[] = [];
    for (let i = 0; i < 45; i++) codes.push((await call(t, `/oauth/authorize?client_id=nope&response_type=code`)).status);
    assert.ok(codes.slice(0, 30).every((s) => s !== 429), 'below the limit: answered');
    assert.equal(codes.at(-1), 429, 'beyond the limit per minute: refused');
  });
});

// Revocable sessions over real HTTP with login configured (the GitHub stand-in): logout ends that
// session server-side (a replayed token is refused, also after a restart, and its open event stream
// ends), "sign out everywhere" ends every session of one user and no one else's, tokens issued
// before sessions were revocable keep working, and the old app builds' caic://auth?token= deep link
// still signs in.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { cookiePair, http } from '../helpers/http.js';
import { signIn } from '../helpers/login.js';
import { SseClient } from '../helpers/sse.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { within } from '../helpers/wait.js';

const HOST = 'caic.test';

describe('revocable sessions', { timeout: 120_000 }, () => {
  let stub: StubForge;
  let d: TestDaemon;
  const config = () => `[server]\nallow_origins = ["local"]\nexternal_url = "https://${HOST}"\nlegacy_app_login_until = "2999-01-01"\n${githubLoginToml(stub, ['octocat', 'hubot'])}`;

  before(async () => {
    stub = await startStubForge();
    d = await startTestDaemon(config(), { webDir: null });
  });
  after(async () => {
    await d?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  const me = (headers: Record<string, string>) => http(`${d.url}/api/v1/auth/me`, { headers });
  const tasks = (headers: Record<string, string>) => http(`${d.url}/api/v1/tasks`, { headers });
  const asCookie = (bearer: Record<string, string>) => ({ host: HOST, cookie: `caic_session=${bearer.authorization!.slice(7)}` });
  const snapshot = async (headers: Record<string, string>) => {
    const s = new SseClient(`${d.url}/api/v1/tasks/events`, headers);
    await s.waitFor((ev) => ev.some((e) => (e.data as { type?: string } | undefined)?.type === 'snapshot'), 10_000, 'the snapshot');
    return s;
  };

  test('logout ends that session: its token is refused when replayed (bearer or cookie, also after a restart); its stream ends; other sessions go on', async () => {
    const a = await signIn(d.url, HOST, stub, { id: 1001, username: 'octocat' });
    const b = await signIn(d.url, HOST, stub, { id: 1001, username: 'octocat' });
    assert.notEqual(a.authorization, b.authorization, 'two sign-ins, two sessions');
    assert.equal((await tasks(a)).status, 200);
    const streamA = await snapshot(a);
    const streamB = await snapshot(b);
    let bEnded = false;
    void streamB.done.then(() => (bEnded = true));
    const out = await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: a });
    assert.equal(out.status, 200, out.body);
    assert.match(out.setCookies.find((c) => c.startsWith('caic_session='))!, /Expires=Thu, 01 Jan 1970|Max-Age=0/i, 'the cookie is cleared too');
    for (const h of [a, asCookie(a)]) {
      assert.equal((await tasks(h)).status, 401, 'replayed after logout');
      assert.equal((await me(h)).status, 401);
    }
    await within(streamA.done, 10_000, 'the logged-out session’s stream to end');
    // Logging out again with the ended token writes nothing.
    const before = await stat(join(d.configDir, 'users.json'));
    assert.equal((await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: a })).status, 200);
    assert.equal((await stat(join(d.configDir, 'users.json'))).ino, before.ino, 'users.json not rewritten');
    assert.equal((await tasks(b)).status, 200, 'the other session of the same user goes on');
    await new Promise((r) => setImmediate(r));
    assert.equal(bEnded, false, 'and so does its stream');
    streamB.close();
    // Logging out with a cookie works the same way.
    const c = await signIn(d.url, HOST, stub, { id: 1001, username: 'octocat' });
    assert.equal((await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: asCookie(c) })).status, 200);
    assert.equal((await tasks(c)).status, 401);
    // users.json keeps the ended sessions: a restart does not bring them back.
    await d.daemon.close();
    d = await startTestDaemon('', { dir: d.dir, configDir: d.configDir, cacheDir: d.cacheDir, webDir: null });
    assert.equal((await tasks(a)).status, 401, 'still refused after a restart');
    assert.equal((await tasks(b)).status, 200, 'a live session survives the restart');
  });

  test('sign out everywhere ends every session of that user and no one else’s; signing in again works', async () => {
    const s1 = await signIn(d.url, HOST, stub, { id: 1001, username: 'octocat' });
    const s2 = await signIn(d.url, HOST, stub, { id: 1001, username: 'octocat' });
    const other = await signIn(d.url, HOST, stub, { id: 1002, username: 'hubot' });
    const otherStream = await snapshot(other);
    const s2Stream = await snapshot(s2);
    assert.equal((await http(`${d.url}/api/v1/auth/logout-everywhere`, { method: 'POST', headers: { host: HOST } })).status, 401, 'needs a session');
    const res = await http(`${d.url}/api/v1/auth/logout-everywhere`, { method: 'POST', headers: s1 });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json(), { status: 'ok', devicesUnpaired: 0 });
    for (const h of [s1, s2, asCookie(s2)]) assert.equal((await tasks(h)).status, 401, 'every session of octocat ended');
    await within(s2Stream.done, 10_000, 'the other session’s stream to end');
    assert.equal((await tasks(other)).status, 200, 'hubot is not affected');
    let otherEnded = false;
    void otherStream.done.then(() => (otherEnded = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(otherEnded, false, 'nor is hubot’s stream');
    otherStream.close();
    const again = await signIn(d.url, HOST, stub, { id: 1001, username: 'octocat' });
    assert.equal((await tasks(again)).status, 200, 'a new sign-in gets a working session');
    assert.equal((await tasks(s1)).status, 401, 'and does not bring the ended ones back');
    const users = JSON.parse(await readFile(join(d.configDir, 'users.json'), 'utf8')) as { users: { username: string; sessionEpoch: number }[] };
    assert.equal(users.users.find((u) => u.username === 'octocat')?.sessionEpoch, 1);
  });

  test('a token issued before sessions were revocable (no jti, no epoch) still works, and logout ends it', async () => {
    await signIn(d.url, HOST, stub, { id: 1002, username: 'hubot' });
    const secret = Buffer.from((JSON.parse(await readFile(join(d.configDir, 'settings.json'), 'utf8')) as { sessionSecret: string }).sessionSecret, 'hex');
    const users = JSON.parse(await readFile(join(d.configDir, 'users.json'), 'utf8')) as { users: { id: string; username: string; sessionEpoch: number }[] };
    const now = Math.floor(Date.now() / 1000);
    const hubot = users.users.find((u) => u.username === 'hubot')!;
    assert.equal(hubot.sessionEpoch, 0);
    const oldHubot = await new SignJWT({ prv: 'github', usr: 'hubot' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(hubot.id).setIssuedAt(now).setExpirationTime(now + 600).sign(secret);
    const hh = { host: HOST, authorization: `Bearer ${oldHubot}` };
    assert.equal((await tasks(hh)).status, 200, 'an old token keeps working');
    assert.equal((await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: hh })).status, 200);
    assert.equal((await tasks(hh)).status, 401, 'and logout ends it');
  });

  test('old app builds: caic://auth?token= still signs in, and that token is a revocable session', async () => {
    stub.user = { id: 1002, username: 'hubot' };
    const start = await http(`${d.url}/api/v1/auth/github/start?return=app`, { headers: { host: HOST } });
    assert.equal(start.status, 302, start.body);
    const state = cookiePair(start.setCookies.find((c) => c.startsWith('caic_oauth_state='))!);
    const approve = await http(String(start.headers.location));
    const back = new URL(String(approve.headers.location));
    const done = await http(`${d.url}${back.pathname}${back.search}`, { headers: { host: HOST, cookie: state, accept: 'text/html' } });
    assert.equal(done.status, 302, done.body);
    const link = new URL(String(done.headers.location));
    assert.equal(`${link.protocol}//${link.host}`, 'caic://auth');
    const token = link.searchParams.get('token')!;
    const h = { host: HOST, authorization: `Bearer ${token}` };
    assert.equal((await me(h)).json<{ username: string }>().username, 'hubot');
    assert.equal((await tasks(h)).status, 200);
    assert.equal((await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: h })).status, 200);
    assert.equal((await tasks(h)).status, 401);
  });

  test('several session cookies (one planted by a sibling host of the site, sent first): junk is ignored, two users are refused, logout ends only the own one', async () => {
    const mine = await signIn(d.url, HOST, stub, { id: 1001, username: 'octocat' });
    const theirs = await signIn(d.url, HOST, stub, { id: 1002, username: 'hubot' });
    const token = (h: Record<string, string>) => h.authorization!.slice(7);
    const cookies = (...values: string[]) => ({ host: HOST, cookie: values.map((v) => `caic_session=${v}`).join('; ') });
    // A junk value first (a preview's script set it with a longer path) does not sign the user out.
    const junkFirst = cookies('planted-junk', token(mine));
    assert.equal((await me(junkFirst)).json<{ username: string }>().username, 'octocat');
    assert.equal((await tasks(junkFirst)).status, 200);
    // Another account's valid session planted first does not make the user act as that account.
    const otherFirst = cookies(token(theirs), token(mine));
    assert.equal((await me(otherFirst)).status, 401);
    assert.equal((await tasks(otherFirst)).status, 401);
    // Two sessions of the same user are that user.
    const again = await signIn(d.url, HOST, stub, { id: 1001, username: 'octocat' });
    assert.equal((await me(cookies(token(again), token(mine)))).json<{ username: string }>().username, 'octocat');
    // Logout with a planted cookie sent first ends the own session (not the first value only).
    const out = await http(`${d.url}/api/v1/auth/logout`, { method: 'POST', headers: cookies('planted-junk', token(again)) });
    assert.equal(out.status, 200, out.body);
    assert.equal((await tasks(again)).status, 401, 'the own session ended');
    assert.equal((await tasks(theirs)).status, 200, 'the planted one is not touched');
    assert.equal((await tasks(mine)).status, 200);
  });
});

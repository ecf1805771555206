// Session JWTs, the OAuth state, the app hand-off and users.json: what verifies and what must not.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { SignJWT, generateKeyPair, UnsecuredJWT } from 'jose';
import { UserError, UserStore, type UsersFileEvent } from '../../src/config/index.js';
import { AppHandoff, checkState, expiryFrom, LoginStates, newState, OneTimeStore, s256, SessionManager } from '../../src/http/auth/index.js';
import { tempDir } from '../helpers/tmp.js';

async function setup() {
  const dir = await tempDir();
  const users = await UserStore.open(dir.path);
  const user = await users.upsert({ provider: 'github', providerId: '7', username: 'alice', avatarURL: '', accessToken: 'gho_x' });
  const secret = randomBytes(32);
  let now = Date.parse('2026-11-22T00:00:00Z');
  const allowed = new Set(['alice']);
  const sessions = new SessionManager(secret, users, { ttlSeconds: 3600, isAllowed: (u) => allowed.has(u.username), now: () => now });
  return { dir, users, user, secret, sessions, allowed, advance: (ms: number) => (now += ms), now: () => now };
}

type FileUser = { id: string; username: string };
async function fileUsers(users: UserStore): Promise<FileUser[]> {
  return (JSON.parse(await readFile(users.path, 'utf8')) as { users: FileUser[] }).users;
}

test('a fresh token verifies; its claims are sub/prv/usr/iat/exp, its session id and the user\'s session epoch, with HS256', async () => {
  const s = await setup();
  await using _dir = s.dir;
  const { token, expiresAt } = await s.sessions.issue(s.user);
  assert.equal((await s.sessions.verify(token))?.id, s.user.id);
  const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
  assert.equal(header!.alg, 'HS256');
  assert.deepEqual(Object.keys(payload!).sort(), ['exp', 'iat', 'jti', 'prv', 'sep', 'sub', 'usr']);
  assert.equal(payload!.sep, 0);
  assert.match(String(payload!.jti), /^[A-Za-z0-9_-]{22}$/, '128 random bits');
  assert.notEqual((await s.sessions.issue(s.user)).token, token, 'two sessions issued in the same second differ');
  assert.equal(payload!.sub, s.user.id);
  assert.equal(payload!.usr, 'alice');
  assert.equal(payload!.prv, 'github');
  assert.equal(expiresAt.getTime(), s.now() + 3600_000);
});

test('tampered signature, tampered payload, alg none, other algs, wrong key → rejected', async () => {
  const s = await setup();
  await using _dir = s.dir;
  const { token } = await s.sessions.issue(s.user);
  const [h, p, sig] = token.split('.') as [string, string, string];
  const flipped = sig.slice(0, -2) + (sig.at(-2) === 'A' ? 'B' : 'A') + sig.at(-1)!;
  assert.equal(await s.sessions.verify(`${h}.${p}.${flipped}`), null);
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), usr: 'mallory' })).toString('base64url');
  assert.equal(await s.sessions.verify(`${h}.${forged}.${sig}`), null);

  const iat = Math.floor(s.now() / 1000);
  const none = new UnsecuredJWT({ prv: 'github', usr: 'alice' }).setSubject(s.user.id).setIssuedAt(iat).setExpirationTime(iat + 60).encode();
  assert.equal(await s.sessions.verify(none), null);

  // HS512 with the same secret: right key, wrong algorithm.
  const hs512 = await new SignJWT({ prv: 'github', usr: 'alice' }).setProtectedHeader({ alg: 'HS512' }).setSubject(s.user.id).setIssuedAt(iat).setExpirationTime(iat + 60).sign(s.secret);
  assert.equal(await s.sessions.verify(hs512), null);
  const { privateKey } = await generateKeyPair('ES256');
  const es256 = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setSubject(s.user.id).setIssuedAt(iat).setExpirationTime(iat + 60).sign(privateKey);
  assert.equal(await s.sessions.verify(es256), null);

  const otherKey = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(s.user.id).setIssuedAt(iat).setExpirationTime(iat + 60).sign(randomBytes(32));
  assert.equal(await s.sessions.verify(otherKey), null);
  // Hand-made HS256 with the right secret but no exp: required claims missing.
  const noExp = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: s.user.id, iat })).toString('base64url')}`;
  const mac = createHmac('sha256', s.secret).update(noExp).digest('base64url');
  assert.equal(await s.sessions.verify(`${noExp}.${mac}`), null);
  assert.equal(await s.sessions.verify('garbage'), null);
  assert.equal(await s.sessions.verify('x'.repeat(10_000)), null);
});

test('expired tokens are rejected, also after they were verified once', async () => {
  const s = await setup();
  await using _dir = s.dir;
  const { token } = await s.sessions.issue(s.user);
  assert.ok(await s.sessions.verify(token));
  s.advance(3600_000 + 1000);
  assert.equal(await s.sessions.verify(token), null);
  const { token: t2 } = await s.sessions.issue(s.user);
  s.advance(3601_000);
  assert.equal(await s.sessions.verify(t2), null, 'never cached before expiry');
});

test('a deleted user loses access at once', async () => {
  const s = await setup();
  await using _dir = s.dir;
  const { token } = await s.sessions.issue(s.user);
  assert.ok(await s.sessions.verify(token));
  await s.users.delete(s.user.id);
  assert.equal(await s.sessions.verify(token), null);
  assert.equal(s.sessions.cached(token), null, 'the fast path agrees');
});

test('a user taken off allowed_users loses their sessions, on the fast path too, and gets them back when listed again', async () => {
  const s = await setup();
  await using _dir = s.dir;
  const { token } = await s.sessions.issue(s.user);
  assert.equal((await s.sessions.verify(token))?.id, s.user.id);
  assert.equal(s.sessions.cached(token)?.id, s.user.id);
  s.allowed.delete('alice');
  // Config changes come with a restart (a new SessionManager); here the same one must not trust its cache.
  const restarted = new SessionManager(s.secret, s.users, { ttlSeconds: 3600, isAllowed: (u) => s.allowed.has(u.username), now: s.now });
  assert.equal(await restarted.verify(token), null);
  assert.equal(restarted.cached(token), null);
  assert.equal(restarted.userById(s.user.id), null);
  s.allowed.add('alice');
  await s.users.upsert({ provider: 'github', providerId: '7', username: 'alice', avatarURL: '', accessToken: 'gho_y' });
  assert.equal(restarted.cached(token)?.id, s.user.id);
});

test('users.json edited on disk: a deleted user ends their cached session; the next save keeps the edit', async () => {
  const s = await setup();
  await using _dir = s.dir;
  const bob = await s.users.upsert({ provider: 'github', providerId: '8', username: 'bob', avatarURL: '', accessToken: 'gho_b' });
  s.allowed.add('bob');
  const { token } = await s.sessions.issue(s.user);
  assert.equal((await s.sessions.verify(token))?.id, s.user.id);
  const events: UsersFileEvent[] = [];
  let changed!: () => void;
  const seen = new Promise<void>((resolve) => (changed = resolve));
  s.users.watch((e) => {
    events.push(e);
    // An in-place write can be seen half done (an empty or cut file: 'invalid', nobody signed in
    // meanwhile); the watcher reads again when the write completes.
    if (e.kind === 'reloaded') changed();
  });
  try {
    // The documented way to end someone's sessions: remove them from the file, here in place (no rename).
    const kept = (await fileUsers(s.users)).filter((u) => u.id !== s.user.id);
    await writeFile(s.users.path, JSON.stringify({ users: kept }, null, 2));
    await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error(`no reload within 10 s (events: ${JSON.stringify(events)})`)), 10_000).unref())]);
    assert.deepEqual(events.at(-1), { kind: 'reloaded', users: 1 });
    assert.equal(s.sessions.cached(token), null);
    assert.equal(await s.sessions.verify(token), null);
    // Another user's login saves the file: alice must stay deleted.
    await s.users.upsert({ provider: 'github', providerId: '8', username: 'bob', avatarURL: '', accessToken: 'gho_b2' });
    assert.deepEqual((await fileUsers(s.users)).map((u) => u.id), [bob.id]);
    assert.equal(s.users.get(s.user.id), undefined);
  } finally {
    s.users.close();
  }
});

test('users.json: an edit is picked up by the next save even without a watcher; a removed file removes everyone', async () => {
  const s = await setup();
  await using _dir = s.dir;
  const { token } = await s.sessions.issue(s.user);
  assert.ok(await s.sessions.verify(token));
  await writeFile(s.users.path, JSON.stringify({ users: [] }));
  await s.users.upsert({ provider: 'gitlab', providerId: '9', username: 'carol', avatarURL: '', accessToken: 'glpat_c' });
  assert.deepEqual((await fileUsers(s.users)).map((u) => u.username), ['carol']);
  assert.equal(s.sessions.cached(token), null);
  await rm(s.users.path);
  assert.deepEqual(await s.users.reload(), { kind: 'reloaded', users: 0 });
  assert.equal(s.users.list().length, 0);
});

test('users.json made invalid while running: nobody is signed in, saves are refused, a fixed file restores sessions', async () => {
  const s = await setup();
  await using _dir = s.dir;
  const { token } = await s.sessions.issue(s.user);
  assert.ok(await s.sessions.verify(token));
  const good = await readFile(s.users.path, 'utf8');
  await writeFile(s.users.path, '{"users": [');
  assert.deepEqual(await s.users.reload(), { kind: 'invalid', message: 'not valid JSON' });
  assert.equal(s.sessions.cached(token), null, 'fails closed');
  await assert.rejects(
    s.users.upsert({ provider: 'github', providerId: '8', username: 'bob', avatarURL: '', accessToken: 'gho_b' }),
    (err: Error) => err instanceof UserError && /not valid JSON; fix the file/.test(err.message),
  );
  assert.equal(await readFile(s.users.path, 'utf8'), '{"users": [', 'the broken file is left for its author to fix');
  await writeFile(s.users.path, good);
  assert.deepEqual(await s.users.reload(), { kind: 'reloaded', users: 1 });
  assert.equal(s.sessions.cached(token)?.id, s.user.id);
});

test('login states: single use, ten minutes on the server whatever the cookie says, bounded', () => {
  const secret = randomBytes(32);
  let now = 0;
  const states = new LoginStates(secret, { now: () => now, capacity: 3 });
  const a = states.begin({ returnTo: 'web' });
  assert.deepEqual(states.finish(a.cookie, a.state), { returnTo: 'web' });
  assert.equal(states.finish(a.cookie, a.state), null, 'a completed state cannot be replayed');

  const b = states.begin({ returnTo: 'app', codeChallenge: 'c'.repeat(43) });
  assert.equal(states.finish(a.cookie, b.state), null, 'cookie of another attempt');
  assert.deepEqual(states.finish(b.cookie, b.state), { returnTo: 'app', codeChallenge: 'c'.repeat(43) }, 'a refused try does not use it up');

  const c = states.begin({ returnTo: 'web' });
  now += 600_000;
  assert.equal(states.finish(c.cookie, c.state), null, 'expired on the server');
  const d = states.begin({ returnTo: 'web' });
  now += 599_999;
  assert.deepEqual(states.finish(d.cookie, d.state), { returnTo: 'web' }, 'just inside the lifetime');

  // A state signed with our secret but never handed out (e.g. from before a restart) is refused.
  const foreign = newState(secret, 'web');
  assert.equal(states.finish(foreign.cookie, foreign.state), null);

  const flood = [1, 2, 3, 4].map(() => states.begin({ returnTo: 'web' }));
  assert.equal(states.finish(flood[0]!.cookie, flood[0]!.state), null, 'the oldest went at capacity');
  assert.ok(states.finish(flood[3]!.cookie, flood[3]!.state));
});

test('one-time store: expired entries are dropped as new ones arrive, so memory follows live entries', () => {
  let now = 0;
  const store = new OneTimeStore<number>({ ttlMs: 10, capacity: 100, now: () => now });
  for (let i = 0; i < 50; i++) store.put(`k${i}`, i);
  now = 10;
  store.put('fresh', 1);
  assert.equal(store.size, 1);
  assert.equal(store.take('fresh'), 1);
  assert.equal(store.take('fresh'), undefined);
});

test('app hand-off: the code works once, only with the verifier, only for a minute', () => {
  let now = 0;
  const handoff = new AppHandoff({ now: () => now });
  const verifier = randomBytes(32).toString('base64url');
  const challenge = s256(verifier);
  assert.match(challenge, /^[A-Za-z0-9_-]{43}$/);
  // RFC 7636 appendix B.
  assert.equal(s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');

  const code = handoff.issue('u1', challenge);
  assert.match(code, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(handoff.redeem(code, verifier), { userId: 'u1' });
  assert.match((handoff.redeem(code, verifier) as { error: string }).error, /already used/);

  const caught = handoff.issue('u1', challenge);
  assert.match((handoff.redeem(caught, randomBytes(32).toString('base64url')) as { error: string }).error, /does not match/);
  assert.match((handoff.redeem(caught, verifier) as { error: string }).error, /already used/, 'a wrong verifier burns the code');

  const late = handoff.issue('u1', challenge);
  now += 60_000;
  assert.match((handoff.redeem(late, verifier) as { error: string }).error, /expired/);
});

test('expires_in from a provider: only sane positive numbers become an expiry; nothing throws', () => {
  const now = Date.parse('2026-11-22T00:00:00Z');
  assert.equal(expiryFrom(7200, now), '2026-11-22T02:00:00.000Z');
  assert.equal(expiryFrom('7200', now), '2026-11-22T02:00:00.000Z');
  for (const bad of [-5, 0, 1e308, Infinity, NaN, 'soon', '-1', '1e9', null, {}, [], true, undefined]) {
    assert.equal(expiryFrom(bad, now), undefined, JSON.stringify(bad) ?? 'undefined');
  }
});

test('state cookie: MAC and equality checked; return target bound in', () => {
  const secret = randomBytes(32);
  const web = newState(secret, 'web');
  const app = newState(secret, 'app');
  assert.match(web.state, /^web:[0-9a-f]{32}$/);
  assert.equal(checkState(secret, web.cookie, web.state), 'web');
  assert.equal(checkState(secret, app.cookie, app.state), 'app');
  assert.equal(checkState(secret, web.cookie, app.state), null, 'state from another attempt');
  assert.equal(checkState(randomBytes(32), web.cookie, web.state), null, 'other secret');
  assert.equal(checkState(secret, `app${web.cookie.slice(3)}`, `app${web.state.slice(3)}`), null, 'return target tampered');
  assert.equal(checkState(secret, undefined, web.state), null);
  assert.equal(checkState(secret, web.cookie, undefined), null);
  assert.equal(checkState(secret, 'nodot', 'nodot'), null);
});

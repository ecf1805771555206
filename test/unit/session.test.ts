// Session JWTs and the OAuth state cookie: what verifies and what must not.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT, generateKeyPair, UnsecuredJWT } from 'jose';
import { UserStore } from '../../src/config/index.js';
import { checkState, newState, SessionManager } from '../../src/http/auth/index.js';
import { tempDir } from '../helpers/tmp.js';

async function setup() {
  const dir = await tempDir();
  const users = await UserStore.open(dir.path);
  const user = await users.upsert({ provider: 'github', providerId: '7', username: 'alice', avatarURL: '', accessToken: 'gho_x' });
  const secret = randomBytes(32);
  let now = Date.parse('2026-11-22T00:00:00Z');
  const sessions = new SessionManager(secret, users, { ttlSeconds: 3600, now: () => now });
  return { dir, users, user, secret, sessions, advance: (ms: number) => (now += ms), now: () => now };
}

test('a fresh token verifies; its claims are sub/prv/usr/iat/exp with HS256', async () => {
  const s = await setup();
  await using _dir = s.dir;
  const { token, expiresAt } = await s.sessions.issue(s.user);
  assert.equal((await s.sessions.verify(token))?.id, s.user.id);
  const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
  assert.equal(header!.alg, 'HS256');
  assert.deepEqual(Object.keys(payload!).sort(), ['exp', 'iat', 'prv', 'sub', 'usr']);
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

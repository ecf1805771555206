// settings.json / users.json: 0700 dir, 0600 files, atomic writes, the session secret survives restarts.
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensurePrivateDir, loadOrCreateSettings, UserError, UserStore, writeFileAtomic } from '../../src/config/index.js';
import { tempDir } from '../helpers/tmp.js';

const mode = async (p: string) => (await stat(p)).mode & 0o777;

test('the config dir is created 0700 and a world-readable one is tightened', async () => {
  await using dir = await tempDir();
  const fresh = join(dir.path, 'a', 'caic');
  assert.equal(await ensurePrivateDir(fresh), false);
  assert.equal(await mode(fresh), 0o700);
  const loose = join(dir.path, 'loose');
  await mkdir(loose, { mode: 0o755 });
  await chmod(loose, 0o755);
  assert.equal(await ensurePrivateDir(loose), true);
  assert.equal(await mode(loose), 0o700);
});

test('settings.json: 256-bit secret, mode 0600, kept across restarts', async () => {
  await using dir = await tempDir();
  const first = await loadOrCreateSettings(dir.path);
  assert.equal(first.created, true);
  assert.equal(first.sessionSecret.length, 32);
  const path = join(dir.path, 'settings.json');
  assert.equal(await mode(path), 0o600);
  const again = await loadOrCreateSettings(dir.path);
  assert.equal(again.created, false);
  assert.ok(again.sessionSecret.equals(first.sessionSecret));
  const json = JSON.parse(await readFile(path, 'utf8')) as { sessionSecret: string };
  assert.equal(json.sessionSecret, first.sessionSecret.toString('hex'));
});

test('settings.json with loose permissions is tightened; a corrupt one is a one-line error', async () => {
  await using dir = await tempDir();
  await loadOrCreateSettings(dir.path);
  const path = join(dir.path, 'settings.json');
  await chmod(path, 0o644);
  await loadOrCreateSettings(dir.path);
  assert.equal(await mode(path), 0o600);
  await writeFile(path, '{"sessionSecret":"short"}');
  await assert.rejects(loadOrCreateSettings(dir.path), (err: Error) => err instanceof UserError && /sessionSecret: must be 64 hex/.test(err.message));
  await writeFile(path, '{not json');
  await assert.rejects(loadOrCreateSettings(dir.path), (err: Error) => err instanceof UserError && /not valid JSON/.test(err.message));
});

test('writeFileAtomic replaces whole files, leaves no temp files, and applies the mode', async () => {
  await using dir = await tempDir();
  const path = join(dir.path, 'state.json');
  await writeFile(path, 'old', { mode: 0o644 });
  await Promise.all(Array.from({ length: 20 }, (_, i) => writeFileAtomic(path, JSON.stringify({ i, pad: 'x'.repeat(10_000) }))));
  const parsed = JSON.parse(await readFile(path, 'utf8')) as { i: number };
  assert.equal(typeof parsed.i, 'number');
  assert.equal(await mode(path), 0o600);
  assert.deepEqual(await readdir(dir.path), ['state.json']);
});

test('users.json: created empty 0600, upsert keeps ids per provider identity, survives reload', async () => {
  await using dir = await tempDir();
  const seen: string[] = [];
  const store = await UserStore.open(dir.path, { onSecret: (s) => seen.push(s) });
  const path = join(dir.path, 'users.json');
  assert.equal(await mode(path), 0o600);
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { users: [] });
  const a = await store.upsert({ provider: 'github', providerId: '1', username: 'Alice', avatarURL: '', accessToken: 'gho_token_one' });
  const b = await store.upsert({ provider: 'github', providerId: '1', username: 'alice2', avatarURL: '', accessToken: 'gho_token_two' });
  const c = await store.upsert({ provider: 'gitlab', providerId: '1', username: 'alice', avatarURL: '', accessToken: 'gl_tok', refreshToken: 'gl_refresh' });
  assert.equal(a.id, b.id);
  assert.notEqual(a.id, c.id);
  assert.equal(b.username, 'alice2');
  assert.deepEqual(seen, ['gho_token_one', 'gho_token_two', 'gl_tok', 'gl_refresh']);
  const seen2: string[] = [];
  const reloaded = await UserStore.open(dir.path, { onSecret: (s) => seen2.push(s) });
  assert.equal(reloaded.get(a.id)?.accessToken, 'gho_token_two');
  assert.equal(reloaded.list().length, 2);
  assert.ok(seen2.includes('gl_refresh'));
  assert.equal(await reloaded.delete(a.id), true);
  assert.equal((await UserStore.open(dir.path)).get(a.id), undefined);
});

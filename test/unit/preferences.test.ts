// preferences.json: bounded settings, state shared only after it is validated and written, read back after a restart.
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { MAX_SETTINGS_BYTES, MAX_SETTINGS_DEPTH, UpdatePreferencesReq } from '../../src/api/index.js';
import { PreferenceStore } from '../../src/config/index.js';
import { tempDir } from '../helpers/tmp.js';

/** `{"a":{"a":…1…}}` nested `levels` deep, built as text: JSON.stringify itself overflows the stack on 5,000 levels. */
const nested = (levels: number): unknown => JSON.parse(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);

test('settings are bounded in depth and size at the wire schema', () => {
  assert.ok(UpdatePreferencesReq.safeParse({ settings: { theme: 'dark', layout: { panes: [1, 2] } } }).success);
  assert.ok(UpdatePreferencesReq.safeParse({ settings: nested(MAX_SETTINGS_DEPTH) }).success, 'the limit itself is fine');
  const deep = UpdatePreferencesReq.safeParse({ settings: nested(5_000) });
  assert.ok(!deep.success);
  assert.match(deep.error.issues[0]!.message, /at most 8 levels deep/);
  assert.ok(!UpdatePreferencesReq.safeParse({ settings: nested(MAX_SETTINGS_DEPTH + 1) }).success);
  const wide = UpdatePreferencesReq.safeParse({ settings: { blob: 'x'.repeat(MAX_SETTINGS_BYTES) } });
  assert.ok(!wide.success);
  assert.match(wide.error.issues[0]!.message, /at most 65536 bytes/);
  assert.ok(!UpdatePreferencesReq.safeParse({ settings: [] }).success, 'an object, not an array');
});

test('a write is read back, also by a store opened after a restart', async () => {
  await using dir = await tempDir();
  const store = await PreferenceStore.open(dir.path);
  const set = await store.setSettings('alice', { theme: 'dark', panes: { left: 30 } });
  assert.deepEqual(set.settings, { theme: 'dark', panes: { left: 30 } });
  await store.recordUse('alice', { name: 'proj', baseBranch: 'main' }, 'fake', 'scripted', new Date('2026-01-02T03:04:05Z'));
  assert.deepEqual(store.get('alice').settings, { theme: 'dark', panes: { left: 30 } });

  const reopened = await PreferenceStore.open(dir.path);
  const alice = reopened.get('alice');
  assert.deepEqual(alice.settings, { theme: 'dark', panes: { left: 30 } });
  assert.deepEqual(alice.repositories, [{ name: 'proj', baseBranch: 'main', harness: 'fake', model: 'scripted', lastUsed: '2026-01-02T03:04:05.000Z' }]);
  assert.equal(alice.harness, 'fake');
  assert.deepEqual(alice.models, { fake: 'scripted' });
  assert.deepEqual(reopened.get('bob').settings, {}, 'a user without preferences gets the defaults');
});

test('a value the store refuses never becomes shared state; every user keeps working', async () => {
  await using dir = await tempDir();
  const store = await PreferenceStore.open(dir.path);
  await store.setSettings('alice', { theme: 'light' });
  // A caller that skipped the wire validation (the store checks again).
  await assert.rejects(store.setSettings('mallory', nested(5_000) as Record<string, unknown>), /at most 8 levels deep/);
  assert.deepEqual(store.get('mallory').settings, {});
  await store.setSettings('alice', { theme: 'dark' });
  await store.recordUse('bob', { name: 'proj', baseBranch: 'main' }, 'fake', 'scripted');
  const file = JSON.parse(await readFile(store.path, 'utf8')) as { users: Record<string, unknown> };
  assert.deepEqual(Object.keys(file.users).sort(), ['alice', 'bob']);
  assert.deepEqual((await PreferenceStore.open(dir.path)).get('alice').settings, { theme: 'dark' });
});

test('a failed write changes nothing that readers see', async () => {
  await using dir = await tempDir();
  const store = await PreferenceStore.open(dir.path);
  await store.setSettings('alice', { theme: 'light' });
  // The file's name taken by a non-empty directory: the atomic rename fails.
  await rm(store.path);
  await mkdir(join(store.path, 'blocker'), { recursive: true });
  await assert.rejects(store.setSettings('alice', { theme: 'dark' }));
  assert.deepEqual(store.get('alice').settings, { theme: 'light' }, 'not what the failed write carried');
  await rm(store.path, { recursive: true });
  await store.setSettings('alice', { theme: 'blue' });
  assert.deepEqual((await PreferenceStore.open(dir.path)).get('alice').settings, { theme: 'blue' });
});

test('concurrent changes of several users all reach the file', async () => {
  await using dir = await tempDir();
  const store = await PreferenceStore.open(dir.path);
  const users = Array.from({ length: 20 }, (_, i) => `user${i}`);
  await Promise.all(users.map((u, i) => store.recordUse(u, { name: `repo${i}`, baseBranch: 'main' }, 'fake', 'scripted')));
  const reopened = await PreferenceStore.open(dir.path);
  for (const [i, u] of users.entries()) assert.equal(reopened.get(u).repositories[0]?.name, `repo${i}`, u);
});

test('a preferences.json edited by hand with a value out of bounds is a one-line startup error', async () => {
  await using dir = await tempDir();
  await writeFile(join(dir.path, 'preferences.json'), JSON.stringify({ version: 1, users: { a: { settings: { blob: 'x'.repeat(MAX_SETTINGS_BYTES) } } } }));
  await assert.rejects(PreferenceStore.open(dir.path), /preferences\.json: users\.a\.settings: must be at most 65536 bytes/);
});

// `caic secrets rotate-key` as a child process: refused while the daemon runs, then every value
// re-sealed with a new key that the next daemon reads; a wrong key answers 409 with the reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { startTestDaemon } from '../helpers/daemon.js';
import { http } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

test('rotate-key: refused while the daemon runs; afterwards every value is kept under a new key; a wrong key is a clear 409', { timeout: 120_000 }, async () => {
  await using dir = await tempDir('caic-rotate-');
  const cacheDir = join(dir.path, 'xdg-cache', 'caic');
  const configDir = join(dir.path, 'cfg');
  const rotate = () =>
    spawnSync(process.execPath, [CLI, 'secrets', 'rotate-key', '--config-dir', configDir], {
      env: { PATH: process.env.PATH, HOME: dir.path, XDG_CACHE_HOME: join(dir.path, 'xdg-cache') },
      encoding: 'utf8',
      timeout: 30_000,
    });
  const put = (url: string, name: string, value: string) =>
    http(`${url}/api/v1/secrets/${name}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });

  let d = await startTestDaemon('', { dir, configDir, cacheDir });
  assert.equal((await put(d.url, 'ONE_TOKEN', 'value-one-123456')).status, 200);
  assert.equal((await put(d.url, 'TWO_TOKEN', 'value-two-654321')).status, 200);
  const running = rotate();
  assert.equal(running.status, 1, running.stderr);
  assert.match(running.stderr, /another caic is running .*stop it before rotating the vault key/);
  await d.daemon.close();

  const keyBefore = await readFile(join(configDir, 'vault.key'), 'utf8');
  const done = rotate();
  assert.equal(done.status, 0, done.stderr);
  assert.match(done.stdout, /vault\.key: new key \S+; 2 secrets re-encrypted/);
  assert.notEqual(await readFile(join(configDir, 'vault.key'), 'utf8'), keyBefore);

  d = await startTestDaemon('', { dir, configDir, cacheDir });
  const list = await http(`${d.url}/api/v1/secrets`);
  assert.deepEqual(list.json<{ secrets: { name: string }[] }>().secrets.map((s) => s.name), ['ONE_TOKEN', 'TWO_TOKEN']);
  assert.ok(!list.body.includes('value-'));
  const values = await d.daemon.vault.values('default', ['ONE_TOKEN', 'TWO_TOKEN']);
  assert.deepEqual(values, { ONE_TOKEN: 'value-one-123456', TWO_TOKEN: 'value-two-654321' });
  await d.daemon.close();

  // A key from elsewhere: the daemon starts, says why at start, and every vault use answers 409.
  await writeFile(join(configDir, 'vault.key'), `${Buffer.alloc(32, 1).toString('base64')}\n`);
  const file = await readFile(join(configDir, 'secrets.json'), 'utf8');
  d = await startTestDaemon('', { dir, configDir, cacheDir });
  assert.match(d.logs.text, /vault\.key is not the key .*secrets\.json was sealed with/);
  const refused = await http(`${d.url}/api/v1/secrets`);
  assert.equal(refused.status, 409, refused.body);
  assert.match(refused.body, /restore the right vault\.key/);
  assert.equal((await put(d.url, 'THREE_TOKEN', 'value-three-1234')).status, 409);
  await d.daemon.close();
  assert.equal(await readFile(join(configDir, 'secrets.json'), 'utf8'), file, 'nothing was overwritten');
  const wrong = rotate();
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /cannot be read: .*not the key/);
});

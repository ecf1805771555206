// ed25519 keys for the daemon and for container host keys: every generated pair is usable, a
// broken one (ssh2's generator drops a leading zero byte about once in 256 keys) is recognised,
// and a broken daemon key on disk is replaced.
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { ensurePrivateDir } from '../../src/config/index.js';
import { ensureClientKey } from '../../src/containers/client-key.js';
import { fingerprint, generateEd25519, isUsableEd25519, publicKeyBlob } from '../../src/containers/secrets.js';
import { tempDir } from '../helpers/tmp.js';

const { utils } = ssh2;

/** A pair as ssh2 makes it when the public key starts with a zero byte (made until it happens). */
function brokenPair(): { privateKey: string; publicKey: string } {
  for (;;) {
    const p = utils.generateKeyPairSync('ed25519', { comment: 'x' });
    if (publicKeyBlob(p.public).length !== 51) return { privateKey: p.private, publicKey: p.public };
  }
}

test('every generated ed25519 pair parses and has its 32-byte public key', () => {
  // At one bad key in ~256, 3,000 keys from ssh2 alone hold about 12 bad ones.
  for (let i = 0; i < 3_000; i++) {
    const pair = generateEd25519(`k${i}`);
    assert.equal(publicKeyBlob(pair.publicKey).length, 51, pair.publicKey);
    assert.ok(!(utils.parseKey(pair.privateKey) instanceof Error), pair.privateKey);
  }
});

test('a broken pair is recognised', () => {
  const broken = brokenPair();
  assert.ok(utils.parseKey(broken.privateKey) instanceof Error, 'ssh2 itself cannot parse it');
  assert.equal(isUsableEd25519(broken), false);
  const good = generateEd25519('good');
  assert.equal(isUsableEd25519(good), true);
  assert.equal(isUsableEd25519({ privateKey: good.privateKey, publicKey: generateEd25519('other').publicKey }), false, 'a public key of another pair');
});

test('a broken daemon key on disk is replaced; a good one is kept', async () => {
  await using dir = await tempDir('caic-keys-');
  const ssh = join(dir.path, 'ssh');
  await ensurePrivateDir(ssh);
  const broken = brokenPair();
  await writeFile(join(ssh, 'id_ed25519'), broken.privateKey, { mode: 0o600 });
  await writeFile(join(ssh, 'id_ed25519.pub'), `${broken.publicKey}\n`);
  const key = await ensureClientKey(dir.path);
  assert.notEqual(key.privateKey, broken.privateKey);
  assert.ok(isUsableEd25519(key));
  assert.equal(await readFile(join(ssh, 'id_ed25519'), 'utf8'), key.privateKey, 'the new key is on disk');
  const again = await ensureClientKey(dir.path);
  assert.equal(again.privateKey, key.privateKey, 'a usable key is kept');
});

test('a daemon key whose .pub file was lost or edited keeps its private key; the .pub is written again from it', async () => {
  await using dir = await tempDir('caic-keys-');
  const key = await ensureClientKey(dir.path);
  const pub = join(dir.path, 'ssh', 'id_ed25519.pub');
  for (const damage of [() => rm(pub), () => writeFile(pub, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJunk someone\n'), () => writeFile(pub, '')]) {
    await damage();
    const again = await ensureClientKey(dir.path);
    assert.equal(again.privateKey, key.privateKey, 'the key every container trusts is kept');
    assert.equal(fingerprint(again.publicKey), fingerprint(key.publicKey));
    assert.equal(fingerprint(await readFile(pub, 'utf8')), fingerprint(key.publicKey), 'the .pub on disk matches again');
  }
});

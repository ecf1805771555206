// The vault's sealing, file format, wrong keys, key rotation (crash points included), and the output redactor.
import assert from 'node:assert/strict';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SetSecretReq, SecretName } from '../../src/api/index.js';
import { maskOf, Redactor } from '../../src/tasks/redact.js';
import { SecretVault, Vault, VAULT_KEY_FILE_NAME, SECRETS_FILE_NAME } from '../../src/vault/index.js';
import { tempDir } from '../helpers/tmp.js';

const VALUE = 'ghp_Sup3rS3cretValue-with/slash"quote\\back';

describe('secrets vault', () => {
  test('values are sealed at rest: no plaintext in the file, key and file 0600, list has names only', async () => {
    await using dir = await tempDir('caic-vault-');
    const v = await SecretVault.open(dir.path);
    await v.set('u1', 'API_TOKEN', VALUE);
    await v.set('u2', 'API_TOKEN', 'another-users-value');
    const file = await readFile(join(dir.path, SECRETS_FILE_NAME), 'utf8');
    for (const needle of [VALUE, 'Sup3rS3cret', Buffer.from(VALUE).toString('base64'), 'another-users']) assert.ok(!file.includes(needle), `no ${needle} in the file`);
    assert.equal((await stat(join(dir.path, SECRETS_FILE_NAME))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir.path, VAULT_KEY_FILE_NAME))).mode & 0o777, 0o600);
    assert.deepEqual(v.list('u1').map((m) => Object.keys(m).sort()), [['createdAt', 'name', 'updatedAt']]);
    assert.deepEqual(v.values('u1', ['API_TOKEN']), { API_TOKEN: VALUE });
    assert.deepEqual(v.values('u2', ['API_TOKEN']), { API_TOKEN: 'another-users-value' });
    assert.throws(() => v.values('u1', ['NOPE']), /no secret named NOPE/);
    assert.throws(() => v.values('u3', ['API_TOKEN']), /no secret named API_TOKEN/);
    // A reopened vault reads the same values.
    assert.deepEqual((await SecretVault.open(dir.path)).values('u1', ['API_TOKEN']), { API_TOKEN: VALUE });
  });

  test('a value moved to another user or name by hand does not open', async () => {
    await using dir = await tempDir('caic-vault-');
    const v = await SecretVault.open(dir.path);
    await v.set('u1', 'A_TOKEN', VALUE);
    const path = join(dir.path, SECRETS_FILE_NAME);
    const f = JSON.parse(await readFile(path, 'utf8')) as { users: Record<string, Record<string, unknown>> };
    f.users.u2 = { A_TOKEN: f.users.u1!.A_TOKEN };
    await writeFile(path, JSON.stringify(f));
    await assert.rejects(SecretVault.open(dir.path), /A_TOKEN does not open with vault\.key/);
  });

  test('a wrong key is refused with a clear message and nothing is overwritten; the daemon handle answers CONFLICT', async () => {
    await using dir = await tempDir('caic-vault-');
    const v = await SecretVault.open(dir.path);
    await v.set('u1', 'A_TOKEN', VALUE);
    const before = await readFile(join(dir.path, SECRETS_FILE_NAME), 'utf8');
    await writeFile(join(dir.path, VAULT_KEY_FILE_NAME), `${Buffer.alloc(32, 7).toString('base64')}\n`);
    await assert.rejects(SecretVault.open(dir.path), /vault\.key is not the key .*secrets\.json was sealed with .*restore the right vault\.key/);
    const handle = new Vault(dir.path);
    assert.match((await handle.check()) ?? '', /cannot be read: .*not the key/);
    await assert.rejects(handle.set('u1', 'B_TOKEN', VALUE), (e: Error & { code?: string }) => e.code === 'CONFLICT');
    await assert.rejects(handle.list('u1'), (e: Error & { code?: string }) => e.code === 'CONFLICT');
    assert.equal(await readFile(join(dir.path, SECRETS_FILE_NAME), 'utf8'), before, 'the file is untouched');
    await writeFile(join(dir.path, VAULT_KEY_FILE_NAME), 'not a key');
    await assert.rejects(SecretVault.open(dir.path), /does not hold a vault key/);
  });

  test('rotate-key re-seals every value with a new key; a rotation cut at either write still opens', async () => {
    await using dir = await tempDir('caic-vault-');
    const v = await SecretVault.open(dir.path);
    await v.set('u1', 'A_TOKEN', VALUE);
    await v.set('u2', 'B_TOKEN', 'b-value-123456');
    const oldKey = await readFile(join(dir.path, VAULT_KEY_FILE_NAME), 'utf8');
    const oldFile = await readFile(join(dir.path, SECRETS_FILE_NAME), 'utf8');
    const r = await v.rotateKey();
    assert.equal(r.secrets, 2);
    assert.notEqual(await readFile(join(dir.path, VAULT_KEY_FILE_NAME), 'utf8'), oldKey);
    const again = await SecretVault.open(dir.path);
    assert.deepEqual(again.values('u1', ['A_TOKEN']), { A_TOKEN: VALUE });
    assert.deepEqual(again.values('u2', ['B_TOKEN']), { B_TOKEN: 'b-value-123456' });
    // Cut after the file was sealed with the next key, before the key was renamed: open() finishes it.
    const newKey = await readFile(join(dir.path, VAULT_KEY_FILE_NAME), 'utf8');
    await rename(join(dir.path, VAULT_KEY_FILE_NAME), join(dir.path, 'vault.key.next'));
    await writeFile(join(dir.path, VAULT_KEY_FILE_NAME), oldKey, { mode: 0o600 });
    assert.deepEqual((await SecretVault.open(dir.path)).values('u1', ['A_TOKEN']), { A_TOKEN: VALUE });
    assert.equal(await readFile(join(dir.path, VAULT_KEY_FILE_NAME), 'utf8'), newKey);
    // Cut after the next key was written, before the file: the old key stays, the next one goes.
    await writeFile(join(dir.path, SECRETS_FILE_NAME), oldFile);
    await writeFile(join(dir.path, VAULT_KEY_FILE_NAME), oldKey);
    await writeFile(join(dir.path, 'vault.key.next'), newKey);
    assert.deepEqual((await SecretVault.open(dir.path)).values('u2', ['B_TOKEN']), { B_TOKEN: 'b-value-123456' });
    await assert.rejects(stat(join(dir.path, 'vault.key.next')), /ENOENT/);
  });

  test('names are environment variable names, not ones caic or the shell set; values 8 bytes to 64 KiB without NUL', () => {
    for (const ok of ['API_TOKEN', '_X', 'A1']) assert.ok(SecretName.safeParse(ok).success, ok);
    for (const bad of ['lower', '1ABC', 'A-B', 'A B', '', 'X'.repeat(65), 'PATH', 'HOME', 'GITHUB_TOKEN', 'LD_PRELOAD', 'BASH_ENV', 'a\0b']) {
      assert.ok(!SecretName.safeParse(bad).success, bad);
    }
    assert.ok(SetSecretReq.safeParse({ value: '12345678' }).success);
    for (const bad of ['1234567', 'x'.repeat(64 * 1024 + 1), 'abcdefgh\0']) assert.ok(!SetSecretReq.safeParse({ value: bad }).success, bad.slice(0, 10));
  });
});

describe('output redactor', () => {
  test('masks a value as ****<last 4> in every JSON form; the line stays valid JSON', () => {
    const secrets = [VALUE, 'pässwörd-ünïcode', 'plain-token-abcdef'];
    const r = new Redactor(secrets);
    for (const s of secrets) {
      for (const enc of [(x: string) => JSON.stringify({ out: `before ${x} after` }), (x: string) => JSON.stringify({ out: x }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)]) {
        const line = Buffer.from(enc(s));
        const out = r.apply(line).toString();
        const parsed = JSON.parse(out) as { out: string };
        assert.ok(!parsed.out.includes(s), `${s} masked in ${out}`);
        assert.ok(parsed.out.includes(maskOf(s)), `${maskOf(s)} in ${out}`);
      }
      assert.equal(r.apply(Buffer.from(`raw ${s} raw`)).toString(), `raw ${maskOf(s)} raw`);
    }
    assert.equal(maskOf(VALUE), '****back');
    const untouched = Buffer.from('{"nothing":"here"}');
    assert.equal(r.apply(untouched), untouched, 'the same buffer when nothing matched');
  });

  test('a value inside a longer one is masked with the longer one; every occurrence goes', () => {
    const r = new Redactor(['abcd1234', 'xxabcd1234yy']);
    assert.equal(r.apply(Buffer.from('xxabcd1234yy and abcd1234 and abcd1234')).toString(), '****34yy and ****1234 and ****1234');
  });
});

// The GitHub App against the forge stand-in: the App JWT is verified, installation tokens are minted
// once and reused until shortly before expiry, installations are found per owner and can be deleted.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ForgeError, GitHubApp } from '../../src/forge/index.js';
import { startForgeStandin, type ForgeStandin } from '../helpers/forge-standin.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';

describe('GitHub App', () => {
  let forge: ForgeStandin;
  let dir: TempDir;
  let app: GitHubApp;
  let acme: number;

  before(async () => {
    forge = await startForgeStandin();
    dir = await tempDir('caic-forge-app-');
    acme = forge.app.addInstallation('Acme');
    forge.app.addInstallation('other');
    app = new GitHubApp({ apiUrl: forge.githubApi, appId: forge.app.id, privateKeyPath: forge.app.keyFile });
  });
  after(async () => {
    await forge.close();
    await dir[Symbol.asyncDispose]();
  });

  test('an installation token is minted once and reused while far from expiry', async () => {
    const mints = forge.app.mints;
    const a = await app.tokenForOwner('acme');
    const b = await app.tokenForOwner('ACME');
    assert.ok(a && b);
    assert.equal(a.token, b.token);
    assert.equal(forge.app.mints, mints + 1);
    const [c, d] = await Promise.all([app.installationToken(acme), app.installationToken(acme)]);
    assert.equal(c.token, a.token);
    assert.equal(d.token, a.token);
    assert.equal(forge.app.mints, mints + 1);
  });

  test('a token close to its expiry is minted again', async () => {
    forge.app.tokenTtlSec = 240; // under the 5-minute margin
    const fresh = new GitHubApp({ apiUrl: forge.githubApi, appId: forge.app.id, privateKeyPath: forge.app.keyFile });
    const mints = forge.app.mints;
    const a = await fresh.installationToken(acme);
    const b = await fresh.installationToken(acme);
    assert.notEqual(a.token, b.token);
    assert.equal(forge.app.mints, mints + 2);
    forge.app.tokenTtlSec = 3600;
  });

  test('installations by owner; none for a stranger; delete uninstalls', async () => {
    assert.deepEqual(await app.installationFor('acme'), { id: acme, account: 'Acme' });
    assert.equal(await app.installationFor('stranger'), null);
    assert.equal(await app.tokenForOwner('stranger'), null);
    const other = (await app.installationFor('other'))!;
    assert.deepEqual(await app.getInstallation(other.id), other);
    await app.deleteInstallation(other.id);
    assert.equal(forge.app.installations.find((i) => i.id === other.id)?.deleted, true);
    assert.equal(await app.installationFor('other'), null);
  });

  test('a JWT signed with another key is refused (401)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = await dir.file('wrong.pem', privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
    const wrong = new GitHubApp({ apiUrl: forge.githubApi, appId: forge.app.id, privateKeyPath: keyFile });
    await assert.rejects(wrong.installationFor('acme'), (e: unknown) => e instanceof ForgeError && e.status === 401);
  });

  test('a missing or malformed key file is a clear error naming the key', async () => {
    assert.throws(() => new GitHubApp({ apiUrl: forge.githubApi, appId: '1', privateKeyPath: `${dir.path}/none.pem` }), /\[github\.app\] private_key_pem: cannot read .*none\.pem \(ENOENT\)/);
    const junk = await dir.file('junk.pem', 'not a key');
    assert.throws(() => new GitHubApp({ apiUrl: forge.githubApi, appId: '1', privateKeyPath: junk }), /is not a PEM private key/);
  });
});

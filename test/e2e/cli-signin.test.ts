// `caic`'s sign-in over time, against a server with login (child processes; a person approves in
// Chromium): the access token refreshed before it expires and once on a 401, the refresh token
// rotating, CLI processes refreshing at once without losing the pairing, a pairing revoked in
// Settings → Connected apps, logout; and no token ever printed.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { assertOneLineError } from '../helpers/caic-cli.js';
import { startLoginServer, type LoginServer } from '../helpers/caic-login.js';
import { gotoRetrying } from '../helpers/browser.js';
import { http } from '../helpers/http.js';

interface StoredTokens {
  clientId: string;
  accessToken: string;
  refreshToken: string;
  accessExpiresAt: number;
}

describe('caic sign-in: refresh, rotation, concurrency, revocation, logout', { timeout: 180_000 }, () => {
  let s: LoginServer;

  before(async () => {
    s = await startLoginServer({ tasks: false });
  });
  after(async () => {
    await s?.[Symbol.asyncDispose]();
  });

  const listed = async (): Promise<unknown[]> => {
    const r = await s.caic('tasks', '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as unknown[];
  };
  const stored = async () => JSON.parse(await readFile(s.tokenFile, 'utf8')) as StoredTokens;
  const store = async (t: StoredTokens) => writeFile(s.tokenFile, JSON.stringify(t), { mode: 0o600 });

  test('refresh before expiry and on a 401 (rotating), four processes at once, revoked in Settings, logout', { timeout: 180_000 }, async () => {
    await s.login();
    assert.deepEqual(await listed(), []);

    // The access token expired: refreshed before the call, the refresh token rotated.
    const t0 = await stored();
    await store({ ...t0, accessExpiresAt: 0 });
    assert.equal((await listed()).length, 0);
    const t1 = await stored();
    assert.notEqual(t1.refreshToken, t0.refreshToken, 'rotated');
    assert.notEqual(t1.accessToken, t0.accessToken);
    assert.equal((await stat(s.tokenFile)).mode & 0o777, 0o600, 'still private after the rewrite');

    // The server refuses the access token (401) before it expires: refreshed once, then the call works.
    await store({ ...t1, accessToken: `${t1.accessToken.slice(0, -4)}AAAA` });
    assert.equal((await listed()).length, 0);
    assert.notEqual((await stored()).refreshToken, t1.refreshToken);

    // Several CLI processes find the token expired at once: one refreshes, the others use its
    // result (without the lock a refresh token would be presented twice, which ends the pairing).
    await store({ ...(await stored()), accessExpiresAt: 0 });
    const all = await Promise.all([1, 2, 3, 4].map(() => s.caic('tasks', '--json')));
    for (const r of all) assert.equal(r.code, 0, r.stderr);
    assert.equal((await listed()).length, 0, 'still paired');

    // Revoked in Settings → Connected apps: the next command says the pairing ended.
    const page = await s.browser.newPage();
    await gotoRetrying(page, `${s.origin}/settings`);
    await page.getByRole('button', { name: `Revoke ${s.deviceName}` }).click();
    await page.getByTestId('apps-empty').waitFor();
    assertOneLineError(await s.caic('tasks'), new RegExp(`^caic: the pairing with ${s.origin.replace(/\./g, '\\.')} has ended .*: run caic login `));
    await assert.rejects(stat(s.tokenFile), { code: 'ENOENT' }, 'the dead tokens are deleted');

    // Pair again, and log out: unpaired on the server, the tokens gone.
    await s.login();
    const before = await stored();
    const out = await s.caic('logout');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^signed out of /);
    await assert.rejects(stat(s.tokenFile), { code: 'ENOENT' });
    const reuse = await http(`${s.daemonUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', host: new URL(s.origin).host },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refreshToken, client_id: before.clientId }).toString(),
    });
    assert.equal(reuse.status, 400, 'the refresh token is dead on the server');
    assertOneLineError(await s.caic('tasks'), /run caic login/);

    for (const text of s.printed) {
      for (const secret of [t0.accessToken, t0.refreshToken, t1.accessToken, t1.refreshToken, before.accessToken, before.refreshToken]) {
        assert.ok(!text.includes(secret), 'no token is ever printed');
      }
    }
  });
});

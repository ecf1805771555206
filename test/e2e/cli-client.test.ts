// `caic` as a client of a caic server with login, as a user runs it (a child process): `caic login`
// pairs the machine while a person approves the code in Chromium (signed in through the GitHub
// stand-in); then tasks, run --follow on a fake-agent task, logs, send, diff, sync, stop, revive,
// purge and --json; the token file (0600); refresh on expiry and on a 401, rotation, CLI processes
// refreshing at once; a pairing revoked in Settings; logout.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Task } from '../../src/api/index.js';
import { gotoRetrying, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { assertOneLineError, runCli, startCli, type CliResult } from '../helpers/caic-cli.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { startTlsProxy, type TlsProxy } from '../helpers/tls-proxy.js';
import { until } from '../helpers/wait.js';

interface StoredTokens {
  clientId: string;
  accessToken: string;
  refreshToken: string;
  accessExpiresAt: number;
}

describe('caic as a client of a server with login', { timeout: 300_000 }, () => {
  let stub: StubForge;
  let env: TaskEnv;
  let tls: TlsProxy;
  let browser: TestBrowser;
  let origin: string;
  let cliEnv: NodeJS.ProcessEnv;
  let tokenFile: string;
  /** Everything the CLI printed: no token may appear in it. */
  const printed: string[] = [];

  before(async () => {
    stub = await startStubForge();
    const port = await freePort();
    origin = `https://127.0.0.1:${port}`;
    env = await taskEnv({ files: 2, extraConfig: `external_url = "${origin}"\n${githubLoginToml(stub, ['octocat'])}` });
    tls = await startTlsProxy('127.0.0.1', new URL(env.d.url), port);
    browser = await launchBrowser({ ignoreHTTPSErrors: true });
    const ca = join(env.dir.path, 'ca.pem');
    await writeFile(ca, tls.cert);
    const home = join(env.dir.path, 'home');
    cliEnv = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), NODE_EXTRA_CA_CERTS: ca, CAIC_SERVER: origin };
    tokenFile = join(home, '.config', 'caic', 'cli', `https_127.0.0.1_${port}.json`);
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await tls?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  const caic = async (...args: string[]): Promise<CliResult> => {
    const r = await runCli(args, cliEnv);
    printed.push(r.stdout, r.stderr);
    return r;
  };
  const ok = async (...args: string[]): Promise<string> => {
    const r = await caic(...args);
    assert.equal(r.code, 0, `caic ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const tasks = async () => JSON.parse(await ok('tasks', '--json')) as Task[];
  const stored = async () => JSON.parse(await readFile(tokenFile, 'utf8')) as StoredTokens;
  const store = async (t: StoredTokens) => writeFile(tokenFile, JSON.stringify(t), { mode: 0o600 });

  /** `caic login` with a person approving the code in the browser. */
  async function login(): Promise<void> {
    await using c = startCli(['login', origin], cliEnv);
    const [, url = '', code = ''] = await c.waitFor(/open\n {2}(https:\S+)\nand check that the page shows the code {2}(\S+)\n/);
    assert.equal(url, `${origin}/oauth/device?user_code=${encodeURIComponent(code)}`);
    const page = await browser.newPage();
    await gotoRetrying(page, url);
    await page.getByRole('heading', { name: `Connect caic on ${hostname()}?` }).waitFor();
    assert.ok((await page.locator('body').innerText()).includes(code), 'the page shows the code the terminal shows');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();
    await page.close();
    const r = await c.done(60_000);
    printed.push(r.stdout, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`signed in to ${origin.replace(/\./g, '\\.')} as octocat`));
  }

  test('login, then every command against the server; refresh, rotation, concurrency; revocation; logout', { timeout: 300_000 }, async () => {
    // Not signed in yet: a clear line saying what to run.
    assertOneLineError(await caic('tasks'), new RegExp(`run caic login ${origin.replace(/\./g, '\\.')}$`));

    stub.user = { id: 1001, username: 'octocat' };
    // The browser signs in through the stand-in on its first approval.
    await login();
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600, 'the token file is private');
    assert.equal((await stat(join(tokenFile, '..'))).mode & 0o777, 0o700, 'and so is its directory');
    assert.deepEqual(await tasks(), []);

    // run --follow on a fake-agent task to the end of its turn.
    const run = await ok('run', 'FAKE_DEMO please', '--repo', 'proj', '--agent', 'fake', '--follow');
    const id = run.split('\n')[0]!;
    assert.match(id, /^[0-9a-z]{26}$/);
    assert.match(run, /^▸ Bash ls/m, 'a tool call on one line');
    assert.match(run, /^ {2}✓ File created successfully/m, 'its result, short');
    assert.match(run, /^Done: I added FAKE_NOTES\.md/m, 'the assistant text');
    assert.match(run, /^── done: Added FAKE_NOTES\.md\. \(\$0\.\d{4}, 1 turn, /m);
    assert.ok(!run.includes('\x1b'), 'no colours into a pipe');

    const table = (await ok('tasks')).split('\n');
    assert.match(table[0]!, /^ID\s+STATE\s+REPO\s+TITLE\s+COST\s+AGE$/);
    assert.match(table[1]!, new RegExp(`^${id}\\s+waiting\\s+proj\\s+\\S.*\\$0\\.00\\s+\\d+[smhd]$`));
    const [listed] = await tasks();
    assert.equal(listed!.id, id);
    assert.equal(listed!.state, 'waiting');

    assert.match(await ok('logs', id), /^> FAKE_DEMO please$/m);
    const diff = await ok('diff', id);
    assert.match(diff, /^\+\+\+ b\/FAKE_NOTES\.md$/m, 'the diff, plain into a pipe');

    assert.equal(await ok('send', id, 'hello there'), '');
    await until(async () => {
      const [t] = await tasks();
      return t!.state === 'waiting' && t!.numTurns === 2;
    }, 'the second turn to end', 60_000, 250);
    assert.match(await ok('logs', id), /^You said: hello there\./m);

    const synced = JSON.parse(await ok('sync', id, '--json')) as { status: string; branch: string };
    assert.deepEqual([synced.status, synced.branch], ['synced', 'caic-1']);
    assert.match(await ok('sync', id), /^(pushed caic-1|nothing to push)/);

    assert.equal((JSON.parse(await ok('stop', id, '--json')) as { status: string }).status, 'stopped');
    assert.equal((await tasks())[0]!.state, 'stopped');
    assertOneLineError(await caic('send', id, 'are you there?'), /^caic: .*stopped/);
    assert.match(await ok('revive', id), new RegExp(`^${id}: `));
    await until(async () => (await tasks())[0]!.state === 'waiting', 'the revived task to wait', 60_000, 250);
    assert.match(await ok('purge', id), new RegExp(`^${id}: `));
    await until(async () => (await tasks())[0]!.state === 'purged', 'the purge', 60_000, 250);

    // The access token expired: refreshed before the call, the refresh token rotated.
    const t0 = await stored();
    await store({ ...t0, accessExpiresAt: 0 });
    assert.equal((await tasks()).length, 1);
    const t1 = await stored();
    assert.notEqual(t1.refreshToken, t0.refreshToken, 'rotated');
    assert.notEqual(t1.accessToken, t0.accessToken);
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600, 'still private after the rewrite');

    // The server refuses the access token (401) before it expires: refreshed once, then the call works.
    await store({ ...t1, accessToken: `${t1.accessToken.slice(0, -4)}AAAA` });
    assert.equal((await tasks()).length, 1);
    assert.notEqual((await stored()).refreshToken, t1.refreshToken);

    // Several CLI processes find the token expired at once: one refreshes, the others use its
    // result (without the lock a refresh token would be presented twice, which ends the pairing).
    await store({ ...(await stored()), accessExpiresAt: 0 });
    const all = await Promise.all([1, 2, 3, 4].map(() => caic('tasks', '--json')));
    for (const r of all) assert.equal(r.code, 0, r.stderr);
    assert.equal((await tasks()).length, 1, 'still paired');

    // Revoked in Settings → Connected apps: the next command says the pairing ended.
    const page = await browser.newPage();
    await gotoRetrying(page, `${origin}/settings`);
    await page.getByRole('button', { name: `Revoke caic on ${hostname()}` }).click();
    await page.getByTestId('apps-empty').waitFor();
    assertOneLineError(await caic('tasks'), new RegExp(`^caic: the pairing with ${origin.replace(/\./g, '\\.')} has ended .*: run caic login `));
    await assert.rejects(stat(tokenFile), { code: 'ENOENT' }, 'the dead tokens are deleted');

    // Pair again, and log out: unpaired on the server, the tokens gone.
    await login();
    const before = await stored();
    assert.match(await ok('logout'), /^signed out of /);
    await assert.rejects(stat(tokenFile), { code: 'ENOENT' });
    const reuse = await http(`${env.d.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', host: new URL(origin).host },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refreshToken, client_id: before.clientId }).toString(),
    });
    assert.equal(reuse.status, 400, 'the refresh token is dead on the server');
    assertOneLineError(await caic('tasks'), /run caic login/);

    for (const text of printed) {
      for (const secret of [t0.accessToken, t0.refreshToken, t1.accessToken, t1.refreshToken, before.accessToken, before.refreshToken]) {
        assert.ok(!text.includes(secret), 'no token is ever printed');
      }
    }
  });
});

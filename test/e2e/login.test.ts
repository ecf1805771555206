// The web UI with login configured, in real Chromium: the sign-in page for a visitor, then Chromium
// itself walks the OAuth sign-in (start → the local GitHub stand-in → callback) at the server's
// https external URL, uses the app, signs out; a user who is not allowed sees why.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { startTlsProxy, type TlsProxy } from '../helpers/tls-proxy.js';

const HOST = 'caic.test';
const ORIGIN = `https://${HOST}`;

describe('web UI with login', { timeout: 120_000 }, () => {
  let stub: StubForge;
  let d: TestDaemon;
  let tls: TlsProxy;
  let browser: TestBrowser;

  before(async () => {
    stub = await startStubForge();
    d = await startTestDaemon(`[server]\nallow_origins = ["local"]\nexternal_url = "${ORIGIN}"\n${githubLoginToml(stub, ['octocat'])}`);
    // OAuth needs an https external URL: a TLS front at caic.test, which Chromium resolves to it.
    tls = await startTlsProxy(HOST, new URL(d.url));
    browser = await launchBrowser({ args: [`--host-resolver-rules=MAP ${HOST} 127.0.0.1:${tls.port}`], ignoreHTTPSErrors: true });
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await tls?.[Symbol.asyncDispose]();
    await d?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test('a visitor signs in through the provider in the browser, uses the app, signs out', async () => {
    const page = await browser.newPage({ width: 390, height: 844 });
    await page.goto(ORIGIN);
    const signIn = page.getByRole('link', { name: 'Sign in with GitHub' });
    await signIn.waitFor();
    assert.equal(await signIn.getAttribute('href'), '/api/v1/auth/github/start');
    assert.equal(await page.getByRole('link', { name: 'Sign in with GitLab' }).count(), 0, 'only configured providers');
    await browser.screenshot(page, 'login-phone');

    stub.user = { id: 1001, username: 'Octocat', avatarURL: '' };
    const hits = { ...stub.hits };
    await signIn.click();
    await page.waitForURL(`${ORIGIN}/`);
    // Chromium went to the provider and back: one authorization, one code exchange, one profile.
    assert.equal((stub.hits['GET /login/oauth/authorize'] ?? 0) - (hits['GET /login/oauth/authorize'] ?? 0), 1);
    assert.equal((stub.hits['POST /login/oauth/access_token'] ?? 0) - (hits['POST /login/oauth/access_token'] ?? 0), 1);
    assert.equal((stub.hits['GET /api/user'] ?? 0) - (hits['GET /api/user'] ?? 0), 1);
    const cookies = await browser.context.cookies(ORIGIN);
    const session = cookies.find((c) => c.name === 'caic_session');
    assert.ok(session, 'session cookie set');
    assert.deepEqual([session.httpOnly, session.secure, session.sameSite], [true, true, 'Lax']);
    assert.equal(cookies.some((c) => c.name === 'caic_oauth_state'), false, 'the state cookie is gone');

    await page.goto(`${ORIGIN}/settings`);
    await page.getByText('signed in as Octocat').waitFor();
    await page.getByRole('link', { name: '+ New task' }).click();
    await page.getByTestId('composer').waitFor();
    await page.goto(`${ORIGIN}/settings`);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('link', { name: 'Sign in with GitHub' }).waitFor();
    assert.equal((await browser.context.cookies(ORIGIN)).some((c) => c.name === 'caic_session'), false);
    assert.deepEqual(browser.pageErrors(page).filter((e) => !/401|404/.test(e)), []);
  });

  test('a user who is not allowed is told so, and is not signed in', async () => {
    const page = await browser.newPage();
    await page.goto(ORIGIN);
    stub.user = { id: 666, username: 'mallory' };
    await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
    await page.getByRole('heading', { name: 'Sign-in failed' }).waitFor();
    assert.match(await page.locator('body').innerText(), /mallory is not allowed to use this caic server/);
    assert.equal((await browser.context.cookies(ORIGIN)).some((c) => c.name === 'caic_session'), false);
  });
});

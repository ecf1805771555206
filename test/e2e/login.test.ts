// The web UI with login configured, in real Chromium: the sign-in page for a visitor, the app for
// a signed-in user (session from the real OAuth flow against the local GitHub stand-in), sign-out.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { cookiePair, http } from '../helpers/http.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';

const HOST = 'caic.test';

describe('web UI with login', { timeout: 120_000 }, () => {
  let stub: StubForge;
  let d: TestDaemon;
  let browser: TestBrowser;

  before(async () => {
    stub = await startStubForge();
    d = await startTestDaemon(`[server]\nallow_origins = ["local"]\nexternal_url = "https://${HOST}"\n${githubLoginToml(stub, ['octocat'])}`);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await d?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test('a visitor sees the sign-in page; a session opens the app; sign-out returns to the page', async () => {
    const page = await browser.newPage({ width: 390, height: 844 });
    await page.goto(d.url);
    const signIn = page.getByRole('link', { name: 'Sign in with GitHub' });
    await signIn.waitFor();
    assert.equal(await signIn.getAttribute('href'), '/api/v1/auth/github/start');
    assert.equal(await page.getByRole('link', { name: 'Sign in with GitLab' }).count(), 0, 'only configured providers');
    await browser.screenshot(page, 'login-phone');

    // The OAuth round trip as the browser would make it (the browser itself cannot reach the
    // https://caic.test origin the provider redirects to).
    const start = await http(`${d.url}/api/v1/auth/github/start`, { headers: { host: HOST } });
    const state = cookiePair(start.setCookies.find((c) => c.startsWith('caic_oauth_state='))!);
    const approve = await http(String(start.headers.location));
    const cb = new URL(String(approve.headers.location));
    const done = await http(`${d.url}${cb.pathname}${cb.search}`, { headers: { host: HOST, accept: 'text/html', cookie: state } });
    assert.equal(done.status, 302, done.body);
    const [name, value] = cookiePair(done.setCookies.find((c) => c.startsWith('caic_session='))!).split('=') as [string, string];
    await browser.context.addCookies([{ name, value, url: d.url }]);

    await page.goto(`${d.url}/settings`);
    await page.getByText('signed in as Octocat').waitFor();
    await page.getByRole('link', { name: '+ New task' }).click();
    await page.getByTestId('composer').waitFor();
    await page.goto(`${d.url}/settings`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in with GitHub' }).waitFor();
    assert.deepEqual(browser.pageErrors(page).filter((e) => !/401|404/.test(e)), []);
  });
});

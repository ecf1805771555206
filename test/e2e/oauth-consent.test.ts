// An MCP client's OAuth sign-in in real Chromium: authorize → caic's GitHub login (the local stand-in)
// → back to the same request → the consent page (no JavaScript needed) → the client's redirect with a
// code; then the app appears under Settings → Connected apps, and Revoke kills its token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { pkcePair, qs, register, token, type WalkTarget } from '../helpers/oauth-walk.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { startTlsProxy, type TlsProxy } from '../helpers/tls-proxy.js';

const HOST = 'caic.test';
const ORIGIN = `https://${HOST}`;
const REDIRECT = 'https://client.example/callback';

describe('OAuth consent in the browser', { timeout: 120_000 }, () => {
  let stub: StubForge;
  let d: TestDaemon;
  let tls: TlsProxy;
  let browser: TestBrowser;
  let t: WalkTarget;

  before(async () => {
    stub = await startStubForge();
    d = await startTestDaemon(`[server]\nallow_origins = ["local"]\nexternal_url = "${ORIGIN}"\n${githubLoginToml(stub, ['octocat'])}`);
    t = { url: d.url, host: HOST };
    tls = await startTlsProxy(HOST, new URL(d.url));
    browser = await launchBrowser({ args: [`--host-resolver-rules=MAP ${HOST} 127.0.0.1:${tls.port}`], ignoreHTTPSErrors: true });
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await tls?.[Symbol.asyncDispose]();
    await d?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test('sign in, consent to what is ticked, come back with a code; revoke from Settings', async () => {
    const client = await register(t, { client_name: 'Browser MCP Client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const { verifier, challenge } = pkcePair();
    const page = await browser.newPage();
    // The client's redirect URI is caught here: that is where a real client would read the code.
    let landed: URL | null = null;
    await page.route('https://client.example/**', (route) => {
      landed = new URL(route.request().url());
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'client got it' });
    });
    stub.user = { id: 1001, username: 'octocat' };
    const scope = 'caic:tasks.read caic:tasks.write caic:tasks.admin offline_access';
    await page.goto(`${ORIGIN}/oauth/authorize?${qs({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope, code_challenge: challenge, code_challenge_method: 'S256', state: 'xyz', resource: `${ORIGIN}/api/v1/mcp` })}`);
    // Not signed in: GitHub (the stand-in) and back to the same authorization's consent page.
    await page.getByRole('heading', { name: 'Allow Browser MCP Client to use caic?' }).waitFor();
    assert.match(await page.locator('body').innerText(), /client\.example/);
    const read = page.getByRole('checkbox', { name: /See your tasks/ });
    const write = page.getByRole('checkbox', { name: /Start tasks/ });
    const admin = page.getByRole('checkbox', { name: /Stop and purge/ });
    assert.deepEqual([await read.isChecked(), await write.isChecked(), await admin.isChecked()], [true, false, false]);
    await write.check();
    await browser.screenshot(page, 'oauth-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByText('client got it').waitFor();
    const back = landed as URL | null;
    assert.ok(back);
    assert.equal(back.searchParams.get('state'), 'xyz');
    assert.equal(back.searchParams.get('iss'), ORIGIN);
    const res = await token(t, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    assert.equal(res.status, 200, res.body);
    const tokens = res.json<{ access_token: string; refresh_token: string; scope: string }>();
    const who = await d.daemon.oauth!.verifier.verify(tokens.access_token);
    assert.deepEqual(who?.scopes.sort(), ['caic:tasks.read', 'caic:tasks.write'], 'admin was not ticked, so not granted');

    await page.goto(`${ORIGIN}/settings`);
    const row = page.getByTestId('connected-apps').getByRole('row', { name: /Browser MCP Client/ });
    await row.waitFor();
    await browser.screenshot(page, 'oauth-connected-apps');
    await page.getByRole('button', { name: 'Revoke Browser MCP Client' }).click();
    await page.getByTestId('apps-empty').waitFor();
    assert.equal(await d.daemon.oauth!.verifier.verify(tokens.access_token), null, 'revoked at once');
    const refresh = await token(t, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id });
    assert.equal(refresh.status, 400);
    assert.deepEqual(browser.pageErrors(page).filter((e) => !/401|404/.test(e)), []);
  });
});

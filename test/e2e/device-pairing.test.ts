// Device pairing as a person does it, in real Chromium: the device (this test, over HTTP) shows a
// code; the person opens its verification_uri_complete (the QR code), checks the device's name, the
// scope and the code, signs in through caic's GitHub login (the local stand-in) and allows; the
// device polls its tokens, lists tasks and follows the task-list stream; refresh rotates; the device
// appears under Settings → Connected apps, and Revoke there ends it (next call 401, stream ends,
// refresh refused); Sign out everywhere ends the browser's own session.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gotoRetrying, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { pollOnce, refresh, registerDevice, startPairing, type DeviceTokens } from '../helpers/device-pairing.js';
import { http } from '../helpers/http.js';
import type { WalkTarget } from '../helpers/oauth-walk.js';
import { SseClient } from '../helpers/sse.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { startTlsProxy, type TlsProxy } from '../helpers/tls-proxy.js';
import { within } from '../helpers/wait.js';

const HOST = 'caic.test';
const ORIGIN = `https://${HOST}`;

describe('device pairing in the browser', { timeout: 120_000 }, () => {
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

  const bearer = (tok: string) => ({ host: HOST, authorization: `Bearer ${tok}` });
  const tasks = (tok: string) => http(`${d.url}/api/v1/tasks`, { headers: bearer(tok) });

  test('pair with the code page, use the API and its stream, refresh, revoke from Settings; sign out everywhere', async () => {
    const clientId = await registerDevice(t, 'caic on Pixel 8');
    const start = await startPairing(t, clientId, ORIGIN);
    assert.match(start.user_code, /^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/, 'a short code to compare by eye');
    assert.equal(start.verification_uri, `${ORIGIN}/oauth/device`);
    assert.equal(start.verification_uri_complete, `${ORIGIN}/oauth/device?user_code=${encodeURIComponent(start.user_code)}`);
    assert.equal((await pollOnce(t, clientId, start.device_code) as { error: string }).error, 'authorization_pending');

    stub.user = { id: 1001, username: 'octocat' };
    const page = await browser.newPage();
    await gotoRetrying(page, start.verification_uri_complete);
    // The confirmation names the device and what it asks, and shows the code to compare.
    await page.getByRole('heading', { name: 'Connect caic on Pixel 8?' }).waitFor();
    const text = await page.locator('body').innerText();
    assert.ok(text.includes(start.user_code), text);
    assert.match(text, /caic:api/);
    await browser.screenshot(page, 'device-pairing-confirm');
    await page.getByRole('button', { name: 'Continue' }).click();
    // Not signed in yet: caic's GitHub login (the stand-in), then the consent page of this pairing.
    await page.getByRole('heading', { name: 'Allow caic on Pixel 8 to use caic?' }).waitFor();
    const scope = page.getByRole('checkbox', { name: /Use the caic API as you/ });
    assert.equal(await scope.isChecked(), true);
    await browser.screenshot(page, 'device-pairing-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();

    const tokens = (await pollOnce(t, clientId, start.device_code)) as DeviceTokens;
    assert.ok(tokens.access_token, JSON.stringify(tokens));
    const list = await tasks(tokens.access_token);
    assert.equal(list.status, 200, list.body);
    assert.deepEqual(list.json(), []);
    const stream = new SseClient(`${d.url}/api/v1/tasks/events`, bearer(tokens.access_token));
    await stream.waitFor((ev) => ev.some((e) => (e.data as { type?: string } | undefined)?.type === 'snapshot'), 10_000, 'the snapshot');

    const r = await refresh(t, clientId, tokens.refresh_token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.notEqual(r.body.refresh_token, tokens.refresh_token);
    assert.equal((await tasks(r.body.access_token)).status, 200);
    assert.equal((await refresh(t, clientId, tokens.refresh_token)).status, 400, 'a used refresh token is refused');
    // That reuse ended the pairing: pair again for the Settings part.
    assert.equal((await tasks(r.body.access_token)).status, 401);
    await within(stream.done, 10_000, 'the stream of the revoked pairing to end');

    const again = await startPairing(t, clientId, ORIGIN);
    await gotoRetrying(page, again.verification_uri_complete);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();
    const second = (await pollOnce(t, clientId, again.device_code)) as DeviceTokens;
    const stream2 = new SseClient(`${d.url}/api/v1/tasks/events`, bearer(second.access_token));
    await stream2.waitFor((ev) => ev.length > 0, 10_000, 'the snapshot');

    await gotoRetrying(page, `${ORIGIN}/settings`);
    const row = page.getByTestId('connected-apps').getByRole('row', { name: /caic on Pixel 8/ });
    await row.waitFor();
    assert.match(await row.innerText(), /paired device/);
    assert.match(await row.innerText(), /caic:api/);
    await browser.screenshot(page, 'device-pairing-connected-apps');
    await page.getByRole('button', { name: 'Revoke caic on Pixel 8' }).click();
    await page.getByTestId('apps-empty').waitFor();
    assert.equal((await tasks(second.access_token)).status, 401, 'the next call after the revocation');
    await within(stream2.done, 10_000, 'the revoked device’s stream to end');
    assert.equal((await refresh(t, clientId, second.refresh_token)).status, 400);

    // Sign out everywhere: the browser's own session ends too.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.waitForURL(`${ORIGIN}/`);
    const me = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
    assert.notEqual(me, 200, 'signed out');
    assert.deepEqual(browser.pageErrors(page).filter((e) => !/401|404/.test(e)), []);
  });
});

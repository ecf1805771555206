// App previews in real Chromium with login on: a FAKE_SERVE dev server in a real task container is
// offered as "Preview :3000", shown in the side panel and a new tab at its own origin (page, its
// absolute-path assets, its WebSocket echo), refused to a browser without a session and to another
// user's session, closed when the task stops; `docker port` of the container never changes. The
// caic UI is at https://caic.test behind a TLS front; previews at *.preview.test, another site (as
// docs/security.md recommends: a page of a sibling host could set cookies for caic's domain), so the
// side panel's frame is cross-site and gets the partitioned preview cookie.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import type { Task } from '../../src/api/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { dockerCli } from '../helpers/engine.js';
import { signIn } from '../helpers/login.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { startTlsProxy, type TlsProxy } from '../helpers/tls-proxy.js';
import { waitUntil } from '../helpers/wait.js';

const HOST = 'caic.test';
const ORIGIN = `https://${HOST}`;
const DOMAIN = 'preview.test';

interface Load {
  /** The browser and tab whose network changes count (the tab holding the frame). */
  browser: TestBrowser;
  tab: Page;
  /** `browser.networkChanges(tab)` before the load began. */
  mark: number;
  /** Loads the app again (the panel's Reload, the tab's reload). */
  again: () => Promise<unknown>;
  t: TestContext;
}

/** The app in the side panel of `page`, loaded from now on; again: the panel's Reload. */
const inPanel = (browser: TestBrowser, page: Page, t: TestContext): Load => ({
  browser,
  tab: page,
  mark: browser.networkChanges(page),
  again: () => page.getByTestId('preview-panel').getByRole('button', { name: 'Reload' }).click(),
  t,
});

/** The app as a tab of its own; `mark` 0 for a tab the app opened (its count starts with it). */
const inTab = (browser: TestBrowser, tab: Page, t: TestContext, mark = browser.networkChanges(tab)): Load => ({ browser, tab, mark, again: () => tab.reload(), t });

/**
 * What the FAKE_SERVE page shows once its script ran, its stylesheet applied and its WebSocket
 * echoed. Docker adding an interface on this host (other tests start containers) makes Chromium
 * abort what the frame had in flight with ERR_NETWORK_CHANGED, page, asset or WebSocket alike: the
 * app is then loaded again, as a person would, and only then (up to three times, each noted).
 */
async function appWorks(frame: Page | FrameLocator, host: string, load: Load): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await frame.locator('#ws').filter({ hasText: `echo: ping ${host}` }).waitFor({ timeout: 20_000 });
      break;
    } catch (err) {
      const changes = load.browser.networkChanges(load.tab);
      if (attempt > 3 || changes === load.mark) throw err;
      load.t.diagnostic(`the host's network changed ${changes - load.mark}× while the preview loaded: loading it again`);
      load.mark = changes;
      await load.again();
    }
  }
  assert.equal(await frame.locator('body').getAttribute('data-script'), 'ran', '/assets/app.js ran');
  assert.equal(await frame.locator('#title').evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el).color), 'rgb(1, 2, 3)', '/assets/style.css applied');
}

describe('app previews in the web UI', { timeout: 180_000 }, () => {
  let stub: StubForge;
  let env: TaskEnv;
  let tls: TlsProxy;
  let alice: TestBrowser;
  let other: TestBrowser;
  let task: Task;
  let aliceAuth: Record<string, string>;
  let bobAuth: Record<string, string>;
  const session = (auth: Record<string, string>) => auth.authorization!.slice('Bearer '.length);
  const previewHost = () => `p3000-${task.id}.${DOMAIN}`;
  const dockerPort = async () => dockerCli(['port', (await env.container(task.id))!.Id], { encoding: 'utf8' });

  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({ extraConfig: `external_url = "${ORIGIN}"\n${githubLoginToml(stub, ['alice', 'bob'])}\n[preview]\ndomain = "${DOMAIN}"\n` });
    tls = await startTlsProxy(HOST, new URL(env.d.url));
    const args = [`--host-resolver-rules=MAP ${HOST} 127.0.0.1:${tls.port}, MAP *.${DOMAIN} 127.0.0.1:${tls.port}`];
    alice = await launchBrowser({ args, ignoreHTTPSErrors: true });
    other = await launchBrowser({ args, ignoreHTTPSErrors: true });
    aliceAuth = await signIn(env.d.url, HOST, stub, { id: 701, username: 'alice' });
    bobAuth = await signIn(env.d.url, HOST, stub, { id: 702, username: 'bob' });
    // The session cookie as the server sets it: host-only on caic.test.
    await alice.context.addCookies([{ name: 'caic_session', value: session(aliceAuth), url: ORIGIN, httpOnly: true, secure: true, sameSite: 'Lax' }]);
  });
  after(async () => {
    await alice?.[Symbol.asyncDispose]();
    await other?.[Symbol.asyncDispose]();
    await tls?.[Symbol.asyncDispose]();
    try {
      await env?.[Symbol.asyncDispose]();
    } finally {
      await stub?.close();
    }
  });

  test('the dev server is offered, shown in the side panel and a new tab, with its assets and WebSocket; nothing published', async (t) => {
    task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_SERVE 3000' } }, aliceAuth);
    await env.waitState(task.id, 'waiting', { headers: aliceAuth });
    const published = await dockerPort();
    const page = await alice.newPage({ width: 1400, height: 900 });
    await page.goto(`${ORIGIN}/task/@${task.id}+x`);
    const panel = page.getByTestId('preview-panel');
    let load = inPanel(alice, page, t);
    await page.getByRole('button', { name: 'Preview :3000' }).click();
    await panel.waitFor();
    const frame = page.frameLocator('[data-testid="preview-panel"] iframe');
    await appWorks(frame, previewHost(), load);
    await alice.screenshot(page, 'preview-side-panel');

    // Reload mints a new link and loads the app again.
    load = inPanel(alice, page, t);
    await panel.getByRole('button', { name: 'Reload' }).click();
    await appWorks(frame, previewHost(), load);

    // New tab: cut from caic's page, at the preview's own origin; the caic session never goes there.
    const sent: string[] = [];
    alice.context.on('request', (r) => {
      if (new URL(r.url()).hostname === previewHost()) void r.allHeaders().then((h) => sent.push(h.cookie ?? ''));
    });
    const [tab] = await Promise.all([alice.context.waitForEvent('page'), page.getByRole('button', { name: 'Open preview of port 3000 in a new tab' }).click()]);
    await tab.waitForURL(`https://${previewHost()}/`);
    await appWorks(tab, previewHost(), inTab(alice, tab, t, 0));
    assert.equal(await tab.evaluate('window.opener'), null, 'the preview cannot reach the caic tab');
    assert.ok(sent.length > 0 && sent.every((c) => !c.includes('caic_session')), `no caic session sent to the preview host: ${JSON.stringify(sent)}`);
    // The app's cookies stay on its host: none lands on caic's.
    await tab.goto(`https://${previewHost()}/cookies?domain=caic.test`);
    await tab.evaluate("document.cookie = 'scripted=1; domain=caic.test; path=/'");
    const caicCookies = (await alice.context.cookies(ORIGIN)).map((c) => c.name);
    assert.deepEqual(caicCookies, ['caic_session'], 'the preview set no cookie for the caic host');
    const previewCookies = await alice.context.cookies(`https://${previewHost()}`);
    // Two preview cookies, host-only: the new tab's (Lax) and the side panel's (partitioned under caic's site).
    const tabCookie = previewCookies.find((c) => c.name === 'caic_preview' && c.sameSite === 'Lax');
    assert.ok(tabCookie?.httpOnly && tabCookie.domain === previewHost(), `the tab's preview cookie: ${JSON.stringify(previewCookies)}`);
    const frameCookie = previewCookies.find((c) => c.name === 'caic_preview' && c.sameSite === 'None') as (typeof previewCookies)[number] & { partitionKey?: string };
    assert.ok(frameCookie?.httpOnly && frameCookie.secure && frameCookie.domain === previewHost() && frameCookie.partitionKey === ORIGIN, `the panel's preview cookie: ${JSON.stringify(frameCookie)}`);
    assert.equal(await dockerPort(), published, '`docker port` unchanged');
    await tab.close();
  });

  test('refused without a session and with another user\'s session', async () => {
    const page = await other.newPage();
    await page.goto(`https://${previewHost()}/`);
    await page.getByText('needs to be opened from caic').waitFor();
    const r = await page.goto(`https://${previewHost()}/assets/app.js`);
    assert.equal(r?.status(), 401, 'no asset without the cookie');
    // Bob signed in: alice's task is not his to open, and her preview host stays closed to him.
    await other.context.addCookies([{ name: 'caic_session', value: session(bobAuth), url: ORIGIN, httpOnly: true, secure: true, sameSite: 'Lax' }]);
    await page.goto(ORIGIN);
    const status = await page.evaluate(async (id) => (await fetch(`/api/v1/tasks/${id}/previews/3000/open`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, task.id);
    assert.equal(status, 404);
    const again = await page.goto(`https://${previewHost()}/`);
    assert.equal(again?.status(), 401);
  });

  test('stopping the task closes the preview', async (t) => {
    const page = await alice.newPage({ width: 1400, height: 900 });
    // The view polls ports while it is visible: the tab in front, as a user looking at it.
    await page.bringToFront();
    await page.goto(`${ORIGIN}/task/@${task.id}+x`);
    const panelLoad = inPanel(alice, page, t);
    await page.getByRole('button', { name: 'Preview :3000' }).click();
    const frame = page.frameLocator('[data-testid="preview-panel"] iframe');
    await appWorks(frame, previewHost(), panelLoad);
    const tab = await alice.newPage();
    const tabLoad = inTab(alice, tab, t);
    await tab.goto(`https://${previewHost()}/`);
    await appWorks(tab, previewHost(), tabLoad);
    const opened = tab.evaluate(`new Promise((resolve) => {
      const ws = new WebSocket('wss://' + location.host + '/echo');
      window.closedWs = new Promise((r) => (ws.onclose = (e) => r('closed ' + e.code)));
      ws.onopen = () => ws.send('before the stop');
      ws.onmessage = () => resolve('echoed');
    })`);
    assert.equal(await opened, 'echoed');
    const closed = tab.evaluate<string>('window.closedWs');
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/stop`, undefined, aliceAuth)).status, 200);
    assert.match(await closed, /^closed /, 'the WebSocket closes with the task');
    await page.getByTestId('preview-panel').waitFor({ state: 'detached' });
    await env.waitState(task.id, ['stopped', 'failed'], { headers: aliceAuth });
    const r = await tab.reload();
    assert.ok(r && (r.status() === 401 || r.status() === 410), `the preview is closed: ${r?.status()}`);
    const list = await env.api('GET', `/api/v1/tasks/${task.id}/previews`, undefined, aliceAuth);
    assert.equal(list.status, 409, list.body);
    await waitUntil(() => page.getByRole('button', { name: 'Preview :3000' }).count(), (n) => n === 0, { timeoutMs: 10_000, what: 'the preview button to go' });
  });
});

// The default: no preview domain configured, caic at http://localhost:<port> and previews at
// http://p<port>-<task>.localhost:<port> (Chromium resolves *.localhost to this machine). What the
// documentation's list of what works and what breaks says, measured here.
describe('app previews under *.localhost (the default)', { timeout: 180_000 }, () => {
  let env: TaskEnv;
  let browser: TestBrowser;
  let task: Task;

  before(async () => {
    env = await taskEnv();
    browser = await launchBrowser();
    task = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_SERVE 3000' } });
    await env.waitState(task.id, 'waiting');
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  test('side panel and tab work; what works and what breaks', async (t) => {
    const caic = `http://localhost:${new URL(env.d.url).port}`;
    const host = `p3000-${task.id}.localhost:${new URL(env.d.url).port}`;
    // A host-only cookie of caic's host, as a session cookie would be: never sent to the preview.
    await browser.context.addCookies([{ name: 'caic_session', value: 'not-for-previews', url: caic, httpOnly: true, sameSite: 'Lax' }]);
    const sent: string[] = [];
    browser.context.on('request', (r) => {
      if (new URL(r.url()).host === host) void r.allHeaders().then((h) => sent.push(h.cookie ?? ''));
    });
    const page = await browser.newPage({ width: 1400, height: 900 });
    await page.goto(`${caic}/task/@${task.id}+x`);
    const panelLoad = inPanel(browser, page, t);
    await page.getByRole('button', { name: 'Preview :3000' }).click();
    await appWorks(page.frameLocator('[data-testid="preview-panel"] iframe'), host, panelLoad);
    const [tab] = await Promise.all([browser.context.waitForEvent('page'), page.getByRole('button', { name: 'Open preview of port 3000 in a new tab' }).click()]);
    await tab.waitForURL(`http://${host}/`);
    await appWorks(tab, host, inTab(browser, tab, t, 0));
    assert.ok(sent.length > 0 && sent.every((c) => !c.includes('caic_session')), `caic's cookie stays on caic's host: ${JSON.stringify(sent)}`);
    assert.equal(await tab.evaluate('window.isSecureContext'), true, '*.localhost is a secure context');
    assert.match(await tab.evaluate<string>("navigator.serviceWorker.register('/sw.js').then((r) => r.scope)"), new RegExp(`^http://${host}/$`), 'a service worker registers, scoped to the preview host');
    // The page's script cannot set cookies for localhost (caic's host): Chromium refuses the Domain.
    await tab.evaluate("document.cookie = 'tossed=1; domain=localhost; path=/'; document.cookie = 'caic_session=junk; domain=localhost; path=/api'");
    assert.deepEqual((await browser.context.cookies(caic)).map((c) => `${c.name}=${c.value}`), ['caic_session=not-for-previews']);
    // An app that hard-codes its loopback origin asks the browser's own machine: it breaks.
    assert.equal(await tab.evaluate<string>("fetch('http://localhost:3000/assets/style.css').then(() => 'ok', () => 'failed')"), 'failed');
    // caic's API is another origin: reading it from the preview is blocked.
    assert.equal(await tab.evaluate<string>(`fetch('${caic}/api/v1/tasks', { credentials: 'include' }).then(() => 'read', () => 'blocked')`), 'blocked');
    // A redirect to the app's loopback origin lands on the preview.
    await tab.goto(`http://${host}/redirect`);
    assert.equal(tab.url(), `http://${host}/assets/style.css`);
  });
});

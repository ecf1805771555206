// The installable app in real Chromium against the real daemon: the manifest is valid and its icons
// load, the service worker registers and caches this build's hashed assets and the shell (never
// the API), the shell opens offline and says "offline" plainly, and a new build's worker replaces
// the old cache.
import assert from 'node:assert/strict';
import { cp, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { DEFAULT_WEB_DIR } from '../../src/http/static.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { http } from '../helpers/http.js';
import { makeOriginAndClone } from '../helpers/task-env.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const WAIT = 30_000;

type Manifest = { name: string; short_name: string; start_url: string; scope: string; display: string; theme_color: string; icons: { src: string; sizes: string; type: string; purpose: string }[] };

/** What the page's CacheStorage holds: cache name → the paths of its entries. */
// (Page scripts as text: the test's TypeScript has no DOM library.)
const cacheContents = (page: Page): Promise<Record<string, string[]>> =>
  page.evaluate(`(async () => {
    const out = {};
    for (const name of await caches.keys()) out[name] = (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname).sort();
    return out;
  })()`);

describe('web UI: installable app (manifest, service worker, offline shell)', { timeout: 120_000 }, () => {
  let dir: TempDir;
  let web: string;
  let d: TestDaemon;
  let browser: TestBrowser;
  let page: Page;

  before(async () => {
    dir = await tempDir('caic-pwa-');
    const root = join(dir.path, 'root');
    await makeOriginAndClone(dir.path, root, 'proj', 2);
    // A copy of the build: the last test plays a new build by changing its service worker.
    web = join(dir.path, 'web');
    await cp(DEFAULT_WEB_DIR, web, { recursive: true });
    d = await startTestDaemon(`[core]\nroot = "${root}"\n[server]\nallow_origins = ["local"]\n`, { dir, webDir: web });
    browser = await launchBrowser();
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await d?.[Symbol.asyncDispose]();
    await dir?.[Symbol.asyncDispose]();
  });

  test('the manifest: the fields installers need, icons that load at their stated sizes, served with its type and no-cache; the CSP allows the worker and manifest from this origin', async () => {
    const html = await http(`${d.url}/`);
    const csp = String(html.headers['content-security-policy']);
    assert.match(csp, /worker-src 'self';/);
    assert.match(csp, /manifest-src 'self';/);
    assert.match(html.body, /<link rel="manifest" href="\/manifest.webmanifest"/);
    const r = await http(`${d.url}/manifest.webmanifest`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/manifest\+json/);
    assert.equal(r.headers['cache-control'], 'no-cache');
    const m = r.json<Manifest>();
    assert.equal(m.display, 'standalone');
    assert.equal(m.start_url, '/');
    assert.equal(m.scope, '/');
    assert.ok(m.name && m.short_name && /^#[0-9a-f]{6}$/.test(m.theme_color));
    const sizes = new Set(m.icons.map((i) => `${i.sizes}/${i.purpose}`));
    for (const want of ['192x192/any', '512x512/any', '512x512/maskable']) assert.ok(sizes.has(want), want);
    for (const icon of m.icons) {
      const res = await fetch(`${d.url}${icon.src}`);
      assert.equal(res.status, 200, icon.src);
      assert.equal(res.headers.get('content-type'), 'image/png');
      const png = Buffer.from(await res.arrayBuffer());
      assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
      assert.equal(`${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`, icon.sizes, icon.src);
    }
    const sw = await http(`${d.url}/sw.js`);
    assert.equal(sw.status, 200);
    assert.match(String(sw.headers['content-type']), /^text\/javascript/);
    assert.equal(sw.headers['cache-control'], 'no-cache');
    // Chromium reads the same manifest: it names it for the page and finds no error in it.
    await page.goto(d.url);
    const cdp = await page.context().newCDPSession(page);
    const { url, errors } = (await cdp.send('Page.getAppManifest')) as { url: string; errors: { message: string }[] };
    assert.equal(url, `${d.url}/manifest.webmanifest`);
    assert.deepEqual(errors, []);
  });

  test('the service worker takes the page, and its cache holds the hashed assets and the shell, never the API', async (t) => {
    await page.goto(d.url);
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]', { timeout: WAIT });
    const scope = await page.evaluate<string>('navigator.serviceWorker.ready.then((r) => r.scope)');
    assert.equal(scope, `${d.url}/`);
    // Polled from here, not with waitForFunction: its polling evals in the page, which the app's CSP
    // (script-src 'self', no unsafe-eval) refuses whenever the first check is not already true.
    const controlled = () => page.evaluate<boolean>('navigator.serviceWorker.controller !== null');
    // clients.claim() skips a page that is still loading: a navigation that raced the worker's
    // activation (the previous test's visit registered it) stays uncontrolled, as it would for a
    // user; the next load is controlled.
    const claimed = await until(controlled, 'the service worker to claim the page', 5_000).then(() => true, () => false);
    if (!claimed) {
      t.diagnostic('the page was not claimed within 5 s; reloading it');
      await page.reload();
      await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]', { timeout: WAIT });
    }
    await until(controlled, 'the service worker to control the page', WAIT);
    // The app has used the API by now (config, tasks, repositories, the task list stream).
    await page.reload();
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]', { timeout: WAIT });
    const caches = await cacheContents(page);
    const names = Object.keys(caches);
    assert.equal(names.length, 1, JSON.stringify(caches));
    assert.match(names[0]!, /^caic-[0-9a-f]{16}$/);
    const paths = caches[names[0]!]!;
    const built = (await readFile(join(web, 'sw.js'), 'utf8')).match(/\/assets\/[^"]+/g)!;
    assert.deepEqual(paths, ['/', ...built].sort());
    assert.ok(paths.every((p) => p === '/' || p.startsWith('/assets/')), JSON.stringify(paths));
    assert.ok(!paths.some((p) => p.startsWith('/api')), 'no API answer in the cache');
  });

  test('Settings offers push notifications for this browser', async () => {
    await page.goto(`${d.url}/settings`);
    const section = page.getByTestId('push-settings');
    await section.waitFor({ timeout: WAIT });
    await section.getByRole('button', { name: 'Turn push on' }).waitFor({ timeout: WAIT });
    assert.match(await section.innerText(), /task’s id and title only/);
  });

  test('offline: the shell opens from the cache and says "offline" plainly; the API is not answered from a cache; back online it works', async () => {
    await page.context().setOffline(true);
    try {
      await page.goto(`${d.url}/settings`);
      const offline = page.getByTestId('offline');
      await offline.waitFor({ timeout: WAIT });
      assert.match(await offline.innerText(), /^Offline/);
      await browser.screenshot(page, 'pwa-offline');
      // A navigation to the API offline fails as offline; it does not get the shell's HTML.
      await assert.rejects(page.goto(`${d.url}/api/v1/server/config`), /ERR_INTERNET_DISCONNECTED|ERR_FAILED/);
    } finally {
      await page.context().setOffline(false);
    }
    await page.goto(d.url);
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]', { timeout: WAIT });
  });

  test('a new build’s service worker replaces the old cache', async () => {
    const before = Object.keys(await cacheContents(page));
    // A new build: another version (a real one also has other hashed names).
    const sw = await readFile(join(web, 'sw.js'), 'utf8');
    const next = sw.replace(/const VERSION = "([0-9a-f]{16})";/, (_m, v: string) => `const VERSION = "${[...v].reverse().join('')}";`);
    assert.notEqual(next, sw);
    // Each file replaced whole (written beside it, then renamed), as a deploy does: a browser
    // fetching the worker while a copy is half written would get a broken script.
    const replace = async (name: string, content: string | Buffer) => {
      await writeFile(join(web, `${name}.tmp`), content);
      await rename(join(web, `${name}.tmp`), join(web, name));
    };
    // The build's precompressed copies too (the daemon serves those to a browser that takes br or gzip).
    await replace('sw.js.br', brotliCompressSync(next));
    await replace('sw.js.gz', gzipSync(next));
    await replace('sw.js', next);
    await page.evaluate('navigator.serviceWorker.ready.then((r) => r.update())');
    // The new worker installs (its cache), activates and deletes the old one.
    const names = await until(async () => {
      // As a browser does on its next navigation: check again when no new worker is on its way
      // (an install whose precache fetch failed under load is dropped, and nothing retries it).
      await page.evaluate('navigator.serviceWorker.getRegistration().then((r) => r && !r.installing && !r.waiting ? r.update().catch(() => undefined) : undefined)');
      const now = Object.keys(await cacheContents(page));
      return now.length === 1 && now[0] !== before[0] ? now : null;
    }, 'the new build’s cache alone');
    assert.match(names[0]!, /^caic-[0-9a-f]{16}$/);
    // A fetch of the worker that failed under load (Chromium says "An unknown error occurred when
    // fetching the script") is retried above, like the other network failures.
    assert.deepEqual(browser.pageErrors(page).filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch|net::ERR|error occurred when fetching the script/.test(e)), []);
  });
});

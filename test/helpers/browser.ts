// Real Chromium for e2e tests (playwright-core driving Debian's /usr/bin/chromium): pages with a set
// viewport, their console and page errors collected, screenshots under test-artifacts/screenshots/.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { contractChecker } from './contract.js';
import { tempDir } from './tmp.js';

/** Installed by `npm run env:browser` (test/tools/env-browser.ts). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The repository's test-artifacts/screenshots/ (gitignored), from dist/test/helpers/. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../test-artifacts/screenshots/', import.meta.url));

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Viewport {
  width: number;
  height: number;
}

export interface TestBrowser extends AsyncDisposable {
  /** The one browser context: every page shares its cookies and storage. */
  context: BrowserContext;
  /** A new tab with this viewport (default 1280×800) whose console and page errors are collected. */
  newPage(viewport?: Viewport): Promise<Page>;
  /** Saves a full-page PNG as test-artifacts/screenshots/<name>.png and returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  /** `console.error` messages and uncaught exceptions seen on a page from newPage, oldest first. */
  pageErrors(page: Page): string[];
  /**
   * Forgets the errors from index `since` on that match `pattern` (what a test provoked on purpose,
   * such as requests in flight when it cut the network) and returns them.
   */
  forgetErrors(page: Page, since: number, pattern: RegExp): string[];
  /**
   * How many times a tab of this browser (its frames included) saw a request, WebSocket or
   * navigation aborted with ERR_NETWORK_CHANGED so far: a test that waits on something a frame
   * loads compares it before and after, and loads again only when the host's network changed.
   */
  networkChanges(page: Page): number;
}

/**
 * Launches headless Chromium with a fresh, temporary profile, removed again on dispose.
 *
 * playwright's `chromium.launch()` refuses a `--user-data-dir` in `args` ("Pass userDataDir parameter
 * to browserType.launchPersistentContext"), so the profile is given through
 * `launchPersistentContext(dir)`; it returns the browser's single context, and closing it closes
 * the browser. Pages from newPage are tabs of that context (use one launchBrowser() per user
 * when a test needs separate cookie jars).
 */
export interface LaunchOptions {
  /** Extra Chromium flags (e.g. `--host-resolver-rules` to reach a test origin by its name). */
  args?: string[];
  /** Accept the test's self-signed certificates. */
  ignoreHTTPSErrors?: boolean;
}

export async function launchBrowser(opts: LaunchOptions = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing: run npm run env:browser`);
  const profile = await tempDir('caic-chromium-');
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile.path, {
      executablePath: CHROMIUM_PATH,
      // playwright's ignoreHTTPSErrors covers the pages' requests but not a service worker's script
      // fetch; the flag makes the test's self-signed certificate good for registering /sw.js too.
      args: [...FLAGS, ...(opts.ignoreHTTPSErrors ? ['--ignore-certificate-errors'] : []), ...(opts.args ?? [])],
      timeout: 30_000,
      ...(opts.ignoreHTTPSErrors ? { ignoreHTTPSErrors: true } : {}),
    });
  } catch (err) {
    await profile[Symbol.asyncDispose]();
    throw err;
  }
  watchContract(context);
  const errors = new WeakMap<Page, string[]>();
  // Every tab's network changes are counted, also tabs the app opens (context 'page' events).
  const changes = new WeakMap<Page, { n: number }>();
  const countChanges = (page: Page) => {
    if (changes.has(page)) return;
    const changed = { n: 0 };
    changes.set(page, changed);
    const count = (text: string | undefined) => void (text?.includes('ERR_NETWORK_CHANGED') && changed.n++);
    page.on('requestfailed', (r) => count(r.failure()?.errorText));
    page.on('websocket', (ws) => ws.on('socketerror', count));
    page.on('console', (msg) => msg.type() === 'error' && count(msg.text()));
  };
  context.pages().forEach(countChanges);
  context.on('page', countChanges);
  // The persistent context opens with one blank tab: the first newPage() hands it out.
  let spare: Page | undefined = context.pages()[0];

  return {
    context,
    async newPage(viewport = { width: 1280, height: 800 }) {
      const page = spare ?? (await context.newPage());
      spare = undefined;
      const seen: string[] = [];
      errors.set(page, seen);
      page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        // Docker adding or removing an interface on this host (other tests start containers)
        // makes Chromium abort requests in flight with ERR_NETWORK_CHANGED, as a phone changing
        // networks would: the app asks again (GETs retry), and the flow's own checks still hold.
        if (msg.text().includes('net::ERR_NETWORK_CHANGED')) return;
        // The same abort hitting the service worker's script fetch: Chromium names no code then,
        // only "unknown" (a server's refusal reads "A bad HTTP response code (…)" and still counts).
        // The app registers again at its next load; the PWA suite checks the worker itself.
        if (msg.text() === 'An unknown error occurred when fetching the script.') return;
        const { url, lineNumber } = msg.location();
        seen.push(`console.error: ${msg.text()}${url ? ` (${url}:${lineNumber + 1})` : ''}`);
      });
      page.on('pageerror', (err) => seen.push(`pageerror: ${err.stack ?? err.message}`));
      // Every test's navigations survive the same interface changes (see retryOnNetworkChange).
      const goto = page.goto.bind(page);
      const reload = page.reload.bind(page);
      page.goto = (url, options) => retryOnNetworkChange(page, () => goto(url, options));
      page.reload = (options) => retryOnNetworkChange(page, () => reload(options));
      await page.setViewportSize(viewport);
      return page;
    },
    async screenshot(page, name) {
      if (!/^[\w.-]+$/.test(name)) throw new Error(`screenshot name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-'`);
      await mkdir(SCREENSHOT_DIR, { recursive: true });
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    pageErrors(page) {
      const seen = errors.get(page);
      if (!seen) throw new Error('pageErrors: not a page from this browser’s newPage()');
      return [...seen];
    },
    forgetErrors(page, since, pattern) {
      const seen = errors.get(page);
      if (!seen) throw new Error('forgetErrors: not a page from this browser’s newPage()');
      const kept = seen.slice(0, since);
      const forgotten: string[] = [];
      for (const e of seen.slice(since)) (pattern.test(e) ? forgotten : kept).push(e);
      seen.splice(0, seen.length, ...kept);
      return forgotten;
    },
    networkChanges(page) {
      const changed = changes.get(page);
      if (!changed) throw new Error('networkChanges: not a page of this browser');
      return changed.n;
    },
    async [Symbol.asyncDispose]() {
      await context.close().catch(() => undefined);
      await profile[Symbol.asyncDispose]();
    },
  };
}

/**
 * The contract hook's chokepoint for pages: every answer of caic that a page of this browser
 * receives (test/helpers/contract.ts decides which are caic's) is checked against the document.
 * Event streams are checked by status and headers only: a page's stream body is not readable
 * through the protocol while it is open (the suites' own stream clients check their events).
 */
function watchContract(context: BrowserContext): void {
  const checker = contractChecker();
  if (!checker) return;
  context.on('response', (r) => {
    const check = checker.begin({ method: r.request().method(), url: r.url(), status: r.status(), headers: r.headers() });
    if (!check) return;
    if ((r.headers()['content-type'] ?? '').startsWith('text/event-stream')) return check.end(false);
    r.body().then(
      (body) => {
        check.chunk(body);
        check.end(true);
      },
      () => check.end(false),
    );
  });
}

/**
 * Whether a navigation failed because the host's network changed. Playwright names the error in
 * its message, except when Chromium had already committed its own error page ("interrupted by
 * another navigation to chrome-error://chromewebdata/"): then that page names it.
 */
async function networkChanged(err: unknown, page: Page): Promise<boolean> {
  const message = String((err as Error).message);
  if (message.includes('net::ERR_NETWORK_CHANGED')) return true;
  if (!message.includes('chrome-error://chromewebdata/')) return false;
  await page.waitForLoadState('load', { timeout: 2_000 }).catch(() => undefined);
  const html = await page.content().catch(() => '');
  return html.includes('ERR_NETWORK_CHANGED');
}

/**
 * A navigation (goto, reload) done again when Docker adding or removing an interface on this host
 * (other tests start containers and networks) aborted it with ERR_NETWORK_CHANGED, as a person
 * would reload. Interface changes come in bursts (a container's start adds, renames and
 * addresses its veth), so each try waits longer first. Any other failure, or the fifth such
 * abort, stands. Navigations are GETs.
 */
async function retryOnNetworkChange<T>(page: Page, navigate: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await navigate();
    } catch (err) {
      if (i >= attempts || !(await networkChanged(err, page))) throw err;
      await new Promise((r) => setTimeout(r, 250 * i));
    }
  }
}

/** `page.goto` with the retry above (pages from newPage have it built in; other pages do not). */
export async function gotoRetrying(page: Page, url: string, attempts = 5): Promise<void> {
  await retryOnNetworkChange(page, () => page.goto(url), attempts);
}

// The task terminal in real Chromium: signed in through the (stand-in) GitHub login at an https
// origin, a fake-agent task's Terminal tab runs `echo $((6*7))`, follows a resize into `stty size`,
// pastes, takes the extra keys at phone width, reconnects after a network cut (a TCP proxy between
// the TLS front and the daemon), is refused for another user's task, and closes when the task stops.
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Task } from '../../src/api/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { githubLoginToml, startStubForge, type StubForge, type StubUser } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startTlsProxy, type TlsProxy } from '../helpers/tls-proxy.js';
import { waitUntil } from '../helpers/wait.js';

const HOST = 'caic.test';
const ORIGIN = `https://${HOST}`;
const WAIT = 30_000;
/** Where the lead's closing note picks the screenshots up (outside the repository). */
const SHOTS = process.env.CAIC_TERMINAL_SHOTS ?? '';
/** What the tests read of the page's window (no DOM types in the test build). */
interface Win {
  getComputedStyle(el: unknown): { overflowY: string };
  navigator: { clipboard: { writeText(text: string): Promise<void> } };
  location: { host: string };
}
/** A console error of the page's Content-Security-Policy refusing something (a stylesheet, a socket). */
const refusedByPolicy = (e: string) => /Content Security Policy|Refused to (load|apply|connect|execute)/i.test(e);

describe('web UI: the task terminal', { timeout: 300_000 }, () => {
  let stub: StubForge;
  let env: TaskEnv;
  let proxy: TcpProxy;
  let tls: TlsProxy;
  let alice: TestBrowser;
  let bob: TestBrowser;
  let page: Page;
  let task: Task;
  let cookie = '';
  const as = () => ({ host: HOST, cookie, origin: ORIGIN });

  const pane = () => page.getByTestId('terminal');
  const screen = () => page.locator('[data-testid="terminal"] .xterm-rows');
  /** The terminal's visible lines (xterm renders rows as DOM; spaces may be no-break spaces). */
  const lines = async () => (await screen().innerText()).replace(/\u00a0/g, ' ').split('\n').map((l) => l.trimEnd());
  const waitLine = (re: RegExp, what: string, count = 1) =>
    waitUntil(lines, (ls) => ls.filter((l) => re.test(l)).length >= count, { timeoutMs: WAIT, intervalMs: 100, what });
  const waitState = (state: string) => page.waitForSelector(`[data-testid="terminal"][data-state="${state}"]`, { timeout: WAIT });
  const run = async (command: string) => {
    await page.locator('[data-testid="terminal"] .xterm-screen').click();
    await page.keyboard.type(command);
    await page.keyboard.press('Enter');
  };
  const signIn = async (b: TestBrowser, user: StubUser) => {
    stub.user = user;
    const p = await b.newPage();
    await p.goto(ORIGIN);
    await p.getByRole('link', { name: 'Sign in with GitHub' }).click();
    await p.waitForSelector('[data-testid="task-list"][data-loaded="true"]', { timeout: WAIT });
    return p;
  };

  before(async () => {
    if (SHOTS) await mkdir(SHOTS, { recursive: true });
    stub = await startStubForge();
    env = await taskEnv({ files: 1, extraConfig: `external_url = "${ORIGIN}"\n${githubLoginToml(stub, ['alice', 'bob'])}` });
    // Chromium → TLS front (caic.test) → a TCP proxy the test can cut → the daemon.
    proxy = await startTcpProxy(new URL(env.d.url));
    tls = await startTlsProxy(HOST, new URL(proxy.url));
    const args = [`--host-resolver-rules=MAP ${HOST} 127.0.0.1:${tls.port}`];
    alice = await launchBrowser({ args, ignoreHTTPSErrors: true });
    bob = await launchBrowser({ args, ignoreHTTPSErrors: true });
    page = await signIn(alice, { id: 701, username: 'alice' });
    await alice.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ORIGIN });
    cookie = `caic_session=${(await alice.context.cookies(ORIGIN)).find((c) => c.name === 'caic_session')!.value}`;
    task = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_DEMO terminal' } }, as());
    await env.waitState(task.id, 'waiting', { headers: as() });
  });
  after(async () => {
    await alice?.[Symbol.asyncDispose]();
    await bob?.[Symbol.asyncDispose]();
    await tls?.[Symbol.asyncDispose]();
    await proxy?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test('the Terminal tab opens a shell: `echo $((6*7))` prints 42, under the CSP, with xterm’s stylesheet', async () => {
    await page.goto(`${ORIGIN}/task/@${task.id}`);
    await page.waitForSelector('[data-testid="transcript"][data-ready="true"]', { timeout: WAIT });
    await page.getByRole('tab', { name: 'Terminal' }).click();
    await waitState('open');
    await run('echo $((6*7))');
    await waitLine(/^42$/, 'the line 42');
    // xterm.css applied (its viewport scrolls) and nothing was refused by the page's policy.
    assert.equal(await page.locator('.xterm-viewport').evaluate((el) => (globalThis as unknown as Win).getComputedStyle(el).overflowY), 'scroll');
    assert.deepEqual(alice.pageErrors(page).filter(refusedByPolicy), []);
    const shot = await alice.screenshot(page, 'terminal-desktop');
    if (SHOTS) await copyFile(shot, `${SHOTS}/terminal-desktop.png`);
    // Back to the transcript and again: the same shell (nothing was closed).
    await page.getByRole('tab', { name: 'Transcript' }).click();
    await page.getByRole('tab', { name: 'Terminal' }).click();
    await run('echo same-$((1+1))');
    await waitLine(/^same-2$/, 'the same shell');
    assert.equal(await page.locator('.xterm-rows').count(), 1);
  });

  test('a resize reaches `stty size`', async () => {
    const size = async () => [Number(await pane().getAttribute('data-rows')), Number(await pane().getAttribute('data-cols'))] as const;
    const [rows, cols] = await size();
    await run('stty size');
    await waitLine(new RegExp(`^${rows} ${cols}$`), `stty size ${rows} ${cols}`);
    await page.setViewportSize({ width: 900, height: 600 });
    await waitUntil(size, ([r, c]) => r < rows && c < cols && r > 0, { what: 'the terminal to fit the smaller window' });
    // The layout may settle in steps: ask again until the PTY's size is the terminal's size.
    await waitUntil(
      async () => {
        await run('stty size');
        const printed = (await lines()).filter((l) => /^\d+ \d+$/.test(l)).at(-1);
        const [r, c] = await size();
        return printed === `${r} ${c}` && r < rows;
      },
      (ok) => ok,
      { timeoutMs: WAIT, intervalMs: 300, what: 'stty size to report the new size' },
    );
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('paste from the clipboard runs in the shell', async () => {
    await page.evaluate(() => (globalThis as unknown as Win).navigator.clipboard.writeText('echo pasted-$((5*5))'));
    await page.getByRole('button', { name: 'Paste' }).click();
    // The clipboard is read asynchronously: Enter goes once the pasted text is on the prompt line, as
    // a person presses it once they see it (before that it would reach the shell first; seen in CI).
    await waitLine(/\$ echo pasted-\$\(\(5\*5\)\)$/, 'the pasted text on the prompt line');
    await page.keyboard.press('Enter');
    await waitLine(/^pasted-25$/, 'the pasted command');
  });

  test('at phone width the extra keys send Ctrl+C and arrows', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const keys = page.getByRole('toolbar', { name: 'Extra keys' });
    await keys.waitFor({ state: 'visible' });
    await run('echo ab$((1+2))');
    await waitLine(/^ab3$/, 'ab3');
    await keys.getByRole('button', { name: 'Up' }).click();
    await page.keyboard.press('Enter');
    await waitLine(/^ab3$/, 'ab3 again (Up recalled it)', 2);
    await run('sleep 600; echo not-interrupted');
    await keys.getByRole('button', { name: 'Ctrl' }).click();
    assert.equal(await keys.getByRole('button', { name: 'Ctrl' }).getAttribute('aria-pressed'), 'true');
    await page.keyboard.type('c');
    await run('echo after-$((4*4))');
    await waitLine(/^after-16$/, 'the prompt back after Ctrl+C');
    assert.ok(!(await lines()).includes('not-interrupted'));
    const shot = await alice.screenshot(page, 'terminal-phone');
    if (SHOTS) await copyFile(shot, `${SHOTS}/terminal-phone.png`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('a network cut shows the reconnect and comes back with a new shell', async () => {
    assert.ok(proxy.cut() > 0, 'connections were open');
    await waitState('reconnecting');
    assert.match(await page.getByTestId('terminal-status').innerText(), /Disconnected .*reconnecting/);
    await waitState('open');
    await waitLine(/\[new shell\]/, 'the new-shell marker');
    await run('echo back-$((6*7))');
    await waitLine(/^back-42$/, 'the new shell answering');
  });

  test("another user's task: bob's browser is refused (no upgrade, 404 on the plain GET)", async () => {
    const bobPage = await signIn(bob, { id: 702, username: 'bob' });
    const outcome = await bobPage.evaluate(
      (id) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(`wss://${(globalThis as unknown as Win).location.host}/api/v1/tasks/${id}/terminal`);
          ws.onopen = () => resolve('opened');
          ws.onclose = (e) => resolve(`closed ${e.code}`);
        }),
      task.id,
    );
    assert.equal(outcome, 'closed 1006');
    const status = await bobPage.evaluate((id) => fetch(`/api/v1/tasks/${id}/terminal`).then((r) => r.status), task.id);
    assert.equal(status, 404);
    // The task page itself: not his to see, so no terminal either.
    await bobPage.goto(`${ORIGIN}/task/@${task.id}`);
    await bobPage.getByTestId('task-not-found').waitFor({ timeout: WAIT });
    assert.equal(await bobPage.getByRole('tab', { name: 'Terminal' }).count(), 0);
  });

  test('a stopped task closes the terminal, which says so and does not reconnect', async () => {
    const stop = await env.api('POST', `/api/v1/tasks/${task.id}/stop`, undefined, as());
    assert.equal(stop.status, 200, stop.body);
    await page.waitForSelector('[data-testid="terminal"][data-state="closed"][data-end="task_ended"]', { timeout: 60_000 });
    assert.match(await page.getByTestId('terminal-status').innerText(), /task stopped/);
    assert.deepEqual(alice.pageErrors(page).filter(refusedByPolicy), []);
  });
});

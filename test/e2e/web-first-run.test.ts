// A newcomer's first screens in real Chromium against the real daemon: a root with no repository
// says where it looked (the resolved root), a repository added afterwards appears with Rescan
// (composer and Settings), and the empty task list says where the new-task form is at desktop
// and phone width.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { makeOriginAndClone } from '../helpers/task-env.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';

const WAIT = 30_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

describe('web UI: first run', { timeout: 120_000 }, () => {
  let dir: TempDir;
  let root: string;
  let d: TestDaemon;
  let browser: TestBrowser;
  let page: Page;

  before(async () => {
    dir = await tempDir('caic-first-run-');
    root = join(dir.path, 'root');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(root);
    d = await startTestDaemon(`[core]\nroot = "${root}"\n[server]\nallow_origins = ["local"]\n`, { dir });
    browser = await launchBrowser();
    page = await browser.newPage(DESKTOP);
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await d?.[Symbol.asyncDispose]();
    await dir?.[Symbol.asyncDispose]();
  });

  test('the empty task list says where the new-task form is, at desktop and phone width', async () => {
    await page.goto(d.url);
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
    const empty = page.getByTestId('empty-list');
    // innerText leaves out what CSS hides: the words a person sees at this width.
    assert.match(await empty.innerText(), /form on the right/);
    assert.doesNotMatch(await empty.innerText(), /above/);
    await page.setViewportSize(PHONE);
    assert.match(await empty.innerText(), /form above/);
    assert.doesNotMatch(await empty.innerText(), /on the right/);
    await page.setViewportSize(DESKTOP);
    await page.goto(`${d.url}/settings`);
    assert.match(await empty.innerText(), /\+ New task/, 'beside another page the form is one click away');
  });

  test('no repository: the composer names the resolved root, and Rescan finds one added since', async () => {
    await page.goto(d.url);
    const note = page.getByTestId('no-repos');
    await note.waitFor({ timeout: WAIT });
    assert.ok((await note.innerText()).includes(root), 'the empty state shows the directory that was searched');
    assert.doesNotMatch(await note.innerText(), /current directory/);
    await browser.screenshot(page, 'first-run-desktop');
    await page.setViewportSize(PHONE);
    await browser.screenshot(page, 'first-run-phone');
    await page.setViewportSize(DESKTOP);

    await makeOriginAndClone(join(dir.path, 'fresh-src'), root, 'fresh', 2);
    await note.getByRole('button', { name: 'Rescan' }).click();
    await note.waitFor({ state: 'detached', timeout: WAIT });
    assert.equal(await page.getByLabel('Repository', { exact: true }).inputValue(), 'fresh');
  });

  test('Settings shows the root and rescans on demand', async () => {
    await makeOriginAndClone(join(dir.path, 'second-src'), root, 'second', 2);
    await page.getByRole('link', { name: 'Settings' }).click();
    const row = page.getByTestId('repo-root');
    await row.waitFor();
    assert.ok((await row.innerText()).includes(root));
    await row.getByRole('button', { name: 'Rescan' }).click();
    await row.getByText('Rescanned: 2 repositories.').waitFor({ timeout: WAIT });
    assert.match(await row.innerText(), /2 found/);
    await browser.screenshot(page, 'settings-desktop');
    await page.setViewportSize(PHONE);
    await browser.screenshot(page, 'settings-phone');
    await page.setViewportSize(DESKTOP);
    assert.deepEqual(browser.pageErrors(page), [], 'no console errors or page errors');
  });
});

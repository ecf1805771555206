// Secrets in real Chromium: Settings → Secrets stores and lists names (never values), the composer
// gives a task a secret, and what its agent prints shows masked in the task view.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { maskOf } from '../../src/tasks/redact.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

const WAIT = 60_000;
const SECRET = 'npm_Tok3nFromTheVault9z';

describe('web UI: secrets', { timeout: 240_000 }, () => {
  let env: TaskEnv;
  let browser: TestBrowser;
  let page: Page;
  before(async () => {
    env = await taskEnv({ files: 2 });
    browser = await launchBrowser();
    page = await browser.newPage({ width: 1280, height: 800 });
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  test('store in Settings, pick in the composer, see it masked in the transcript', async () => {
    await page.goto(`${env.d.url}/settings`);
    const panel = page.getByTestId('secrets-settings');
    await panel.waitFor();
    await panel.getByLabel('Secret name').fill('npm_token');
    await panel.getByLabel('Secret value').fill(SECRET);
    await panel.getByRole('button', { name: 'Store' }).click();
    await panel.getByRole('status').filter({ hasText: 'NPM_TOKEN stored.' }).waitFor({ timeout: WAIT });
    await panel.getByRole('list', { name: 'Your secrets' }).getByText('NPM_TOKEN').waitFor();
    assert.equal(await panel.getByLabel('Secret value').inputValue(), '', 'the value left the form');
    assert.ok(!(await page.content()).includes(SECRET), 'the value is nowhere in the page');

    await page.goto(env.d.url);
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
    await page.getByLabel('Agent', { exact: true }).selectOption('fake');
    await page.getByLabel('Prompt', { exact: true }).fill('FAKE_PRINT_ENV NPM_TOKEN');
    await page.locator('details.secret-pick summary').click();
    await page.getByRole('group', { name: 'Secrets for this task' }).getByLabel('NPM_TOKEN').check();
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.waitForURL(/\/task\/@[0-9a-z]+\+/, { timeout: WAIT });
    await page.waitForSelector('[data-testid="task-view"][data-state="waiting"]', { timeout: WAIT });
    const transcript = page.getByTestId('transcript');
    await transcript.getByText(`The value of NPM_TOKEN is ${maskOf(SECRET)}.`).waitFor({ timeout: WAIT });
    assert.ok(!(await page.content()).includes(SECRET), 'the value is nowhere in the task page');
    const id = /@([0-9a-z]+)\+/.exec(page.url())![1]!;
    const env2 = await env.execIn(id, 'cat /home/user/.env', 'user');
    assert.ok(env2.output.includes(SECRET), 'the agent had the value');
  });
});

// Pull requests in the web UI, in real Chromium against the real daemon, Docker, the fake agent and
// the forge stand-in: Create PR in the task view, the PR badge with its CI state (task view and task
// list), the CI card in the transcript, and the forge preferences in Settings.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Preferences } from '../../src/api/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startForgeStandin, type ForgeStandin } from '../helpers/forge-standin.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

const WAIT = 60_000;
const TOKEN = 'ghp_standinToken0000000000000000000002';

describe('web UI: pull requests and CI', { timeout: 300_000 }, () => {
  let forge: ForgeStandin;
  let env: TaskEnv;
  let browser: TestBrowser;
  let page: Page;
  const until = async (what: string, check: () => Promise<boolean>, ms = WAIT) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    forge = await startForgeStandin();
    forge.addToken(TOKEN, 'alice');
    env = await taskEnv({
      files: 3,
      extraConfig: `[github]\nurl = "${forge.url}"\napi_url = "${forge.githubApi}"\n[github.pat]\ntoken = "${TOKEN}"\n`,
      daemon: { forge: { watch: { pendingMs: 100, idleMaxMs: 200 }, repoCIMs: 500 } },
    });
    const clone = new URL(await forge.createRepo('acme', 'proj', { from: env.origin }));
    clone.username = 'x-access-token';
    clone.password = TOKEN;
    // Not execFileSync: the stand-in answers from this process.
    await promisify(execFile)('git', ['remote', 'set-url', 'origin', clone.toString()], { cwd: join(env.root, 'proj') });
    assert.equal((await env.api('POST', '/api/v1/server/repos/scan')).status, 200);
    forge.setPermission('acme/proj', 'alice', 'write');
    browser = await launchBrowser();
    page = await browser.newPage({ width: 1280, height: 800 });
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
    await forge?.close();
  });

  test('Create PR opens the pull request; the badge follows its CI in the task view and the list; a failure is a CI card', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_CI badge' } });
    const ready = await env.waitState(task.id, 'waiting');
    await page.goto(env.d.url);
    await page.locator(`[data-testid="task-item"][data-id="${task.id}"] a`).first().click();
    await page.waitForSelector('[data-testid="transcript"][data-ready="true"]', { timeout: WAIT });
    await page.getByTestId('create-pr').click();
    const link = page.getByTestId('sync-pr').getByRole('link');
    await link.waitFor({ timeout: WAIT });
    const pr = forge.repo('acme/proj').pulls[0]!;
    assert.equal(await link.getAttribute('href'), `${forge.url}/acme/proj/pull/${pr.number}`);
    await page.getByRole('button', { name: 'Close' }).click();

    const badge = page.locator('[data-testid="task-view"] [data-testid="pr-badge"]');
    await badge.waitFor({ timeout: WAIT });
    assert.equal(await badge.getAttribute('href'), `${forge.url}/acme/proj/pull/${pr.number}`);
    assert.match(await badge.innerText(), new RegExp(`PR #${pr.number}`));

    const head = await forge.head('acme/proj', ready.repos[0]!.branch);
    forge.setCheckRuns('acme/proj', head, [{ name: 'lint', status: 'in_progress' }]);
    await until('the badge pending', async () => (await badge.getAttribute('data-ci')) === 'pending');
    forge.setCheckRuns('acme/proj', head, [{ name: 'lint', status: 'completed', conclusion: 'failure' }]);
    await until('the badge failed', async () => (await badge.getAttribute('data-ci')) === 'failure');
    const card = page.getByTestId('ci-card');
    await card.waitFor({ timeout: WAIT });
    assert.match(await card.innerText(), new RegExp(`CI failed on ${head.slice(0, 10)} for pull request #${pr.number}`));
    const row = page.locator(`[data-testid="task-item"][data-id="${task.id}"] [data-testid="pr-badge"]`);
    await until('the list row badge failed', async () => (await row.count()) > 0 && (await row.getAttribute('data-ci')) === 'failure');
  });

  test('Settings: the forge preferences are saved, and each repository shows its default branch CI', async () => {
    forge.setCheckRuns('acme/proj', await forge.head('acme/proj', 'main'), [{ name: 'build', status: 'completed', conclusion: 'success' }]);
    await page.getByRole('link', { name: 'Settings' }).click();
    const toggle = page.getByTestId('pref-autoMergeOnGreen');
    // Checked once the server has it (the box shows the saved preferences).
    await toggle.click();
    await until('the box checked', () => toggle.isChecked());
    await until('the preference saved', async () => (await env.api('GET', '/api/v1/server/preferences')).json<Preferences>().settings.autoMergeOnGreen === true);
    assert.equal(await page.getByTestId('pref-autoFixOnCIFailure').isChecked(), false);
    // The list of repositories comes when the page loads; the background refresh fills the CI.
    await until('the default branch CI', async () => {
      await page.reload();
      const dot = page.getByTestId('repo-ci-proj');
      return (await dot.count()) > 0 && (await dot.getAttribute('data-ci')) === 'success';
    });
  });

  test('the composer starts a task from an issue (its text is the prompt) and from an existing branch', async () => {
    const n = forge.addIssue('acme/proj', { title: 'Login button misaligned', body: 'FAKE_CI on narrow screens', author: 'bob' });
    await page.goto(env.d.url);
    await page.getByRole('link', { name: '+ New task' }).click();
    const composer = page.getByTestId('composer');
    await composer.getByRole('combobox', { name: 'Repository' }).fill('proj');
    await composer.getByTestId('start-from').selectOption('issue');
    await composer.getByTestId('issue').fill(`#${n}`);
    await composer.getByRole('button', { name: 'Start task' }).click();
    await page.waitForURL(/\/tasks?\//, { timeout: WAIT });
    await until('the task from the issue', async () => (await env.api('GET', '/api/v1/tasks')).json<{ initialPrompt: string }[]>().some((t) => t.initialPrompt.includes('Login button misaligned')));

    // A branch on the forge to continue (pushed from the host's clone; not execFileSync: the stand-in answers from this process).
    await promisify(execFile)('git', ['push', '-q', 'origin', 'HEAD:refs/heads/feature-ui'], { cwd: join(env.root, 'proj') });
    await page.getByRole('link', { name: '+ New task' }).click();
    await composer.getByRole('combobox', { name: 'Repository' }).fill('proj');
    await composer.getByTestId('start-from').selectOption('branch');
    await composer.getByTestId('continue-branch').fill('feature-ui');
    await composer.getByRole('textbox', { name: 'Prompt' }).fill('FAKE_CI continue it');
    await composer.getByRole('button', { name: 'Start task' }).click();
    await until('the task on the branch', async () => (await env.api('GET', '/api/v1/tasks')).json<{ repos: { branch: string }[] }[]>().some((t) => t.repos[0]?.branch === 'feature-ui'));
  });
});

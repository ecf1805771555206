// The web UI end to end in real Chromium against the real daemon, real Docker and the fake agent:
// composer → streamed text → ask card → input → diff → plan → a cut connection mid-stream →
// stop → purge, with screenshots at desktop and phone sizes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Task } from '../../src/api/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

const WAIT = 60_000;

describe('web UI', { timeout: 300_000 }, () => {
  let env: TaskEnv;
  let proxy: TcpProxy;
  let browser: TestBrowser;
  let page: Page;
  let taskId = '';

  const task = async (): Promise<Task> => (await env.api('GET', `/api/v1/tasks/${taskId}`)).json<Task>();
  const waitState = (state: string) => page.waitForSelector(`[data-testid="task-view"][data-state="${state}"]`, { timeout: WAIT });
  const transcript = () => page.locator('[data-testid="transcript"]');
  /** Polls until `check` holds (browser state read through locators, no DOM types here). */
  const until = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + WAIT;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  /** The transcript has applied every event the server has (ids match). */
  const caughtUp = () => until('the transcript to catch up', async () => Number(await transcript().getAttribute('data-last-id')) === (await task()).lastEventId);
  const send = async (text: string) => {
    const box = page.getByLabel('Message to the agent', { exact: true });
    await box.fill(text);
    await box.press('Enter');
  };

  before(async () => {
    env = await taskEnv();
    proxy = await startTcpProxy(new URL(env.d.url));
    browser = await launchBrowser();
    page = await browser.newPage({ width: 1280, height: 800 });
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await proxy?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  test('a newcomer starts a task from the composer and sees its text stream in', async () => {
    await page.goto(proxy.url);
    await page.waitForSelector('[data-testid="composer"]');
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
    await page.getByLabel('Agent', { exact: true }).selectOption('fake');
    assert.equal(await page.getByLabel('Repository', { exact: true }).inputValue(), 'proj');
    assert.equal(await page.getByRole('checkbox', { name: 'sudo' }).count(), 1, 'the engine gives sudo: the toggle is offered');
    await page.getByLabel('Prompt', { exact: true }).fill('hello from the browser');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.waitForURL(/\/task\/@[0-9a-z]+\+hello-from-the-browser$/, { timeout: WAIT });
    taskId = /@([0-9a-z]+)\+/.exec(page.url())![1]!;
    await page.getByText('You said: hello from the browser').waitFor({ timeout: WAIT });
    await waitState('waiting');
    await page.locator('[data-testid="task-item"][data-state="waiting"]').waitFor();
    assert.match(await page.title(), /^\(1\) /, 'the title counts tasks waiting for the user');
  });

  test('an ask card takes the answer and the agent continues', async () => {
    await send('FAKE_ASK now');
    const card = page.getByRole('form', { name: 'Question from the agent' });
    await card.waitFor({ timeout: WAIT });
    await waitState('asking');
    await card.getByText('SQLite').click();
    await card.getByRole('button', { name: 'Send answer' }).click();
    await page.locator('.msg.user', { hasText: /^SQLite$/ }).waitFor({ timeout: WAIT });
    await page.getByText('You said: SQLite').waitFor({ timeout: WAIT });
    await waitState('waiting');
    await card.getByText('Answered').waitFor();
  });

  test('the demo edits show in the diff view', async () => {
    await send('FAKE_DEMO please');
    await page.getByText('Done: I added FAKE_NOTES.md').waitFor({ timeout: WAIT });
    await page.getByRole('complementary', { name: 'Todo list' }).waitFor();
    await waitState('waiting');
    await browser.screenshot(page, 'task-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    // Taller cards at phone width move the content: the view still follows the bottom.
    const fromBottom = () => transcript().evaluate((el: { scrollHeight: number; scrollTop: number; clientHeight: number }) => el.scrollHeight - el.scrollTop - el.clientHeight);
    await until('the transcript to follow the bottom at phone width', async () => (await fromBottom()) < 48 && (await page.locator('.jump').count()) === 0);
    await browser.screenshot(page, 'task-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('link', { name: /^Diff \(2\)/ }).waitFor({ timeout: WAIT });
    await page.getByRole('link', { name: /^Diff/ }).click();
    const view = page.getByTestId('diff-view');
    await view.waitFor({ timeout: WAIT });
    await view.getByText('Written by the fake agent.').waitFor();
    assert.equal(await page.getByTestId('diff-file').count(), 2);
    await browser.screenshot(page, 'diff-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await browser.screenshot(page, 'diff-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid="task-view"]');
  });

  test('a plan card executes the plan', async () => {
    await send('FAKE_PLAN');
    await waitState('has_plan');
    const plan = page.getByLabel('Plan', { exact: true });
    await plan.getByText('Add a note file.').waitFor();
    await plan.getByRole('button', { name: 'Execute plan' }).click();
    await page.getByText(/You said: Execute this plan/).waitFor({ timeout: WAIT });
    await waitState('waiting');
  });

  test('a connection cut mid-stream resumes with every event exactly once', async () => {
    await caughtUp();
    await send('FAKE_LONG 300 60');
    const streaming = page.locator('.msg.agent.streaming');
    await until('40 streamed pieces', async () => / 40 /.test((await streaming.count()) ? ((await streaming.textContent()) ?? '') : ''));
    const mark = browser.pageErrors(page).length;
    assert.ok(proxy.cut() > 0, 'the browser had connections open');
    await page.getByTestId('reconnecting').waitFor({ timeout: WAIT });
    await page.getByTestId('reconnecting').waitFor({ state: 'detached', timeout: WAIT });
    await page.getByText('Streamed 300 events.').or(page.locator('.result').last()).waitFor({ timeout: WAIT });
    await waitState('waiting');
    await caughtUp();
    const t = transcript();
    assert.equal(await t.getAttribute('data-gaps'), '0', 'no live event was lost');
    assert.equal(Number(await t.getAttribute('data-last-id')), (await task()).lastEventId);
    const text = await page.locator('.msg.agent').last().textContent();
    const numbers = (text ?? '').trim().split(/\s+/);
    assert.equal(numbers.length, 300, 'the streamed message holds each piece once');
    assert.deepEqual(numbers, Array.from({ length: 300 }, (_, i) => String(i)));
    // A request in flight when the network died (the previews poll, every 3 s) fails in the
    // browser's console, as it would on a phone; the app asks again. Nothing else may show.
    browser.forgetErrors(page, mark, /Failed to load resource: net::ERR_(EMPTY_RESPONSE|CONNECTION_RESET|CONNECTION_CLOSED)\b/);
    assert.deepEqual(browser.pageErrors(page), [], 'no other console errors or page errors');
  });

  test('stop and purge ask for confirmation and reach their states', async () => {
    await page.getByRole('toolbar', { name: 'Task actions' }).getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('dialog', { name: 'Stop this task?' }).getByRole('button', { name: 'Stop' }).click();
    await waitState('stopped');
    await page.getByRole('toolbar', { name: 'Task actions' }).getByRole('button', { name: 'Purge' }).click();
    await page.getByRole('dialog', { name: 'Purge this task?' }).getByRole('button', { name: 'Purge' }).click();
    await waitState('purged');
    assert.equal((await task()).state, 'purged');
    await page.goto(proxy.url);
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
    await browser.screenshot(page, 'home-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await browser.screenshot(page, 'home-phone');
    assert.deepEqual(browser.pageErrors(page), [], 'no console errors or page errors');
  });
});

// Review comments and "edit and restart from here" in real Chromium against the real daemon, real
// Docker and the fake agent (which edits real files of the task branch): lines selected in the diff
// (unified and split), commented, kept across a reload, edited, sent; the agent receives them as
// one structured input (it logs every prompt) and the transcript shows a review card.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { renderReview, type ReviewComment, type Task } from '../../src/api/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

const WAIT = 60_000;

describe('web UI: review comments and restart from a message', { timeout: 300_000 }, () => {
  let env: TaskEnv;
  let browser: TestBrowser;
  let page: Page;
  let task: Task;

  const getTask = async (): Promise<Task> => (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>();
  const until = async (what: string, check: () => Promise<boolean>, ms = WAIT) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const prompts = async (): Promise<string[]> => {
    const r = await env.execIn(task.id, 'cat /home/user/.fake-agent/prompts.jsonl 2>/dev/null || true', 'user');
    return r.output.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text);
  };
  const tray = () => page.getByTestId('review-tray');
  const file = (name: string) => page.getByTestId('diff-file').filter({ hasText: name });
  const lineCell = (name: string, side: 'old' | 'new', line: number) => file(name).locator(`td[data-side="${side}"][data-line="${line}"]`).first();
  const comments = async () => (await env.api('GET', `/api/v1/tasks/${task.id}/review`)).json<{ comments: ReviewComment[] }>().comments;

  before(async () => {
    env = await taskEnv({ files: 3 });
    browser = await launchBrowser();
    page = await browser.newPage({ width: 1280, height: 800 });
    task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_DEMO please' } });
    await env.waitState(task.id, 'waiting', { timeoutMs: 90_000 });
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  test('select lines in unified and split views, comment, reload, edit, send: the agent gets one structured input', async () => {
    await page.goto(`${env.d.url}/task/@${task.id}+t/diff`);
    await page.getByTestId('diff-view').waitFor({ timeout: WAIT });
    await page.getByRole('button', { name: 'Unified' }).click();
    // Unified: lines 1-3 of the new file, by a click and a shift-click on their numbers.
    await lineCell('FAKE_NOTES.md', 'new', 1).click();
    await lineCell('FAKE_NOTES.md', 'new', 3).click({ modifiers: ['Shift'] });
    const form = page.getByRole('form', { name: /Comment on FAKE_NOTES\.md, lines 1–3 \(new\)/ });
    await form.waitFor();
    assert.equal(await form.locator('pre').innerText(), '# Notes\n\nWritten by the fake agent.');
    await form.getByLabel('Comment', { exact: true }).fill('Make this a proper heading and say who wrote it');
    await form.getByRole('button', { name: 'Add comment' }).click();
    await until('the first comment in the tray', async () => (await tray().getByTestId('review-comment').count()) === 1);
    assert.equal(await form.count(), 0, 'the form closed');

    // Split: the README line the agent added, on the right (new) side.
    await page.getByRole('button', { name: 'Split' }).click();
    await until('the split layout', async () => (await page.locator('table.diff-split').count()) > 0);
    await lineCell('README.md', 'new', 3).click();
    const form2 = page.getByRole('form', { name: /Comment on README\.md, line 3 \(new\)/ });
    await form2.getByLabel('Comment', { exact: true }).fill('Drop this line');
    await form2.getByRole('button', { name: 'Add comment' }).click();
    await until('two comments in the tray', async () => (await tray().getByTestId('review-comment').count()) === 2);

    // A reload finds them again (kept by the server).
    await page.reload();
    await until('the tray after a reload', async () => (await tray().getByTestId('review-comment').count()) === 2, WAIT);
    assert.match(await tray().innerText(), /FAKE_NOTES\.md · lines 1–3[\s\S]*proper heading[\s\S]*README\.md · line 3[\s\S]*Drop this line/);

    // Edit the first one.
    const first = tray().getByTestId('review-comment').first();
    await first.getByRole('button', { name: 'Edit' }).click();
    await first.getByLabel('Edit the comment').fill('Make it a level-2 heading');
    await first.getByRole('button', { name: 'Save' }).click();
    await until('the edit saved', async () => (await comments())[0]?.body === 'Make it a level-2 heading');
    await until('the edit shown', async () => (await first.innerText()).includes('Make it a level-2 heading'));
    const sent = await comments();
    assert.deepEqual(
      sent.map((c) => [c.file, c.side, c.startLine, c.endLine, c.quote]),
      [
        ['FAKE_NOTES.md', 'new', 1, 3, '# Notes\n\nWritten by the fake agent.'],
        ['README.md', 'new', 3, 3, 'Edited by the fake agent.'],
      ],
    );

    await tray().getByRole('button', { name: 'Send review' }).click();
    await until('the tray to say sent', async () => /Sent 2 comments to the agent/.test(await tray().innerText()));
    const expected = renderReview(sent);
    await until('the agent to receive the review', async () => (await prompts()).includes(expected));
    assert.match(expected, /## 1\. FAKE_NOTES\.md, lines 1-3 \(new version\)\n```\n# Notes\n\nWritten by the fake agent\.\n```\nMake it a level-2 heading/);
    assert.match(expected, /## 2\. README\.md, line 3 \(new version\)\n```\nEdited by the fake agent\.\n```\nDrop this line/);
    assert.equal((await comments()).length, 0, 'the tray is empty on the server');
    await until('the turn on the review', async () => (await getTask()).state === 'waiting' && (await getTask()).numTurns === 2);

    // The transcript shows the review as a card, not as the raw text the agent got.
    await page.goto(`${env.d.url}/task/@${task.id}+t`);
    await page.waitForSelector('[data-testid="transcript"][data-ready="true"]', { timeout: WAIT });
    const card = page.getByTestId('review-card');
    await card.waitFor({ timeout: WAIT });
    assert.match(await card.innerText(), /Review · 2 comments[\s\S]*FAKE_NOTES\.md · lines 1–3[\s\S]*level-2 heading[\s\S]*README\.md · line 3[\s\S]*Drop this line/i);
    assert.equal(await page.getByTestId('user-message').filter({ hasText: 'Review of your changes' }).count(), 0, 'the raw review text is not shown as a message');
    assert.deepEqual(browser.pageErrors(page), []);
  });

  test('edit and restart from the first message: the new session starts with the edited message', async () => {
    // The transcript is virtualized: the first message is in the DOM once it is scrolled to.
    await page.getByTestId('transcript').evaluate((el: { scrollTop: number; dispatchEvent(e: Event): boolean }) => {
      el.scrollTop = 0;
      el.dispatchEvent(new Event('scroll'));
    });
    const msg = page.getByTestId('user-message').filter({ hasText: 'FAKE_DEMO please' });
    await msg.waitFor({ timeout: WAIT });
    await msg.getByRole('button', { name: 'Edit and restart from here' }).click();
    const box = msg.getByLabel('Edited message');
    assert.equal(await box.inputValue(), 'FAKE_DEMO please');
    await box.fill('FAKE_COMMIT restarted');
    await msg.getByRole('button', { name: 'Restart from here' }).click();
    await until('the restarted turn', async () => (await getTask()).result === 'Committed restarted.txt.' && (await getTask()).state === 'waiting');
    const got = await prompts();
    // The first message: nothing came before it, so the edited message is the whole first input.
    assert.equal(got[got.length - 1], 'FAKE_COMMIT restarted');
    // Back at the base: the demo's files went into the stash, the new commit sits on the base.
    const log = (await env.execIn(task.id, 'cd /home/user/src/proj && git log --format=%s -2 && ls && git stash list', 'user')).output;
    assert.match(log, /^restarted\ninitial\n/);
    assert.doesNotMatch(log, /FAKE_NOTES\.md/);
    assert.match(log, /stash@\{0\}/);
    // The reader was up at the first message: the new session's message is below.
    await page.getByRole('button', { name: '↓ Latest' }).click();
    await page.getByTestId('user-message').filter({ hasText: 'FAKE_COMMIT restarted' }).waitFor({ timeout: WAIT });
    assert.deepEqual(browser.pageErrors(page), []);
  });
});

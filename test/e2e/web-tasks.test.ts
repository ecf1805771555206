// The task pages in real Chromium against the real daemon, real Docker and the fake agent, for
// what was seen to go wrong from outside: the start card, choices remembered without a reload,
// streamed text shown twice, question cards (no running tool row, answers kept, scrolled into
// view), todos after Clear context, sync lines, a purged task's diff, tasks without a repository,
// a failed task's error, unknown task addresses; and agent readiness in the composer, renaming,
// interrupting and usage in Settings.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { HarnessInfo, Task } from '../../src/api/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { engineDocker } from '../helpers/engine.js';
import { makeOriginAndClone, taskEnv, type TaskEnv } from '../helpers/task-env.js';

const WAIT = 60_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** What the tests read of a scrolling element (no DOM types in the test build). */
interface Scroller {
  scrollTop: number;
  scrollHeight: number;
  dispatchEvent(e: Event): boolean;
}

describe('web UI: task pages', { timeout: 400_000 }, () => {
  let env: TaskEnv;
  let browser: TestBrowser;
  let page: Page;
  let taskId = '';

  const getTask = async (id = taskId): Promise<Task> => (await env.api('GET', `/api/v1/tasks/${id}`)).json<Task>();
  const waitState = (state: string) => page.waitForSelector(`[data-testid="task-view"][data-state="${state}"]`, { timeout: WAIT });
  const transcript = () => page.getByTestId('transcript');
  const toolbar = () => page.getByRole('toolbar', { name: 'Task actions' });
  /** Polls until `check` holds (browser state read through locators), failing with `what` at the deadline. */
  const until = async (what: string, check: () => Promise<boolean>, ms = WAIT) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** The transcript has applied every event the server has. */
  const caughtUp = () => until('the transcript to catch up', async () => Number(await transcript().getAttribute('data-last-id')) === (await getTask()).lastEventId);
  const send = async (text: string) => {
    const box = page.getByLabel('Message to the agent', { exact: true });
    await box.fill(text);
    await box.press('Enter');
  };
  /** Sends a message and waits for the agent's turn on it to end (one more turn, task waiting). */
  const turn = async (text: string) => {
    const before = (await getTask()).numTurns;
    await send(text);
    await until(`the turn on ${text}`, async () => {
      const t = await getTask();
      return t.numTurns > before && t.state === 'waiting';
    });
    await caughtUp();
  };
  /** Like turn(), for task `id` and through the API. */
  const turn2 = async (id: string, text: string) => {
    const before = (await getTask(id)).numTurns;
    assert.equal((await env.api('POST', `/api/v1/tasks/${id}/input`, { prompt: { text } })).status, 200);
    await until(`the turn on ${text}`, async () => {
      const t = await getTask(id);
      return t.numTurns > before && t.state === 'waiting';
    });
  };
  const scrollTranscript = (to: 'top' | 'bottom' | number) =>
    transcript().evaluate((el: Scroller, where) => {
      el.scrollTop = where === 'top' ? 0 : where === 'bottom' ? el.scrollHeight : el.scrollTop + where;
      el.dispatchEvent(new Event('scroll'));
    }, to);
  /** Whether the element's box overlaps the transcript's visible box. */
  const inTranscriptView = async (loc: ReturnType<Page['locator']>): Promise<boolean> => {
    if ((await loc.count()) === 0) return false;
    const [a, b] = [await loc.first().boundingBox(), await transcript().boundingBox()];
    return !!a && !!b && a.y < b.y + b.height && a.y + a.height > b.y;
  };
  const openTask = async (id: string) => {
    await page.locator(`[data-testid="task-item"][data-id="${id}"] a`).first().click();
    await page.waitForSelector(`[data-testid="task-view"]`);
    await page.waitForSelector('[data-testid="transcript"][data-ready="true"]', { timeout: WAIT });
  };

  before(async () => {
    env = await taskEnv({ files: 3 });
    // A second repository, so that which one the composer offers first tells something.
    await makeOriginAndClone(join(env.dir.path, 'zeta-src'), env.root, 'zeta', 2);
    assert.equal((await env.api('POST', '/api/v1/server/repos/scan')).status, 200);
    browser = await launchBrowser();
    page = await browser.newPage(DESKTOP);
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  test('the start card turns to Started, and the next new task starts from the same repository and agent without a reload', async () => {
    await page.goto(env.d.url);
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
    const repoBox = page.getByLabel('Repository', { exact: true });
    await until('a default repository', async () => (await repoBox.inputValue()) !== '');
    // The one not offered first: a stale memory would offer the first one again.
    const other = (await repoBox.inputValue()) === 'proj' ? 'zeta' : 'proj';
    await repoBox.fill(other);
    await page.getByLabel('Agent', { exact: true }).selectOption('fake');
    await page.getByLabel('Prompt', { exact: true }).fill('hello from the browser');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.waitForURL(/\/task\/@[0-9a-z]+\+hello-from-the-browser$/, { timeout: WAIT });
    taskId = /@([0-9a-z]+)\+/.exec(page.url())![1]!;
    await waitState('waiting');
    const card = page.getByTestId('provision');
    await until('the start card to end', async () => (await card.getAttribute('data-status')) === 'done');
    assert.match(await card.innerText(), /^Started/);

    await page.getByRole('link', { name: '+ New task' }).click();
    await page.waitForSelector('[data-testid="composer"]');
    await until('the remembered repository', async () => (await repoBox.inputValue()) === other);
    assert.equal(await page.getByLabel('Agent', { exact: true }).inputValue(), 'fake');
    await openTask(taskId);
  });

  test('a message sent while text streams shows the streamed text once', async () => {
    await send('FAKE_LONG 200 40');
    const streaming = page.locator('.msg.agent.streaming');
    await until('40 streamed pieces', async () => / 40 /.test((await streaming.count()) ? ((await streaming.textContent()) ?? '') : ''));
    await send('and one more thing');
    await page.getByText('You said: and one more thing').waitFor({ timeout: WAIT });
    await waitState('waiting');
    await caughtUp();
    await scrollTranscript('bottom');
    const streamed = page.locator('.msg.agent', { hasText: /^\s*0 1 2 3 / });
    assert.equal(await streamed.count(), 1, 'one message holds the streamed text');
    assert.deepEqual((await streamed.textContent())!.trim().split(/\s+/), Array.from({ length: 200 }, (_, i) => String(i)));
    assert.equal(await transcript().getAttribute('data-gaps'), '0');
  });

  test('a question is one card, with no tool row left running, and keeps its answer scrolled away and back or reloaded', async () => {
    await send('FAKE_ASK now');
    await waitState('asking');
    const card = page.getByRole('form', { name: 'Question from the agent' }).last();
    await card.waitFor({ timeout: WAIT });
    assert.equal(await page.locator('.card.tool', { hasText: 'AskUserQuestion' }).count(), 0, 'no separate tool row for the question');
    await browser.screenshot(page, 'ask-desktop');
    await card.getByText('SQLite').click();
    await card.getByRole('button', { name: 'Send answer' }).click();
    await page.getByText('You said: SQLite').waitFor({ timeout: WAIT });
    await waitState('waiting');
    await card.getByText('Answered').waitFor();
    assert.equal(await page.locator('.card.tool .dot.running').count(), 0, 'nothing shows as still running');

    // Enough below the card that the virtual list drops it from the DOM at the bottom.
    await turn('FAKE_DEMO one');
    await turn('FAKE_DEMO two');
    const asks = page.getByRole('form', { name: 'Question from the agent' });
    const sqlite = asks.getByRole('radio', { name: /SQLite/ });
    const scrollBackToIt = async () => {
      await scrollTranscript('bottom');
      await until('the question card to leave the DOM', async () => (await asks.count()) === 0);
      await until('the question card to come back', async () => {
        if ((await asks.count()) > 0) return true;
        await scrollTranscript(-250);
        return false;
      });
    };
    await scrollBackToIt();
    assert.ok(await sqlite.isChecked(), 'the chosen answer is still selected after scrolling back');
    await page.reload();
    await page.waitForSelector('[data-testid="transcript"][data-ready="true"]', { timeout: WAIT });
    await scrollBackToIt();
    assert.ok(await sqlite.isChecked(), 'and after a reload');
  });

  test('a new question scrolls into view while the reader is far above', async () => {
    await scrollTranscript('top');
    await until('the top of the transcript', async () => (await transcript().evaluate((el: Scroller) => el.scrollTop)) === 0);
    assert.equal((await env.api('POST', `/api/v1/tasks/${taskId}/input`, { prompt: { text: 'FAKE_ASK again' } })).status, 200);
    await waitState('asking');
    const active = page.locator('form.ask.active');
    await until('the new question in view', () => inTranscriptView(active));
    await active.getByText('PostgreSQL').click();
    await active.getByRole('button', { name: 'Send answer' }).click();
    await waitState('waiting');
    await caughtUp();
  });

  test('Clear context empties the todo panel', async () => {
    const todos = page.getByRole('complementary', { name: 'Todo list' });
    await todos.waitFor({ timeout: WAIT });
    await toolbar().getByRole('button', { name: 'Clear context' }).click();
    await page.getByRole('dialog', { name: 'Clear the context?' }).getByRole('button', { name: 'Clear context' }).click();
    await scrollTranscript('bottom');
    await page.getByText('Context cleared').waitFor({ timeout: WAIT });
    await todos.waitFor({ state: 'detached', timeout: WAIT });
    await waitState('waiting');
  });

  test('a blocked sync says blocked; a forced one says synced; the purged task’s diff comes from the synced branch', async () => {
    // A secret appears in the working tree (as an agent might write one).
    const t = await getTask();
    const exec = await engineDocker().getContainer(t.container).exec({
      Cmd: ['sh', '-c', `printf 'aws_key = AKIAABCDEFGHIJKLMNOP\\n' > /home/user/src/${t.repos[0]!.name}/leak.txt`],
      User: 'user',
      // Podman attaches nothing (and refuses to start the exec) unless a stream is asked for.
      AttachStdout: true,
      AttachStderr: true,
    });
    await exec.start({ hijack: true, stdin: false }).then(
      (stream) => new Promise<void>((resolve) => (stream.on('end', resolve), stream.resume())),
    );
    await toolbar().getByRole('button', { name: 'Sync to branch' }).click();
    const dialog = page.getByRole('dialog', { name: 'Sync to branch' });
    await dialog.getByTestId('sync-blocked').waitFor({ timeout: WAIT });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await scrollTranscript('bottom');
    const branch = t.repos[0]!.branch;
    await page.getByText(`Sync to ${branch} blocked: 1 finding`).waitFor({ timeout: WAIT });
    assert.equal(await page.getByText(`Synced to ${branch}`).count(), 0, 'a blocked sync is not shown as synced');

    await toolbar().getByRole('button', { name: 'Sync to branch' }).click();
    await dialog.getByTestId('sync-blocked').waitFor({ timeout: WAIT });
    await dialog.getByText('push anyway').click();
    await dialog.getByRole('button', { name: 'Force push' }).click();
    await dialog.getByTestId('sync-ok').waitFor({ timeout: WAIT });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await scrollTranscript('bottom');
    await page.getByText(`Synced to ${branch} (forced past 1 finding)`).waitFor({ timeout: WAIT });

    await toolbar().getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('dialog', { name: 'Stop this task?' }).getByRole('button', { name: 'Stop' }).click();
    await waitState('stopped');
    await toolbar().getByRole('button', { name: 'Purge' }).click();
    await page.getByRole('dialog', { name: 'Purge this task?' }).getByRole('button', { name: 'Purge' }).click();
    await waitState('purged');
    await toolbar().getByRole('link', { name: /^Diff/ }).click();
    const view = page.getByTestId('diff-view');
    await view.waitFor({ timeout: WAIT });
    await view.getByText('Written by the fake agent.').waitFor();
    assert.ok((await page.getByTestId('diff-file').count()) >= 2, 'the notes and the leaked file');
    await page.getByText('the branch as last synced').waitFor();
  });

  test('a task without a repository offers neither Diff nor Sync; a purged one never synced offers no Diff', async () => {
    const res = await env.api('POST', '/api/v1/tasks', { repos: [], harness: 'fake', prompt: { text: 'no repository here' } });
    assert.equal(res.status, 200);
    const id = res.json<Task>().id;
    await openTask(id);
    await waitState('waiting');
    await toolbar().getByRole('button', { name: 'Stop' }).waitFor();
    assert.equal(await toolbar().getByRole('link', { name: /^Diff/ }).count(), 0);
    assert.equal(await toolbar().getByRole('button', { name: /Sync/ }).count(), 0);

    const withRepo = (await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_DEMO unsynced' } })).json<Task>().id;
    await until('the unsynced task to finish its turn', async () => (await getTask(withRepo)).state === 'waiting');
    assert.equal((await env.api('POST', `/api/v1/tasks/${withRepo}/purge`)).status, 200);
    await until('the unsynced task to be purged', async () => (await getTask(withRepo)).state === 'purged');
    const diff = await env.api('GET', `/api/v1/tasks/${withRepo}/diff`);
    assert.equal(diff.status, 409, 'nothing on the host holds its changes');
    assert.match(diff.json<{ error: { message: string } }>().error.message, /never synced/);
    await page.goto(`${env.d.url}/task/@${withRepo}+x`);
    await waitState('purged');
    await page.waitForSelector('[data-testid="transcript"][data-ready="true"]', { timeout: WAIT });
    assert.equal(await toolbar().getByRole('link', { name: /^Diff/ }).count(), 0);
  });

  test('a failed task shows its error once, and its start card failed', async () => {
    const res = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj', baseBranch: 'no-such-branch' }], harness: 'fake', prompt: { text: 'doomed' } });
    assert.equal(res.status, 200);
    const id = res.json<Task>().id;
    await until('the task to fail', async () => (await getTask(id)).state === 'failed');
    const error = (await getTask(id)).error;
    assert.ok(error, 'the task has an error');
    await page.goto(`${env.d.url}/task/@${id}+doomed`);
    await waitState('failed');
    await page.waitForSelector('[data-testid="transcript"][data-ready="true"]', { timeout: WAIT });
    await page.getByText(error).first().waitFor();
    assert.equal(await page.getByText(error).count(), 1, 'the error appears once');
    assert.equal(await page.getByTestId('provision').getAttribute('data-status'), 'failed');
    await browser.screenshot(page, 'failed-desktop');
    await page.setViewportSize(PHONE);
    await browser.screenshot(page, 'failed-phone');
    assert.equal(await page.getByText(error).count(), 1, 'once on a phone too');
    await page.setViewportSize(DESKTOP);

    // The server remembers the base branch it was given; the composer does not offer it again.
    await page.getByRole('link', { name: '+ New task' }).click();
    await page.getByLabel('Repository', { exact: true }).fill('proj');
    const base = page.getByLabel('Base branch', { exact: true });
    await until('the base branch to fall back to one that exists', async () => (await base.inputValue()) === 'main');
  });

  test('an unknown task address says not found instead of loading forever', async () => {
    for (const path of ['/task/@0123456789abcdefghij+gone', '/task/@0123456789abcdefghij+gone/diff', '/task/@abc']) {
      await page.goto(`${env.d.url}${path}`);
      await page.getByTestId('task-not-found').waitFor({ timeout: WAIT });
      assert.equal(await page.getByText('Loading the task…').count(), 0, path);
    }
  });

  test('the composer offers agents that can run and says why the others cannot, and how to fix it', async () => {
    const harnesses = (await env.api('GET', '/api/v1/server/harnesses')).json<HarnessInfo[]>();
    const off = harnesses.filter((h) => !h.ready);
    assert.ok(off.length > 0, 'the test image lacks some agent CLIs (Claude Code is only in caic-agent-claude)');
    assert.ok(off.every((h) => h.reason && h.fix), 'each agent that cannot run says why and how to fix it');
    await page.goto(env.d.url);
    await page.waitForSelector('[data-testid="composer"]');
    const select = page.getByLabel('Agent', { exact: true });
    await until('an agent chosen', async () => (await select.inputValue()) !== '');
    const chosen = await select.inputValue();
    assert.ok(harnesses.find((h) => h.name === chosen)?.ready, 'the composer starts with an agent that can run');
    const list = page.getByTestId('agents-off');
    // Only the fake agent runs with the test image: the list is open from the start.
    assert.notEqual(await list.getAttribute('open'), null, 'the reasons are shown without a click when no real agent can run');
    for (const h of off) {
      assert.ok(await select.locator(`option[value="${h.name}"]`).isDisabled(), `${h.name} is not offered`);
      const text = await list.innerText();
      assert.ok(text.includes(h.reason) && text.includes(h.fix), `${h.name}: reason and fix shown`);
    }
    await browser.screenshot(page, 'composer-desktop');
    await page.setViewportSize(PHONE);
    await browser.screenshot(page, 'composer-phone');
    await page.setViewportSize(DESKTOP);
  });

  test('a task can be renamed; the list and the header show the full title on hover', async () => {
    const res = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'to be renamed' } });
    const id = res.json<Task>().id;
    await until('the task to wait', async () => (await getTask(id)).state === 'waiting');
    await page.goto(`${env.d.url}/task/@${id}+to-be-renamed`);
    await waitState('waiting');
    // Longer than the list shows (it ends in an ellipsis there), short enough to keep whole.
    const title = 'A much longer title that the task list cuts short, shown whole on hover';
    await page.getByRole('button', { name: 'Rename the task' }).click();
    const box = page.getByLabel('Task title', { exact: true });
    await box.fill(title);
    await box.press('Enter');
    await page.locator('h1.task-title', { hasText: title }).waitFor({ timeout: WAIT });
    assert.equal((await getTask(id)).title, title);
    await page.waitForURL(/\+a-much-longer-title/);
    const card = page.locator(`[data-testid="task-item"][data-id="${id}"] .task-card-title`);
    await until('the list to show the new title', async () => (await card.getAttribute('title')) === title);
    assert.equal(await page.locator('h1.task-title').getAttribute('title'), title);
  });

  test('Interrupt (button or Esc) stops the running turn; the task keeps going; Esc then goes back', async () => {
    const res = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'to be interrupted' } });
    const id = res.json<Task>().id;
    await until('the task to wait', async () => (await getTask(id)).state === 'waiting');
    await page.goto(`${env.d.url}/task/@${id}+to-be-interrupted`);
    await waitState('waiting');
    await page.getByRole('button', { name: 'Keyboard shortcuts' }).click();
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).getByText(/Interrupt the agent/).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor({ state: 'hidden' });

    const box = page.getByLabel('Message to the agent', { exact: true });
    await box.fill('FAKE_LONG 3000 50');
    await box.press('Enter');
    await waitState('running');
    await toolbar().getByRole('button', { name: /Interrupt/ }).waitFor();
    const streaming = page.locator('.msg.agent.streaming');
    await until('streamed pieces', async () => / 20 /.test((await streaming.count()) ? ((await streaming.textContent()) ?? '') : ''));
    await box.press('Escape');
    await waitState('waiting');
    const t = await getTask(id);
    assert.notEqual(t.result, 'Streamed 3000 events.', 'the turn did not run to its end');
    assert.equal(await toolbar().getByRole('button', { name: /Interrupt/ }).count(), 0, 'nothing left to interrupt');

    await turn2(id, 'after the interrupt');
    await page.getByText('You said: after the interrupt').waitFor({ timeout: WAIT });

    // The button does the same.
    await box.fill('FAKE_LONG 3000 50');
    await box.press('Enter');
    await waitState('running');
    await toolbar().getByRole('button', { name: /Interrupt/ }).click();
    await waitState('waiting');

    // Nothing running: Esc leaves the message box, then goes back to the list.
    await box.focus();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await page.waitForURL(`${env.d.url}/`);
  });

  test('Settings shows the agents’ cost, tokens and time per day and week', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    const usage = page.getByTestId('usage');
    await usage.waitFor({ timeout: WAIT });
    assert.match(await usage.innerText(), /\$0\.\d+/, 'the fake agent’s turns cost something');
    await browser.screenshot(page, 'usage-desktop');
  });
});

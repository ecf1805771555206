// Tool approval in real Chromium against the real daemon, real Docker and the fake agent, which
// asks before a Bash command in permission mode ask or rules (FAKE_TOOL <command>): the new-task
// form's choice reaches the task; the request shows as a card pinned above the message box, as a
// marker in the task list and in the inbox; Allow once runs the command (its file appears in the
// container), Deny with a message gives the agent that message, Allow for this task lets the next
// call run unasked; an unanswered request shows "Denied (timeout)".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Task } from '../../src/api/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { until } from '../helpers/wait.js';

const WAIT = 60_000;

/** Starts a task from the new-task form with the fake agent and returns its id. */
async function startFromComposer(page: Page, url: string, prompt: string, setPermissions: () => Promise<void>): Promise<string> {
  await page.goto(url);
  await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
  const repoBox = page.getByLabel('Repository', { exact: true });
  await until(async () => (await repoBox.inputValue()) !== '', 'a default repository', WAIT);
  await page.getByLabel('Agent', { exact: true }).selectOption('fake');
  await page.getByLabel('Prompt', { exact: true }).fill(prompt);
  await setPermissions();
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.waitForURL(/\/task\/@[0-9a-z]+\+/, { timeout: WAIT });
  return /@([0-9a-z]+)\+/.exec(page.url())![1]!;
}

describe('web UI: tool approval', { timeout: 300_000 }, () => {
  let env: TaskEnv;
  let browser: TestBrowser;
  let page: Page;
  let taskId = '';

  const getTask = async (id = taskId): Promise<Task> => (await env.api('GET', `/api/v1/tasks/${id}`)).json<Task>();
  const tray = () => page.locator('[data-testid="approval-card"][data-where="tray"]');
  const inContainer = async (cmd: string) => (await env.execIn(taskId, `cd /home/user/src/proj && ${cmd}`, 'user')).output;
  const send = async (text: string) => {
    await page.getByLabel('Message to the agent').fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  };
  const turnEnded = async (results: string) => until(async () => (await getTask()).state === 'waiting' && (await getTask()).result === results, `the result "${results}"`, WAIT);

  before(async () => {
    env = await taskEnv({ files: 2 });
    browser = await launchBrowser();
    page = await browser.newPage({ width: 1280, height: 800 });
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  test('the form’s rules reach the task: Task.permissions holds the mode and the edited rules', async () => {
    const id = await startFromComposer(page, env.d.url, 'FAKE_READ README.md', async () => {
      await page.getByLabel('Tool approval').selectOption('rules');
      const rules = page.getByTestId('permission-rule');
      await until(async () => (await rules.count()) === 3, 'the starter rules');
      await page.getByRole('button', { name: 'Remove rule 3' }).click();
      await page.getByRole('button', { name: '+ Add rule' }).click();
      await page.getByLabel('Rule 3: tool').fill('Bash');
      await page.getByLabel('Rule 3: argument pattern').fill('rm -rf /*');
      await page.getByLabel('Rule 3: action').selectOption('deny');
    });
    const t = await getTask(id);
    assert.deepEqual(t.permissions, {
      mode: 'rules',
      rules: [
        { tool: 'Read', action: 'allow' },
        { tool: 'Grep', action: 'allow' },
        { tool: 'Bash', pattern: 'rm -rf /*', action: 'deny' },
      ],
    });
    assert.deepEqual(browser.pageErrors(page), []);
  });

  test('Settings: the saved default is what the new-task form starts with', async () => {
    await page.goto(`${env.d.url}/settings`);
    const section = page.getByTestId('approval-settings');
    await section.getByLabel('Tool approval').selectOption('ask');
    await section.getByRole('button', { name: 'Save' }).click();
    await section.getByText('Saved: new tasks start with this choice.').waitFor({ timeout: WAIT });
    const prefs = (await env.api('GET', '/api/v1/server/preferences')).json<{ settings: Record<string, unknown> }>();
    assert.deepEqual(prefs.settings.permissions, { mode: 'ask', rules: [] });
    await page.goto(`${env.d.url}/`);
    await until(async () => (await page.getByTestId('composer').getByLabel('Tool approval').inputValue()) === 'ask', 'the saved choice in the form');
    // Back to the server's default for the tests that follow.
    await page.goto(`${env.d.url}/settings`);
    await section.getByLabel('Tool approval').selectOption('default');
    await section.getByRole('button', { name: 'Save' }).click();
    await section.getByText('Saved: new tasks start with this choice.').waitFor({ timeout: WAIT });
    assert.equal((await env.api('GET', '/api/v1/server/preferences')).json<{ settings: Record<string, unknown> }>().settings.permissions, undefined);
  });

  test('ask mode: the card is pinned in the task view, the list marks the task; Allow once runs the command', async () => {
    taskId = await startFromComposer(page, env.d.url, 'FAKE_TOOL echo approved > approved.txt', async () => {
      await page.getByLabel('Tool approval').selectOption('ask');
    });
    assert.equal((await getTask()).permissions.mode, 'ask');
    const card = tray();
    await card.waitFor({ timeout: WAIT });
    assert.match(await card.getByTestId('approval-command').innerText(), /echo approved > approved\.txt/);
    assert.match(await card.innerText(), /Approval needed\s+Bash/);
    assert.match(await card.getByTestId('approval-time-left').innerText(), /^\d+:\d\d left$/);
    // The transcript holds the request too, pointing at the pinned card.
    assert.match(await page.locator('[data-testid="approval-card"][data-where="transcript"]').innerText(), /Waiting for your answer/);
    const badge = page.locator(`[data-testid="task-item"][data-id="${taskId}"] [data-testid="approval-badge"]`);
    await badge.waitFor({ timeout: WAIT });
    assert.equal(await badge.innerText(), '1 approval');
    await until(async () => (await page.title()).startsWith('('), 'the title badge');
    await browser.screenshot(page, 'approval-card-desktop');
    // At phone width the pinned card and its buttons fit the screen.
    const phone = await browser.newPage({ width: 390, height: 844 });
    await phone.goto(page.url());
    const phoneCard = phone.locator('[data-testid="approval-card"][data-where="tray"]');
    await phoneCard.waitFor({ timeout: WAIT });
    const box = await phoneCard.getByRole('button', { name: 'Deny' }).boundingBox();
    assert.ok(box && box.x + box.width <= 390 && box.y + box.height <= 844, `the Deny button is on screen: ${JSON.stringify(box)}`);
    await browser.screenshot(phone, 'approval-card-phone');
    assert.deepEqual(browser.pageErrors(phone), []);
    await phone.close();
    assert.equal(await inContainer('test -e approved.txt && echo yes || echo no'), 'no\n', 'nothing ran before the answer');

    await card.getByRole('button', { name: 'Allow once' }).click();
    await turnEnded('Ran the command.');
    assert.equal(await inContainer('cat approved.txt'), 'approved\n');
    await until(async () => (await tray().count()) === 0, 'the pinned card to go');
    const settled = page.locator('[data-testid="approval-card"][data-where="transcript"]');
    await until(async () => (await settled.getAttribute('data-outcome')) === 'allowed', 'the settled card');
    assert.match(await settled.getByTestId('approval-outcome').innerText(), /^Allowed once/);
    await until(async () => (await badge.count()) === 0, 'the list marker to go');
    assert.deepEqual(browser.pageErrors(page), []);
  });

  test('Deny with a message: the agent gets the message and the command does not run', async () => {
    await send('FAKE_TOOL touch denied.txt');
    const card = tray();
    await card.waitFor({ timeout: WAIT });
    await card.getByLabel('Message to the agent if denied (optional)').fill('not here: use the staging box');
    await card.getByRole('button', { name: 'Deny' }).click();
    await turnEnded('Denied: not here: use the staging box');
    assert.equal(await inContainer('test -e denied.txt && echo yes || echo no'), 'no\n');
    const settled = page.locator('[data-testid="approval-card"][data-where="transcript"][data-outcome="denied"]');
    await settled.waitFor({ timeout: WAIT });
    assert.match(await settled.getByTestId('approval-outcome').innerText(), /^Denied.*: “not here: use the staging box”$/);
    assert.deepEqual(browser.pageErrors(page), []);
  });

  test('an approval push: a notification that stays until acted on and opens the task, unless that task is in front', async () => {
    // The push service's delivery is played by Chromium's DevTools protocol: the service worker gets
    // the payload as from a push service and shows what it shows a person.
    await browser.context.grantPermissions(['notifications'], { origin: env.d.url });
    await page.goto(`${env.d.url}/`);
    await page.evaluate('navigator.serviceWorker.ready');
    const cdp = await browser.context.newCDPSession(page);
    const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: typeof registrations }) => registrations.push(...e.registrations));
    await cdp.send('ServiceWorker.enable');
    const reg = await until(() => registrations.find((r) => !r.isDeleted && r.scopeURL === `${env.d.url}/`), 'the service worker registration');
    const push = (title: string, id = taskId) =>
      cdp.send('ServiceWorker.deliverPushMessage', { origin: env.d.url, registrationId: reg.registrationId, data: JSON.stringify({ v: 1, kind: 'approval', taskId: id, title, url: `/task/@${id}`, detail: 'Bash waits for your approval' }) });
    type Shown = { title: string; body: string; tag: string; requireInteraction: boolean; data: { url: string } };
    const shown = (): Promise<Shown[]> =>
      page.evaluate(`navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((l) => l.map((n) => ({ title: n.title, body: n.body, tag: n.tag, requireInteraction: n.requireInteraction, data: n.data })))`);
    // Delivered again while nothing shows: a delivery that reached a worker still starting under
    // load is dropped by Chromium (a push service would retry); same tag, so never two cards.
    const [n] = await until(async () => {
      if ((await shown()).length) return shown();
      await push('the approval task');
      return null;
    }, 'the notification');
    assert.equal(n!.title, 'Approval needed: the approval task');
    assert.equal(n!.body, 'Bash waits for your approval');
    assert.equal(n!.tag, taskId);
    assert.equal(n!.requireInteraction, true);
    assert.deepEqual(n!.data, { url: `/task/@${taskId}` });
    await page.evaluate(`navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((l) => l.forEach((n) => n.close()))`);
    // The task's own page in front (with its title in the path): its pinned card says it already.
    await page.goto(`${env.d.url}/task/@${taskId}+the-approval-task`);
    await page.evaluate('navigator.serviceWorker.ready');
    // Pushes are handled in order: once the second one (another task) shows, the first was decided.
    await push('in front');
    const again = await until(async () => {
      if ((await shown()).length) return shown();
      await push('another task', '0123456789abcdefghij');
      return null;
    }, 'the second notification');
    assert.deepEqual(
      again.map((x) => x.title),
      ['Approval needed: another task'],
    );
    await cdp.detach();
  });

  test('the inbox lists a waiting request across tasks; Allow for this task there lets the next call run unasked', async () => {
    await page.goto(`${env.d.url}/`);
    await env.api('POST', `/api/v1/tasks/${taskId}/input`, { prompt: { text: 'FAKE_TOOL echo one > one.txt' } });
    const button = page.getByTestId('approval-inbox-button');
    await button.waitFor({ timeout: WAIT });
    await button.click();
    const inbox = page.getByTestId('approval-inbox');
    const card = inbox.locator('[data-testid="approval-card"][data-where="inbox"]');
    await card.waitFor({ timeout: WAIT });
    assert.match(await card.innerText(), /echo one > one\.txt/);
    await card.getByRole('button', { name: 'Allow for this task' }).click();
    await until(async () => (await card.count()) === 0, 'the answered request to leave the inbox');
    await turnEnded('Ran the command.');
    assert.equal(await inContainer('cat one.txt'), 'one\n');
    // The same tool again: no request this time.
    await env.api('POST', `/api/v1/tasks/${taskId}/input`, { prompt: { text: 'FAKE_TOOL echo two > two.txt' } });
    await until(async () => (await inContainer('cat two.txt 2>/dev/null || true')) === 'two\n', 'the second command to run', WAIT);
    assert.equal((await getTask()).pendingApprovals, 0);
    assert.deepEqual(browser.pageErrors(page), []);
  });
});

describe('web UI: an unanswered approval times out to deny', { timeout: 200_000 }, () => {
  let env: TaskEnv;
  let browser: TestBrowser;

  before(async () => {
    env = await taskEnv({ files: 2, extraConfig: '[approval]\ntimeout = "3s"\n' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  test('at phone width the card counts down, then shows Denied (timeout); the agent was told', async () => {
    const page = await browser.newPage({ width: 390, height: 844 });
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_TOOL touch late.txt' }, permissions: { mode: 'ask' } });
    await page.goto(`${env.d.url}/task/@${task.id}+t`);
    const card = page.locator('[data-testid="approval-card"][data-where="transcript"]');
    await card.waitFor({ timeout: WAIT });
    await until(async () => (await card.getAttribute('data-outcome')) === 'denied', 'the timeout', WAIT);
    assert.match(await card.getByTestId('approval-outcome').innerText(), /^Denied \(timeout\)/);
    const t = await env.waitState(task.id, 'waiting');
    assert.match(t.result, /^Denied: /);
    assert.equal((await env.execIn(task.id, 'test -e /home/user/src/proj/late.txt && echo yes || echo no', 'user')).output, 'no\n');
    assert.deepEqual(browser.pageErrors(page), []);
  });
});

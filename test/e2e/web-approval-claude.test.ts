// Tool approval with the real Claude Code CLI, answered in real Chromium: the task asks (permission
// mode ask) before a Bash call the Anthropic stand-in in the container makes it run; the card shows
// in the task view with the command; Allow once → the command ran in the container; Deny with a
// message → the model receives that message in the tool result of its next request.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Task } from '../../src/api/index.js';
import { launchBrowser } from '../helpers/browser.js';
import { CLAUDE_STANDIN, REAL_AGENT_TIMEOUT_MS, startRealAgent, type RealAgentOptions } from '../helpers/real-agent.js';
import { until } from '../helpers/wait.js';

const WAIT = 150_000;
const PROJ = '/home/user/src/proj';

const options: RealAgentOptions = {
  ...CLAUDE_STANDIN,
  file: 'unused.md',
  fixture: 'claude-approval-web',
  prompt: `STUB_BASH echo approved > ${PROJ}/bash-ran.txt`,
  permissions: { mode: 'ask' },
};

test('claude: the Bash request shows as a card in Chromium; Allow once runs it, Deny with a message reaches the model', { timeout: REAL_AGENT_TIMEOUT_MS }, async () => {
  await using run = await startRealAgent(options);
  await using browser = await launchBrowser();
  const { env, task } = run;
  const page = await browser.newPage({ width: 1280, height: 800 });
  const getTask = async () => (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>();
  const inContainer = async (cmd: string) => (await env.execIn(task.id, cmd, 'user')).output.trim();
  const turns = async (n: number, what: string) => {
    try {
      await until(async () => {
        const t = await getTask();
        return t.state === 'waiting' && t.numTurns >= n;
      }, what, WAIT, 50);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- relay and stub logs:\n${await run.diagnose()}`, { cause: err });
    }
  };
  const card = page.locator('[data-testid="approval-card"][data-where="tray"]');
  const waitCard = async (what: string) => {
    try {
      await card.waitFor({ timeout: WAIT });
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}\n--- relay and stub logs:\n${await run.diagnose()}`, { cause: err });
    }
  };

  await page.goto(`${env.d.url}/task/@${task.id}+claude`);
  await waitCard('the first Bash request');
  assert.match(await card.innerText(), /Approval needed\s+Bash/);
  assert.equal(await card.getByTestId('approval-command').innerText(), `$ echo approved > ${PROJ}/bash-ran.txt`);
  assert.equal(await inContainer(`cat ${PROJ}/bash-ran.txt 2>/dev/null || echo none`), 'none', 'nothing ran before the answer');
  await browser.screenshot(page, 'approval-claude-desktop');
  await card.getByRole('button', { name: 'Allow once' }).click();
  await turns(1, 'the allowed Bash turn');
  assert.equal(await inContainer(`cat ${PROJ}/bash-ran.txt`), 'approved');
  const settled = page.locator('[data-testid="approval-card"][data-where="transcript"][data-outcome="allowed"]');
  await settled.waitFor({ timeout: WAIT });
  assert.match(await settled.getByTestId('approval-outcome').innerText(), /^Allowed once/);

  // The second request, from a message typed in the page.
  await page.getByLabel('Message to the agent').fill(`STUB_BASH echo no > ${PROJ}/denied.txt`);
  await page.getByRole('button', { name: 'Send' }).click();
  await waitCard('the second Bash request');
  await card.getByLabel('Message to the agent if denied (optional)').fill('Not now, use the Makefile instead.');
  await card.getByRole('button', { name: 'Deny' }).click();
  await turns(2, 'the denied Bash turn');
  const requests = (await run.requests()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { toolResults?: { isError: boolean; content: string }[] });
  const last = requests.reverse().find((r) => r.toolResults)?.toolResults ?? [];
  assert.equal(last[0]?.isError, true, JSON.stringify(last));
  assert.match(last[0].content, /Not now, use the Makefile instead\./);
  assert.equal(await inContainer(`cat ${PROJ}/denied.txt 2>/dev/null || echo none`), 'none');
  const denied = page.locator('[data-testid="approval-card"][data-where="transcript"][data-outcome="denied"]');
  await denied.waitFor({ timeout: WAIT });
  assert.match(await denied.getByTestId('approval-outcome').innerText(), /^Denied.*: “Not now, use the Makefile instead\.”$/);
  assert.equal(await card.count(), 0, 'nothing waits any more');
  assert.deepEqual(browser.pageErrors(page), []);
});

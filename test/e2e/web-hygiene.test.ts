// Resource hygiene in real Chromium: Settings → Server health shows the engine, the disk, the
// images and what clean-up would do; a running task's header shows its CPU, memory and disk.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

const WAIT = 60_000;

describe('web UI: server health and task resources', { timeout: 240_000 }, () => {
  let env: TaskEnv;
  let browser: TestBrowser;
  let page: Page;
  before(async () => {
    // prune_images off: the engine is shared (other runs leave repository images of older agent
    // images, which clean-up would rightly offer to remove), and this test checks the panel, not
    // the engine's state; what clean-up picks is tested in integration/hygiene.test.ts.
    env = await taskEnv({ files: 2, extraConfig: '[limits]\nmemory = "1g"\ndisk = "2g"\nstats_interval = "1s"\ngc_interval = "0"\nprune_images = false\n' });
    browser = await launchBrowser();
    page = await browser.newPage({ width: 1280, height: 800 });
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
  });

  test('Settings → Server health; the task header’s resource line', async () => {
    await page.goto(`${env.d.url}/settings`);
    const panel = page.getByTestId('doctor');
    await panel.waitFor({ timeout: WAIT });
    assert.match(await panel.getByTestId('doctor-engine').innerText(), /^Docker \S+ \(API [\d.]+\)/);
    assert.match(await panel.getByTestId('doctor-disk').innerText(), /free of .* on \/\S+/);
    await panel.getByTestId('doctor-images').getByText('caic-agent:latest').first().waitFor();
    assert.match(await panel.getByTestId('doctor-actions').innerText(), /Remove nothing now/);

    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    await page.goto(`${env.d.url}/task/@${task.id}`);
    const stats = page.getByTestId('task-stats');
    await stats.waitFor({ timeout: WAIT });
    assert.match(await stats.innerText(), /^CPU \d+% · mem .+ \/ 1\.0 GiB · disk .+ \/ 2\.0 GiB$/);
  });
});

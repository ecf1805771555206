// Voice in the web UI, real Chromium against the real daemon: with voice off the microphone button says why; with a standalone gateway configured the panel opens, sends a real WebRTC offer with the token, and reports a refusing or silent gateway, or a denied microphone, plainly; the voice tools routes answer the page's own session. Desktop and phone width.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { routes, type ServerConfigResp, type VoiceToolCallResp, type VoiceToolsResp } from '../../src/api/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { http } from '../helpers/http.js';
import { until } from '../helpers/wait.js';

const WAIT = 30_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** A fake microphone (Chromium's test tone), and every permission prompt refused unless the test grants it. */
const MEDIA_FLAGS = ['--use-fake-device-for-media-stream', '--deny-permission-prompts'];

interface Offer {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A gateway that refuses every offer as a real one refuses a bad token (401, error envelope, its challenge), with the CORS a browser needs to read the answer. */
async function refusingGateway(): Promise<{ url: string; offers: Offer[]; close(): Promise<void> }> {
  const offers: Offer[] = [];
  const server: Server = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', req.headers.origin ?? '*');
    res.setHeader('access-control-allow-headers', 'authorization, content-type');
    res.setHeader('access-control-allow-methods', 'POST');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      offers.push({ headers: req.headers, body });
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': routes.voiceRtcOffer.challenge }).end(JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'token not signed by a trusted issuer' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    offers,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('web UI: voice off', { timeout: 120_000 }, () => {
  let d: TestDaemon;
  let browser: TestBrowser;
  let page: Page;

  before(async () => {
    d = await startTestDaemon('[server]\nallow_origins = ["local"]\n', { env: {} });
    browser = await launchBrowser();
    page = await browser.newPage(DESKTOP);
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await d?.[Symbol.asyncDispose]();
  });

  test('the microphone button is shown disabled, and says why voice is off on hover and on tap', async () => {
    const { voice } = (await http(`${d.url}/api/v1/server/config`)).json<ServerConfigResp>();
    assert.equal(voice.enabled, false);
    assert.match(voice.reason, /^voice is off: set GEMINI_API_KEY for the embedded gateway \(gemini-live\), or \[voice-gateway\] url/);
    const shown = voice.reason[0]!.toUpperCase() + voice.reason.slice(1);
    await page.goto(d.url);
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
    const button = page.getByTestId('voice-button-list');
    assert.equal(await button.getAttribute('aria-disabled'), 'true');
    assert.equal(await button.getAttribute('title'), shown);
    assert.ok(await button.isVisible());
    assert.equal(await page.getByTestId('voice-off-reason').count(), 0);
    // aria-disabled, not disabled: a tap still reaches it (playwright's click would wait for "enabled").
    await button.click({ force: true });
    const why = page.getByTestId('voice-off-reason');
    assert.equal(await why.innerText(), shown);
    assert.ok(await why.isVisible());
    assert.equal(await page.getByTestId('voice-panel').count(), 0, 'no panel opens');
    await browser.screenshot(page, 'voice-off-desktop');
    await button.click({ force: true });
    assert.equal(await page.getByTestId('voice-off-reason').count(), 0, 'a second tap hides it');
    // A phone shows the list below the new-task form: the top bar has the button there.
    await page.setViewportSize(PHONE);
    const top = page.getByTestId('voice-button-topbar');
    assert.ok(await top.isVisible(), 'the microphone is in the top bar at phone width');
    assert.equal(await top.getAttribute('aria-disabled'), 'true');
    await top.click({ force: true });
    assert.ok(await why.isVisible(), 'the reason is readable at phone width');
    const box = (await why.boundingBox())!;
    assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, `the reason fits the screen (${JSON.stringify(box)})`);
    await browser.screenshot(page, 'voice-off-phone');
    await page.setViewportSize(DESKTOP);
    assert.ok(!(await top.isVisible()), 'not in the top bar on a wide screen (the list has it)');
    assert.deepEqual(browser.pageErrors(page), []);
  });
});

describe('web UI: voice on (a standalone gateway configured)', { timeout: 180_000 }, () => {
  let gateway: Awaited<ReturnType<typeof refusingGateway>>;
  let env: TaskEnv;
  let d: TestDaemon;
  let browser: TestBrowser;
  let page: Page;

  before(async () => {
    gateway = await refusingGateway();
    env = await taskEnv({ extraConfig: `[voice-gateway]\nurl = "${gateway.url}"\n` });
    d = env.d;
    browser = await launchBrowser({ args: MEDIA_FLAGS });
    page = await browser.newPage(DESKTOP);
  });
  after(async () => {
    await browser?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
    await gateway?.close();
  });

  const panel = () => page.getByTestId('voice-panel');
  const errorText = async () => {
    await page.waitForSelector('[data-testid="voice-panel"][data-phase="error"]', { timeout: WAIT });
    return page.getByTestId('voice-error').innerText();
  };

  test('the voice tools routes answer the page’s own session', async () => {
    await page.goto(d.url);
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
    const { tools, call } = await page.evaluate(async () => {
      const tools = (await (await fetch('/api/v1/voice/tools')).json()) as VoiceToolsResp;
      const res = await fetch('/api/v1/voice/tools/call', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'tasks_list', args: {} }) });
      return { tools, call: { status: res.status, body: (await res.json()) as VoiceToolCallResp } };
    });
    assert.ok(tools.tools.some((t) => t.name === 'task_send_message'));
    assert.equal(call.status, 200);
    assert.deepEqual(call.body, { ok: true, result: { tasks: [] }, text: 'No tasks.' });
  });

  test('microphone denied: the panel says so and how to allow it', async () => {
    await browser.context.clearPermissions();
    await page.getByTestId('voice-button-list').click();
    assert.ok(await panel().isVisible());
    assert.match(await errorText(), /^Microphone access was denied: allow the microphone for this site/);
    assert.equal(gateway.offers.length, 0, 'no offer without a microphone');
    await page.getByTestId('voice-close').click();
    assert.equal(await panel().count(), 0);
  });

  test('the gateway refuses the offer: its reason is shown; the offer carried the token, no cookie, and a real SDP offer', async () => {
    await browser.context.grantPermissions(['microphone'], { origin: d.url });
    await page.getByTestId('voice-button-list').click();
    assert.equal(await errorText(), 'The voice gateway refused the session: token not signed by a trusted issuer (HTTP 401)');
    assert.equal(await page.getByTestId('voice-state').innerText(), 'Failed');
    assert.equal(gateway.offers.length, 1);
    const [offer] = gateway.offers;
    const bearer = /^Bearer (.+)$/.exec(String(offer!.headers.authorization))?.[1];
    assert.ok(bearer, 'the voice token as a bearer');
    const verified = await d.daemon.voice.verifier.verify(bearer);
    assert.deepEqual([verified.claims.sub, verified.claims.capabilities], ['default', ['voice.session']]);
    assert.equal(offer!.headers.cookie, undefined, 'no caic cookie goes to a gateway');
    const body = JSON.parse(offer!.body) as { type: string; sdp: string };
    assert.deepEqual(Object.keys(body).sort(), ['sdp', 'type']);
    assert.equal(body.type, 'offer');
    // One audio section, sent and received, with Opus; the data channel; ICE gathered before sending.
    const audio = body.sdp.split(/\r\n(?=m=)/).find((s) => s.startsWith('m=audio'));
    assert.ok(audio, body.sdp);
    assert.match(audio, /a=sendrecv/);
    assert.match(audio, /a=rtpmap:\d+ opus\/48000\/2/);
    assert.match(body.sdp, /m=application \d+ UDP\/DTLS\/SCTP webrtc-datachannel/);
    assert.match(body.sdp, /a=candidate:/);
    await browser.screenshot(page, 'voice-refused-desktop');
    // "Try again" asks for a new token and offers again.
    await page.getByTestId('voice-retry').click();
    await page.waitForSelector('[data-testid="voice-panel"][data-phase="error"]', { timeout: WAIT });
    await until(() => gateway.offers.length === 2, 'the second offer', WAIT);
    const second = /^Bearer (.+)$/.exec(String(gateway.offers[1]!.headers.authorization))?.[1];
    assert.notEqual(second, bearer, 'a new token per session');
    await page.getByTestId('voice-close').click();
  });

  test('at phone width the microphone is in the top bar and the panel is a bottom sheet that fits the screen', async () => {
    await page.setViewportSize(PHONE);
    await page.goto(d.url);
    await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
    await page.getByTestId('voice-button-topbar').click();
    await errorText();
    const box = (await panel().boundingBox())!;
    assert.ok(box.x >= 0 && Math.round(box.x + box.width) <= PHONE.width, JSON.stringify(box));
    assert.ok(Math.round(box.y + box.height) <= PHONE.height, JSON.stringify(box));
    for (const id of ['voice-retry', 'voice-close']) {
      const b = (await page.getByTestId(id).boundingBox())!;
      assert.ok(b.x + b.width <= PHONE.width && b.height >= 28, `${id}: ${JSON.stringify(b)}`);
    }
    await browser.screenshot(page, 'voice-refused-phone');
    await page.getByTestId('voice-close').click();
    await page.setViewportSize(DESKTOP);
    assert.deepEqual(browser.pageErrors(page).filter((e) => !e.includes('401')), []);
  });

  test('the task page has the microphone too, and the page’s tool calls act on the person’s task', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello from the voice test' } });
    await env.waitState(task.id, 'waiting');
    await page.goto(`${d.url}/task/@${task.id}`);
    await page.waitForSelector('[data-testid="task-view"]', { timeout: WAIT });
    const mic = page.getByTestId('voice-button-task');
    assert.ok(await mic.isVisible());
    assert.equal(await mic.getAttribute('aria-disabled'), null, 'voice is on');
    await mic.click();
    assert.match(await errorText(), /^The voice gateway refused the session/);
    // Floating above the message box, not over it.
    const input = (await page.getByLabel('Message to the agent', { exact: true }).boundingBox())!;
    const sheet = (await panel().boundingBox())!;
    assert.ok(sheet.y + sheet.height <= input.y, `panel ${JSON.stringify(sheet)} above the input ${JSON.stringify(input)}`);
    await browser.screenshot(page, 'voice-task-desktop');
    await page.setViewportSize(PHONE);
    assert.ok(await mic.isVisible(), 'in the task header at phone width');
    await browser.screenshot(page, 'voice-task-phone');
    await page.setViewportSize(DESKTOP);
    await page.getByTestId('voice-close').click();
    const detail = await page.evaluate(async () => {
      const res = await fetch('/api/v1/voice/tools/call', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'task_get_detail', args: { task: 1 } }) });
      return (await res.json()) as VoiceToolCallResp;
    });
    assert.equal(detail.ok, true, detail.text);
    assert.equal((detail.result as { id: string }).id, task.id);
  });

  test('a gateway that does not answer: the panel names it', async () => {
    await using other = await startTestDaemon(`[server]\nallow_origins = ["local"]\n[voice-gateway]\nurl = "http://127.0.0.1:${await deadPort()}"\n`);
    await browser.context.grantPermissions(['microphone'], { origin: other.url });
    const p = await browser.newPage(DESKTOP);
    await p.goto(other.url);
    await p.waitForSelector('[data-testid="task-list"][data-loaded="true"]');
    await p.getByTestId('voice-button-list').click();
    await p.waitForSelector('[data-testid="voice-panel"][data-phase="error"]', { timeout: WAIT });
    assert.match(await p.getByTestId('voice-error').innerText(), /^The voice gateway at http:\/\/127\.0\.0\.1:\d+ does not answer: /);
    await p.close();
  });
});

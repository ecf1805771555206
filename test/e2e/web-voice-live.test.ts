// Voice end to end in real Chromium: a fake microphone playing espeak-ng's "list my tasks" → real WebRTC → the daemon's embedded werift gateway → a model stand-in (Gemini Live, OpenAI Realtime, the local stack with real espeak-ng TTS); the model's tasks_list call runs in the page against the daemon, its result reaches the model, the answer is heard in the page (WebAudio analyser); barge-in, Cancel reply and Stop through the panel; no audio file written.
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { CUT_SILENCE_FRAMES, MAX_CATCH_UP_FRAMES } from '../../src/voice/index.js';
import { gotoRetrying, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { GeminiLiveStandIn, tone, type StandInSession } from '../helpers/gemini-live-standin.js';
import { chatText, chatToolCalls, OpenAICompatStandIn } from '../helpers/openai-compat-standin.js';
import { OpenAIRealtimeStandIn, type RealtimeStandInSession } from '../helpers/openai-realtime-standin.js';
import { speak } from '../helpers/speech.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { instrumentVoice, listFiles, looksLikeAudio, matchLoop, micFlags, micWav, probe, setMic, untilProbe, type MicWav, type VoiceProbe } from '../helpers/voice-page.js';
import { until } from '../helpers/wait.js';

const GEMINI_KEY = 'AIzaSyStandInKey-0123456789abcdefWXYZ';
const OPENAI_KEY = 'sk-standin-0123456789abcdefWXYZ';
const DESKTOP = { width: 1280, height: 800 };
const WAIT = 30_000;
/** An analyser reading above this (−40 dBFS) is sound; the replies are far above it, the silence between them far below. */
const SOUND = 0.01;
/** Frames of a cut reply that may still arrive after `interrupted`: one werift was encrypting when the queue was dropped, and one the data channel overtook. */
const IN_FLIGHT = 2;
/** The first frame of silence after a cut carries the encoder's fade from the cut sound. */
const FADE_FRAMES = 1;
/**
 * What a reading after the page heard `interrupted` may still catch besides the jitter buffer and
 * the playout path (both from the page's own stats): the analyser's window (512 samples at 48 kHz),
 * the 10 ms between readings, and one 10 ms chunk of WebAudio's copy of the stream.
 */
const MEASURE_MS = 512 / 48 + 10 + 10;

const GATEWAY_SERVER = '[voice-gateway.config.server]\nannounce_addresses = ["127.0.0.1"]\n';

interface Flow extends AsyncDisposable {
  browser: TestBrowser;
  page: Page;
  wav: MicWav;
  fixtures: TempDir;
}

/** The WAV (under the test's own temp dir) as Chromium's microphone; the daemon's page open with the probe installed. */
async function openFlow(d: TestDaemon, leadMs: number, tailMs: number): Promise<Flow> {
  const fixtures = await tempDir('caic-voice-e2e-');
  const wav = await micWav(fixtures.path, 'list my tasks', leadMs, tailMs);
  const browser = await launchBrowser({ args: micFlags(wav.path) });
  const page = await browser.newPage(DESKTOP);
  await instrumentVoice(page);
  await gotoRetrying(page, d.url);
  await page.waitForSelector('[data-testid="task-list"][data-loaded="true"]', { timeout: WAIT });
  return {
    browser,
    page,
    wav,
    fixtures,
    async [Symbol.asyncDispose]() {
      await browser[Symbol.asyncDispose]();
      await fixtures[Symbol.asyncDispose]();
    },
  };
}

const phase = (page: Page, p: string) => page.waitForSelector(`[data-testid="voice-panel"][data-phase="${p}"]`, { timeout: WAIT });

/** Waits for `n` loud readings from index `from` of the page's levels. */
function heard(page: Page, from: number, n: number, what: string): Promise<VoiceProbe> {
  return untilProbe(page, (p) => p.levels.slice(from).filter((l) => l.rms > SOUND).length >= n, what, WAIT);
}

/** Waits until the page has heard sound from `from` on and then 300 ms of silence (a reply played out). */
function playedOut(page: Page, from: number, what: string): Promise<VoiceProbe> {
  return untilProbe(
    page,
    (p) => {
      const l = p.levels.slice(from);
      const loud = l.findLastIndex((x) => x.rms > SOUND);
      return loud >= 0 && l.length > 0 && l.at(-1)!.t - l[loud]!.t > 0.3;
    },
    what,
    WAIT,
  );
}

/** Mounts the session from the panel's microphone button; resolves when the panel listens. */
async function startSession(page: Page): Promise<void> {
  const button = page.getByTestId('voice-button-list');
  await button.click();
  await phase(page, 'listening');
  // The button shows the session is on, its icon visible (the pointer still over it, as a tap leaves it on a phone).
  assert.equal(await button.getAttribute('aria-pressed'), 'true');
  const look = await page.evaluate<{ color: string; background: string; hovered: boolean }>(
    `(() => { const b = document.querySelector('[data-testid="voice-button-list"]'); const s = getComputedStyle(b); return { color: s.color, background: s.backgroundColor, hovered: b.matches(':hover') }; })()`,
  );
  assert.ok(look.hovered, 'the pointer is over the button');
  assert.notEqual(look.color, look.background, `the microphone icon is visible on the button: ${JSON.stringify(look)}`);
  const p = await probe(page);
  // The media goes to the gateway's announced loopback address (from whichever of this host's own
  // addresses Chromium picks: the kernel delivers it locally), never through a container bridge.
  assert.ok(p.pairs.length === 1 && / -> 127\.0\.0\.1:\d+\/udp$/.test(p.pairs[0]!), `selected pair: ${p.pairs.join(', ')}`);
  assert.ok(!p.pairs[0]!.includes('172.'), `no Docker bridge address: ${p.pairs[0]}`);
}

/**
 * After the page received `interrupted {source}` (the last one): waits for a second of readings,
 * then checks the cut reply went silent in the page. Neither measure is a wall-clock threshold:
 * - RTP packets that still arrived: at most the ones in flight, a catch-up burst the pacer may have
 *   sent just before the cut (the gateway and the test share a busy process), and the silence that
 *   ends the cut — the gateway dropped the rest of the reply before it said `interrupted`;
 * - how long the reply was still heard at its level (half of it or more), on the AudioContext's clock
 *   (rendered audio), bounded by what
 *   was already at the page: the delay its own stats report for the jitter buffer (the larger of the
 *   last 0.8 s before and of the samples played after: a stalled renderer makes that backlog wait
 *   longer) and the playout path, plus the packets that arrived after, the encoder's fade into
 *   silence, and the measurement's own window.
 */
async function expectCut(t: TestContext, page: Page, source: 'user' | 'client', what: string): Promise<void> {
  const mark = (p: VoiceProbe) => p.messages.findLast((x) => x.type === 'interrupted' && x.source === source);
  const p = await untilProbe(page, (q) => !!mark(q) && q.levels.length > 0 && q.levels.at(-1)!.t - mark(q)!.t > 1, `a second after interrupted {source: ${source}}`, WAIT);
  const m = mark(p)!;
  const window = p.levels.filter((l) => l.t > m.t && l.t <= m.t + 1);
  // The reply's own level just before the cut (the loud end of its readings); a reading at half of it or more is the reply still playing.
  // Below that is the receiver's concealment fading out when a packet is late (the gateway shares a loaded process with the test).
  const before = p.levels
    .filter((l) => l.t > m.t - 0.5 && l.t <= m.t)
    .map((l) => l.rms)
    .sort((a, b) => a - b);
  const replyLevel = before[Math.floor(before.length * 0.9)] ?? 0;
  const last = window.findLast((l) => l.rms > Math.max(SOUND, replyLevel / 2));
  const tail = window.findLast((l) => l.rms > SOUND);
  const loudMs = last ? (last.t - m.t) * 1000 : 0;
  const packets = p.packets - m.packets;
  const jitterAfterMs = p.emitted > m.emitted ? ((p.jbd - m.jbd) / (p.emitted - m.emitted)) * 1000 : 0;
  const jitterMs = Math.max(m.jitterMs, jitterAfterMs);
  const boundMs = jitterMs + m.playoutMs + (Math.max(IN_FLIGHT, packets - CUT_SILENCE_FRAMES) + FADE_FRAMES) * 20 + MEASURE_MS;
  const trace = p.levels
    .filter((l) => l.t > m.t - 0.05 && l.t < m.t + 1)
    .map((l) => `${Math.round((l.t - m.t) * 1000)}:${l.rms.toFixed(3)}`)
    .join(' ');
  // The page mutes what it already holds of the cut reply (a jitter buffer grown under load keeps
  // hundreds of milliseconds of it, which no cut at the gateway can reach).
  assert.equal(m.playing, false, `${what}: the page muted the received audio on interrupted`);
  assert.ok(packets <= IN_FLIGHT + MAX_CATCH_UP_FRAMES + CUT_SILENCE_FRAMES, `${what}: ${packets} packets after interrupted (in flight, a catch-up burst, then the silence that ends the cut)`);
  assert.ok(loudMs <= boundMs, `${what}: the reply (level ${replyLevel.toFixed(2)}) still sounded ${loudMs.toFixed(0)} ms after interrupted (bound ${boundMs.toFixed(0)} ms: jitter buffer ${jitterMs.toFixed(0)}, playout ${m.playoutMs.toFixed(0)}, ${packets} packets after): ${trace}`);
  t.diagnostic(
    `${what}: the reply (level ${replyLevel.toFixed(2)}) sounded ${loudMs.toFixed(0)} ms after interrupted (bound ${boundMs.toFixed(0)} ms: jitter buffer ${jitterMs.toFixed(0)} ms, playout ${m.playoutMs.toFixed(0)} ms), anything above −40 dBFS ${tail ? ((tail.t - m.t) * 1000).toFixed(0) : 0} ms; ${packets} packets after it`,
  );
}

/** Stop in the panel: POST …/close with the token, the gateway session ends, the model is hung up, the microphone track ends. */
async function stopSession(d: TestDaemon, page: Page, modelClosed: () => Promise<void>): Promise<Record<string, unknown>> {
  const closeReq = page.waitForRequest((r) => /\/api\/v1\/voice\/rtc\/[^/]+\/close$/.test(r.url()) && r.method() === 'POST', { timeout: WAIT });
  await page.getByTestId('voice-stop').click();
  const req = await closeReq;
  assert.match(req.headers().authorization ?? '', /^Bearer ey/, 'the close carries the voice token');
  assert.equal(req.headers().cookie, undefined, 'and no caic cookie');
  await phase(page, 'closed');
  await until(() => d.daemon.voiceGateway!.size === 0, 'the gateway session to end', WAIT);
  await modelClosed();
  const ended = d.logs.find('voice session ended').at(-1)!;
  assert.match(String(ended.reason), /closed by the client/);
  assert.deepEqual((await probe(page)).micStates, ['ended'], 'the microphone track is stopped');
  return ended;
}

/** Every file under the daemon's dirs and /tmp, except the tests' own fixtures (the microphone WAVs) and Chromium's profiles (the browser's, not the daemon's). */
async function snapshot(d: TestDaemon, fixtures: string): Promise<Set<string>> {
  const own = await listFiles(d.dir.path, 12);
  const tmp = [...(await listFiles(tmpdir(), 3, [d.dir.path, fixtures]))].filter((f) => !f.includes('/caic-chromium-') && !f.includes('/caic-voice-e2e-'));
  return new Set([...own, ...tmp]);
}

async function noNewAudio(before: Set<string>, d: TestDaemon, fixtures: string): Promise<void> {
  const audio: string[] = [];
  for (const f of await snapshot(d, fixtures)) if (!before.has(f) && (await looksLikeAudio(f))) audio.push(f);
  assert.deepEqual(audio, [], `no audio file written: ${audio.join(', ')}`);
}

async function transcriptLines(page: Page): Promise<string[]> {
  return page.getByTestId('voice-line').allInnerTexts();
}

async function toolLineOk(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid="voice-tool-line"][data-tool="tasks_list"][data-status="ok"]', { timeout: WAIT });
}

describe('voice e2e: Chromium ↔ embedded gateway ↔ Gemini Live stand-in', { timeout: 240_000 }, () => {
  let standIn: GeminiLiveStandIn;
  let env: TaskEnv;
  let flow: Flow;
  let taskId: string;

  before(async () => {
    standIn = await GeminiLiveStandIn.start({ apiKey: GEMINI_KEY });
    env = await taskEnv({ extraConfig: `[voice-gateway.config]\ngemini_url = "${standIn.url}"\n${GATEWAY_SERVER}`, daemon: { env: { GEMINI_API_KEY: GEMINI_KEY } } });
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'add tests to the parser' } });
    taskId = task.id;
    await env.waitState(task.id, 'waiting');
    flow = await openFlow(env.d, 600, 2_400);
  });
  after(async () => {
    await flow?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
    await standIn?.close();
  });

  test('speech in, tasks_list run by the page, the answer heard; barge-in and Cancel reply silence it; Stop closes the session and the microphone', async (t) => {
    const { page, wav } = flow;
    const d = env.d;
    const files = await snapshot(d, flow.fixtures.path);
    const next = standIn.session();
    await startSession(page);
    const model: StandInSession = await next;
    assert.match(JSON.stringify(model.setup?.systemInstruction), /add tests to the parser/, 'the page told the model its tasks');

    // The microphone: Opus decoded at the gateway, 16 kHz PCM at the model, speech where the WAV has it.
    await model.until(() => model.audioSamples >= 16 * (wav.loopMs + 500), 'a loop of the microphone', WAIT);
    const m = matchLoop(model.allAudio(), 16_000, wav.samples, 48_000);
    assert.ok(m.agreement > 0.9 && m.speechWindows > 20, `the model hears speech where the WAV has it: ${JSON.stringify(m)}`);

    // The model calls tasks_list; the page runs it against the daemon with its own session; the result reaches the model.
    model.inputTranscription('list my tasks');
    model.toolCall([{ id: 'call-1', name: 'tasks_list', args: {} }]);
    const result = await model.waitForToolResponse(WAIT);
    assert.equal(result.id, 'call-1');
    const tasks = (result.response as { tasks: { id: string; title: string }[] }).tasks;
    assert.deepEqual(
      tasks.map((x) => x.id),
      [taskId],
      JSON.stringify(result.response),
    );
    assert.match(tasks[0]!.title, /add tests to the parser/);
    await toolLineOk(page);

    // The answer: speech at 24 kHz from the model, heard in the page.
    const from = (await probe(page)).levels.length;
    model.outputTranscription('You have one task: add tests to the parser.');
    model.audioOut(await speak('You have one task.', 24_000));
    model.turnComplete();
    await heard(page, from, 20, 'the answer in the page');
    const lines = await transcriptLines(page);
    assert.ok(lines.some((l) => /^you\s*list my tasks$/i.test(l)), lines.join(' | '));
    assert.ok(lines.some((l) => /^assistant\s*You have one task/i.test(l)), lines.join(' | '));
    assert.equal((await probe(page)).audioPlaying, true);

    // Barge-in: a long reply plays; the person says it again (the WAV loops); the model hears the speech and interrupts.
    const p0 = await probe(page);
    model.audioOut(tone(440, 10_000, 24_000, 8_000));
    await heard(page, p0.levels.length, 15, 'the long reply playing');
    const heardBefore = model.audioSamples;
    await model.until(() => matchLoop(model.allAudio().subarray(heardBefore), 16_000, wav.samples, 48_000).speechWindows > 10, 'the person speaking over the reply', WAIT);
    model.interrupted();
    await page.waitForSelector('[data-testid="voice-line"]:has-text("Interrupted: you spoke over the reply.")', { timeout: WAIT });
    model.turnComplete();
    await expectCut(t, page, 'user', 'barge-in');

    // Cancel reply: the panel's button sends turn.cancel; the reply stops the same way.
    const p1 = await probe(page);
    model.audioOut(tone(440, 10_000, 24_000, 8_000));
    await heard(page, p1.levels.length, 15, 'the next long reply playing');
    const contents = model.clientContents.length;
    await page.getByTestId('voice-cancel').click();
    await page.waitForSelector('[data-testid="voice-line"]:has-text("Reply cancelled.")', { timeout: WAIT });
    await model.until(() => model.clientContents.length > contents, 'the cancel at the model');
    await expectCut(t, page, 'client', 'Cancel reply');
    model.turnComplete();
    await flow.browser.screenshot(page, 'voice-live-gemini-desktop');

    const ended = await stopSession(d, page, () => model.until(() => model.closed !== undefined, 'the model hung up', WAIT));
    assert.ok(Number(ended.bargeInDroppedFrames) > 100, `the gateway dropped the cut replies' frames: ${String(ended.bargeInDroppedFrames)}`);
    await noNewAudio(files, d, flow.fixtures.path);
    assert.deepEqual(flow.browser.pageErrors(page), []);
  });
});

describe('voice e2e: Chromium ↔ embedded gateway ↔ OpenAI Realtime stand-in', { timeout: 180_000 }, () => {
  let standIn: OpenAIRealtimeStandIn;
  let d: TestDaemon;
  let flow: Flow;

  before(async () => {
    standIn = await OpenAIRealtimeStandIn.start({ apiKey: OPENAI_KEY });
    d = await startTestDaemon(`[server]\nallow_origins = ["local"]\n[voice-gateway.config]\nbackend = "openai-realtime"\nopenai_url = "${standIn.url}"\n${GATEWAY_SERVER}`, { env: { OPENAI_API_KEY: OPENAI_KEY } });
    flow = await openFlow(d, 600, 2_400);
  });
  after(async () => {
    await flow?.[Symbol.asyncDispose]();
    await d?.[Symbol.asyncDispose]();
    await standIn?.close();
  });

  test('speech in, tasks_list run by the page, the answer heard; barge-in and Cancel reply silence it; Stop closes the session', async (t) => {
    const { page, wav } = flow;
    const files = await snapshot(d, flow.fixtures.path);
    const next = standIn.session();
    await startSession(page);
    const model: RealtimeStandInSession = await next;
    await model.until(() => model.session !== undefined, 'session.update', WAIT);

    // 24 kHz PCM at the model, speech where the WAV has it.
    await model.until(() => model.audioSamples >= 24 * (wav.loopMs + 500), 'a loop of the microphone', WAIT);
    const m = matchLoop(model.allAudio(), 24_000, wav.samples, 48_000);
    assert.ok(m.agreement > 0.9 && m.speechWindows > 20, `the model hears speech where the WAV has it: ${JSON.stringify(m)}`);

    model.speechStarted(600);
    model.speechStopped(1_600);
    model.inputTranscript('item_in_1', ['list ', 'my tasks']);
    model.responseCreated();
    model.functionCall({ callId: 'call_1', name: 'tasks_list', arguments: '{}' });
    model.responseDone();
    const output = await model.waitForOutput(WAIT);
    assert.equal(output.call_id, 'call_1');
    assert.deepEqual(JSON.parse(output.output), { tasks: [] }, 'the daemon has no tasks, and the model is told so');
    await toolLineOk(page);
    await model.until(() => model.responseCreates >= 1, 'response.create after the output', WAIT);

    const from = (await probe(page)).levels.length;
    model.responseCreated();
    model.transcriptOut('You have no tasks.');
    model.audioOut(await speak('You have no tasks.', 24_000));
    model.responseDone();
    await heard(page, from, 20, 'the answer in the page');
    const lines = await transcriptLines(page);
    assert.ok(lines.some((l) => /^you\s*list my tasks$/i.test(l)), lines.join(' | '));
    assert.ok(lines.some((l) => /^assistant\s*You have no tasks\.$/i.test(l)), lines.join(' | '));
    await playedOut(page, from, 'the answer played out');

    // Barge-in: the service's VAD hears the person over a long reply (speech_started while it is audible).
    const p0 = await probe(page);
    model.responseCreated();
    model.audioOut(tone(440, 10_000, 24_000, 8_000), { itemId: 'item_audio_2' });
    await heard(page, p0.levels.length, 15, 'the long reply playing');
    const heardBefore = model.audioSamples;
    await model.until(() => matchLoop(model.allAudio().subarray(heardBefore), 24_000, wav.samples, 48_000).speechWindows > 10, 'the person speaking over the reply', WAIT);
    const truncates = model.truncates.length;
    model.speechStarted();
    await page.waitForSelector('[data-testid="voice-line"]:has-text("Interrupted: you spoke over the reply.")', { timeout: WAIT });
    model.responseDone('cancelled');
    await expectCut(t, page, 'user', 'barge-in');
    await model.until(() => model.truncates.length > truncates, 'conversation.item.truncate', WAIT);
    const heardMs = Number(model.truncates.at(-1)!.audio_end_ms);
    assert.ok(heardMs > 0 && heardMs < 10_000, `the model is told how much of its reply was heard: ${heardMs} ms`);
    model.speechStopped();

    // Cancel reply: response.cancel at the service.
    const p1 = await probe(page);
    model.responseCreated();
    model.audioOut(tone(440, 10_000, 24_000, 8_000), { itemId: 'item_audio_3' });
    await heard(page, p1.levels.length, 15, 'the next long reply playing');
    const cancels = model.cancels;
    await page.getByTestId('voice-cancel').click();
    await page.waitForSelector('[data-testid="voice-line"]:has-text("Reply cancelled.")', { timeout: WAIT });
    await model.until(() => model.cancels > cancels, 'response.cancel', WAIT);
    await expectCut(t, page, 'client', 'Cancel reply');

    await stopSession(d, page, () => model.until(() => model.closed !== undefined, 'the model hung up', WAIT));
    await noNewAudio(files, d, flow.fixtures.path);
    assert.deepEqual(flow.browser.pageErrors(page), []);
  });
});

describe('voice e2e: Chromium ↔ embedded gateway ↔ local stack (stand-in ASR and LLM, real espeak-ng TTS)', { timeout: 180_000 }, () => {
  let servers: OpenAICompatStandIn;
  let d: TestDaemon;
  let flow: Flow;

  before(async () => {
    servers = await OpenAICompatStandIn.start();
    d = await startTestDaemon(
      `[server]\nallow_origins = ["local"]\n[voice-gateway.config]\nbackend = "local-stack"\n${GATEWAY_SERVER}` +
        `[voice-gateway.config.local_stack.asr]\nremote = "${servers.url}"\n[voice-gateway.config.local_stack.llm]\nremote = "${servers.url}/v1"\n`,
    );
    flow = await openFlow(d, 800, 2_400);
  });
  after(async () => {
    await flow?.[Symbol.asyncDispose]();
    await d?.[Symbol.asyncDispose]();
    await servers?.close();
  });

  test('the energy VAD cuts the utterance, ASR, a tasks_list call run by the page, espeak-ng speaks the answer; barge-in and Cancel reply; Stop', async (t) => {
    const { page, wav } = flow;
    const files = await snapshot(d, flow.fixtures.path);
    servers.asr.push({ json: { text: 'list my tasks' } });
    servers.chat.push(chatToolCalls([{ id: 'call_1', name: 'tasks_list', arguments: '{}' }]), chatText('You have no tasks yet.'));
    await startSession(page);

    // One utterance: the speech of the WAV, with the VAD's lead-in, as a 16 kHz WAV to the ASR server.
    await servers.until(() => servers.transcriptions.length >= 1, 'the first utterance at the ASR server', WAIT);
    // The person is quiet now (the WAV would say it again): the turn runs undisturbed.
    await setMic(page, false);
    const u = servers.transcriptions[0]!;
    const speechMs = wav.speechMs.to - wav.speechMs.from;
    assert.equal(u.rate, 16_000);
    assert.ok(u.durationMs > speechMs && u.durationMs < speechMs + 1_500, `the utterance (${u.durationMs.toFixed(0)} ms) holds the speech (${speechMs.toFixed(0)} ms)`);
    assert.ok(u.rms > 500, `with its energy: RMS ${u.rms.toFixed(0)}`);

    // The model's tool call runs in the page; its result is in the second completion's messages.
    await toolLineOk(page);
    await servers.until(() => servers.chats.length >= 2, 'the completion with the tool result', WAIT);
    const messages = servers.chats[1]!.messages as { role: string; content: string; tool_call_id?: string }[];
    const toolMsg = messages.find((x) => x.role === 'tool');
    assert.equal(toolMsg?.tool_call_id, 'call_1');
    assert.deepEqual(JSON.parse(toolMsg.content), { tasks: [] }, JSON.stringify(messages));

    // espeak-ng's answer, heard in the page.
    const from = (await probe(page)).levels.length;
    await heard(page, from, 20, 'the spoken answer in the page');
    const lines = await transcriptLines(page);
    assert.ok(lines.some((l) => /^you\s*list my tasks$/i.test(l)), lines.join(' | '));
    assert.ok(lines.some((l) => /^assistant\s*You have no tasks yet\.$/i.test(l)), lines.join(' | '));
    await playedOut(page, from, 'the answer played out');

    // Barge-in: a long answer; the person speaks again; the gateway's own VAD ends the turn.
    servers.asr.push({ json: { text: 'tell me about my tasks' } });
    servers.chat.push(chatText('Here is a long story about your tasks. '.repeat(12)));
    await setMic(page, true);
    await servers.until(() => servers.transcriptions.length >= 2, 'the second utterance', WAIT);
    await setMic(page, false);
    const p0 = await probe(page);
    await heard(page, p0.levels.length, 15, 'the long answer playing');
    // The utterance that barges in asks nothing (an empty transcript), so nothing follows the cut.
    servers.asr.push({ json: { text: '' } });
    await setMic(page, true);
    await page.waitForSelector('[data-testid="voice-line"]:has-text("Interrupted: you spoke over the reply.")', { timeout: WAIT });
    await setMic(page, false);
    await expectCut(t, page, 'user', 'barge-in');
    await servers.until(() => servers.transcriptions.length >= 3, 'the barge-in utterance', WAIT);

    // Cancel reply during a long answer.
    servers.asr.push({ json: { text: 'and again' } });
    servers.chat.push(chatText('Here is another long story about your tasks. '.repeat(12)));
    await setMic(page, true);
    await servers.until(() => servers.transcriptions.length >= 4, 'the fourth utterance', WAIT);
    await setMic(page, false);
    const p1 = await probe(page);
    await heard(page, p1.levels.length, 15, 'the next long answer playing');
    await page.getByTestId('voice-cancel').click();
    await page.waitForSelector('[data-testid="voice-line"]:has-text("Reply cancelled.")', { timeout: WAIT });
    await expectCut(t, page, 'client', 'Cancel reply');
    await flow.browser.screenshot(page, 'voice-live-local-desktop');

    // The local stack holds no connection to a model: its session ends with the gateway's.
    await stopSession(d, page, () => Promise.resolve());
    await noNewAudio(files, d, flow.fixtures.path);
    assert.deepEqual(flow.browser.pageErrors(page), []);
  });
});

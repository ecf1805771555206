// The embedded WebRTC voice gateway on a real daemon: a werift client ↔ the gateway ↔ the Gemini Live stand-in; speech, tool calls, barge-in, cancel, idle, ownership, caps, shutdown, message bounds, no audio on disk.
import assert from 'node:assert/strict';
import { open, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { VoiceTokenResp } from '../../src/api/index.js';
import { VoiceTokenIssuer } from '../../src/voice/index.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { GeminiLiveStandIn, rms, tone, type StandInSession } from '../helpers/gemini-live-standin.js';
import { http } from '../helpers/http.js';
import { speak } from '../helpers/speech.js';
import { makeOffer, OfferRefused, postClose, postOffer, silence48k, VoiceTestClient, type VoiceClientEvent } from '../helpers/voice-client.js';
import { refusedTokens } from '../helpers/voice-tokens.js';

const KEY = 'AIzaSyStandInKey-0123456789abcdefWXYZ';
/** Above this RMS (relative to full scale: -40 dBFS) a decoded 20 ms frame is sound; digital silence decodes to about 0, the test tone to 0.17. */
const SOUND_RMS = 0.01;
const TOOLS = [{ name: 'tasks_list', description: 'List the tasks', parameters: { type: 'object', properties: { limit: { type: 'integer' } } } }];

function gatewayToml(url: string): string {
  return `[voice-gateway.config]\ngemini_url = "${url}"\n[voice-gateway.config.server]\nannounce_addresses = ["127.0.0.1"]\n`;
}

async function token(d: TestDaemon): Promise<VoiceTokenResp> {
  const res = await http(`${d.url}/api/v1/voice/token`);
  assert.equal(res.status, 200, res.body);
  return res.json<VoiceTokenResp>();
}

/** A token for another user of the same host (signed with the daemon's own key). */
async function tokenFor(d: TestDaemon, sub: string): Promise<string> {
  const id = d.daemon.voice.identity!;
  const issuer = new VoiceTokenIssuer({ privateKey: id.key.privateKey, instanceId: id.instanceId });
  return (await issuer.issue(sub, new URL(d.url).origin)).token;
}

/** RMS of each 20 ms window of 16 kHz PCM. */
function windows16k(pcm: Int16Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 320 <= pcm.length; i += 320) out.push(rms(pcm.subarray(i, i + 320)));
  return out;
}

/** Frames of a cut reply that may still arrive after `interrupted`: the one werift was encrypting when the queue was dropped, and one the receiver's SCTP stack let the RTP path overtake. */
const IN_FLIGHT = 2;
/** The cut replies are loud (RMS 0.17), the replies after them quiet (0.03): a frame above this is of the cut reply. */
const CUT_RMS = 0.1;

/** Every file under `dir` (to `depth` levels; unreadable directories skipped). */
async function listFiles(dir: string, depth = 12): Promise<Set<string>> {
  const out = new Set<string>();
  async function walk(d: string, left: number): Promise<void> {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory() && left > 0) await walk(p, left - 1);
      else if (e.isFile()) out.add(p);
    }
  }
  await walk(dir, depth);
  return out;
}

/** A WAV, Ogg, WebM or MP3 by its first bytes, or an audio extension. */
async function looksLikeAudio(path: string): Promise<boolean> {
  if (/\.(wav|opus|ogg|pcm|raw|webm|mp3)$/i.test(path)) return true;
  try {
    const fh = await open(path, 'r');
    try {
      const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 0);
      const magic = buffer.subarray(0, bytesRead).toString('latin1');
      return ['RIFF', 'OggS', '\x1aE\xdf\xa3', 'ID3\x03'].includes(magic);
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

describe('embedded gateway, Gemini Live stand-in', () => {
  let standIn: GeminiLiveStandIn;
  let d: TestDaemon;
  before(async () => {
    standIn = await GeminiLiveStandIn.start({ apiKey: KEY });
    d = await startTestDaemon(gatewayToml(standIn.url), { env: { GEMINI_API_KEY: KEY }, voiceGateway: { maxSessions: 4, maxSessionsPerSub: 2 } });
  });
  after(async () => {
    await d[Symbol.asyncDispose]();
    await standIn.close();
  });

  test('speech reaches the model where the WAV has it; a tool call goes to the client and its result back; the answer is heard', async () => {
    const t = await token(d);
    assert.equal(t.gatewayUrl, new URL(d.url).origin, 'embedded: the daemon is the gateway');
    await using client = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token });
    const sessionPromise = standIn.session();
    await client.setup({ tools: TOOLS, context: 'two tasks are running' });
    const model: StandInSession = await sessionPromise;
    const sys = JSON.stringify(model.setup?.systemInstruction);
    assert.match(sys, /app runs each tool call/, 'the gateway instruction says tools run on the client');
    assert.match(sys, /two tasks are running/);

    const speech = await speak('list my tasks', 48_000);
    const lead = silence48k(600);
    const tail = silence48k(600);
    await client.speak(Int16Array.from([...lead, ...speech, ...tail]));
    const sent16k = (lead.length + speech.length + tail.length) / 3;
    await model.until(() => model.audioSamples >= sent16k * 0.9, 'the microphone audio');
    const w = windows16k(model.allAudio());
    const leadWindows = Math.floor(600 / 20);
    // The first 400 ms (well inside the lead silence, past codec start-up) and the last 400 ms are silent; the speech between is loud.
    assert.ok(Math.max(...w.slice(2, leadWindows - 10)) < 50, `lead silence is silent: ${Math.max(...w.slice(2, leadWindows - 10))}`);
    const speechWindows = w.slice(leadWindows, leadWindows + Math.floor(speech.length / 960));
    assert.ok(Math.max(...speechWindows) > 1000, `speech arrives with its energy: ${Math.max(...speechWindows)}`);
    const end = Math.floor(sent16k / 320);
    assert.ok(Math.max(...w.slice(end - 25, end - 5)) < 50, 'trailing silence is silent');

    model.toolCall([{ id: 'call-1', name: 'tasks_list', args: { limit: 5 } }]);
    const call = await client.message('tool.call');
    assert.deepEqual(call, { type: 'tool.call', id: 'call-1', name: 'tasks_list', args: { limit: 5 } });
    client.send({ type: 'tool.result', id: 'call-1', name: 'tasks_list', result: { tasks: [{ n: 1, title: 'fix CI' }] } });
    const response = await model.waitForToolResponse();
    assert.deepEqual(response.response, { tasks: [{ n: 1, title: 'fix CI' }] });

    const before = client.frames.length;
    model.audioOut(tone(440, 1_000, 24_000));
    model.turnComplete();
    await client.until(() => client.frames.slice(before).filter((f) => f.rms > SOUND_RMS).length >= 45, 'the answer (45 loud frames)');
    // Pacing itself is timed in test/unit/voice-pacer.test.ts, with a clock of its own: arrival times
    // here share one process with the gateway, so a busy machine bunches them.
    const heard = client.frames.slice(before);
    const seqs = heard.map((f) => f.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1]! + 1) & 0xffff, 'consecutive sequence numbers');
    assert.deepEqual(client.junk, []);
  });

  /**
   * A reply of `ms` queued at the gateway (the stand-in sends it all at once, as models do); waits
   * until the client hears it. Returns the index in `client.events` after which it was heard.
   */
  async function replyPlaying(client: VoiceTestClient, model: StandInSession, ms: number): Promise<void> {
    const from = client.events.length;
    model.audioOut(tone(440, ms, 24_000, 8_000));
    await client.until(() => client.events.slice(from).filter((e) => e.kind === 'frame' && e.rms > CUT_RMS).length >= 10, 'the reply playing');
  }

  /**
   * Loud frames of the cut reply after the `interrupted` message, up to the first frame of the next
   * reply (quieter: a different level, so the two cannot be confused).
   */
  function cutFramesAfter(client: VoiceTestClient, source: 'user' | 'client'): { after: number; before: number } {
    const at = client.events.findIndex((e) => e.kind === 'message' && e.message.type === 'interrupted' && e.message.source === source);
    assert.ok(at >= 0, 'interrupted arrived');
    const isCut = (e: VoiceClientEvent) => e.kind === 'frame' && e.rms > CUT_RMS;
    return { after: client.events.slice(at).filter(isCut).length, before: client.events.slice(0, at).filter(isCut).length };
  }

  /** Closes the client's session and returns the gateway's log line of its end (counts, never audio). */
  async function endedLog(client: VoiceTestClient): Promise<Record<string, unknown>> {
    await client.close();
    const line = d.logs.find('voice session ended').find((r) => r.session === client.sessionId);
    assert.ok(line, 'the session end is logged');
    return line;
  }

  async function nextReplyHeard(client: VoiceTestClient, model: StandInSession): Promise<void> {
    const from = client.events.length;
    model.audioOut(tone(660, 400, 24_000, 1_500));
    model.turnComplete();
    await client.until(() => client.events.slice(from).filter((e) => e.kind === 'frame' && e.rms > SOUND_RMS && e.rms < CUT_RMS).length >= 10, 'the next reply');
  }

  test('barge-in: the user speaks over the reply → interrupted, and the rest of the reply never plays', async () => {
    const t = await token(d);
    await using client = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token });
    const next = standIn.session();
    await client.setup();
    const model = await next;
    await replyPlaying(client, model, 3_000);
    // The user talks over it; the model (the stand-in, as Gemini's VAD would) hears speech and interrupts.
    const heardBefore = model.audioSamples;
    const speaking = client.speak(await speak('stop, tell task two to add tests', 48_000));
    await model.until(() => windows16k(model.allAudio().subarray(heardBefore)).some((r) => r > 1000), 'the user speech at the model');
    model.interrupted();
    await client.message('interrupted', (m) => m.source === 'user');
    await speaking;
    model.turnComplete();
    await nextReplyHeard(client, model);
    const { after, before } = cutFramesAfter(client, 'user');
    // 3 s of reply is 150 frames; most were still queued when the user spoke.
    assert.ok(before < 120, `the reply was cut short (${before} of 150 frames played)`);
    assert.ok(after <= IN_FLIGHT, `${after} frames of the cut reply after interrupted (at most ${IN_FLIGHT} in flight)`);
    const ended = await endedLog(client);
    assert.ok(Number(ended.bargeInDroppedFrames) > 0, 'the gateway dropped the queued frames');
  });

  test('turn.cancel: the reply stops at once with interrupted {source: client}; the next reply plays', async () => {
    const t = await token(d);
    await using client = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token });
    const next = standIn.session();
    await client.setup();
    const model = await next;
    await replyPlaying(client, model, 3_000);
    const contents = model.clientContents.length;
    client.send({ type: 'turn.cancel', reason: 'user tapped stop' });
    await client.message('interrupted', (m) => m.source === 'client');
    await model.until(() => model.clientContents.length > contents, 'the cancel note at the model');
    model.turnComplete();
    await nextReplyHeard(client, model);
    const { after, before } = cutFramesAfter(client, 'client');
    assert.ok(before < 120, `cut short (${before} of 150)`);
    assert.ok(after <= IN_FLIGHT, `${after} frames of the cancelled reply after interrupted`);
  });

  test('bad messages get error {recoverable: true} and the session goes on; a flood is cut to the rate', async () => {
    const t = await token(d);
    await using client = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token });
    const errorsFrom = (from: number) => client.events.slice(from).flatMap((e) => (e.kind === 'message' && e.message.type === 'error' ? [e.message] : []));
    let from = client.events.length;
    client.send({ type: 'context.update', context: 'too early' });
    await client.message('error', (m) => /session\.setup first/.test(m.message) && m.recoverable, 5_000, from);
    const next = standIn.session();
    await client.setup();
    const model = await next;
    from = client.events.length;
    client.send('not json');
    client.send({ type: 'no.such.type' });
    client.send({ type: 'tool.result', id: 'x', name: 'bad name!', result: 1 });
    client.send({ type: 'context.update', context: 'x'.repeat(300 * 1024) });
    client.send({ type: 'session.setup', tools: [] });
    await client.until(() => errorsFrom(from).length >= 5, 'five errors');
    const errors = errorsFrom(from);
    assert.ok(errors.every((e) => e.type === 'error' && e.recoverable));
    assert.match(JSON.stringify(errors), /not JSON.*unknown message type.*invalid tool\.result.*too large.*already sent/s);
    // Still working: a context update reaches the model.
    const contents = model.clientContents.length;
    client.send({ type: 'context.update', context: 'task 2 is asking a question' });
    await model.until(() => model.clientContents.length > contents, 'the context update');
    assert.match(JSON.stringify(model.clientContents.at(-1)), /task 2 is asking/);
    // A flood: far more messages than the rate in an instant; some are refused, once said.
    from = client.events.length;
    for (let i = 0; i < 200; i++) client.send({ type: 'context.update', context: `flood ${i}` });
    await client.message('error', (m) => /too many messages/.test(m.message) && m.recoverable, 5_000, from);
    assert.equal(errorsFrom(from).filter((e) => e.type === 'error' && /too many/.test(e.message)).length, 1, 'said once per flood');
    assert.equal(client.closedBy, null, 'the session is still open');
  });

  test('close: only the user who opened it (anyone else: 404, as for an unknown id); a second close says closed: false', async () => {
    const t = await token(d);
    const client = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token });
    const other = await tokenFor(d, 'mallory');
    const stolen = await postClose(t.gatewayUrl, other, client.sessionId);
    assert.equal(stolen.status, 404, JSON.stringify(stolen.body));
    assert.equal(client.closedBy, null, 'still open');
    assert.equal((await postClose(t.gatewayUrl, null, client.sessionId)).status, 401);
    assert.equal((await postClose(t.gatewayUrl, t.token, 'AAAAAAAAAAAAAAAAAAAAAA')).status, 404);
    const closed = await postClose(t.gatewayUrl, t.token, client.sessionId);
    assert.equal(closed.status, 200);
    assert.deepEqual(closed.body, { closed: true });
    await client.closed();
    assert.deepEqual((await postClose(t.gatewayUrl, t.token, client.sessionId)).body, { closed: false });
    assert.equal((await postClose(t.gatewayUrl, other, client.sessionId)).status, 404, 'an ended session is not someone else\'s to ask about either');
    await client.close();
  });

  test('caps: per user and in total → 429 with what to do', async () => {
    assert.equal(d.daemon.voiceGateway!.size, 0, 'the tests before closed theirs');
    const t = await token(d);
    const open: VoiceTestClient[] = [];
    try {
      open.push(await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token }));
      open.push(await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token }));
      const third = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token }).catch((e: unknown) => e);
      assert.ok(third instanceof OfferRefused && third.status === 429, String(third));
      assert.match(third.body.error?.message ?? '', /already have 2 voice sessions open.*close one/);
      open.push(await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: await tokenFor(d, 'bob') }));
      open.push(await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: await tokenFor(d, 'carol') }));
      const full = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: await tokenFor(d, 'dave') }).catch((e: unknown) => e);
      assert.ok(full instanceof OfferRefused && full.status === 429, String(full));
      assert.match(full.body.error?.message ?? '', /gateway is full \(4 sessions/);
    } finally {
      await Promise.all(open.map((c) => c.close()));
    }
    assert.equal(d.daemon.voiceGateway!.size, 0, 'every session closed');
  });

  test('token refusals: each wrong token, no token, a session cookie → 401 naming the reason; bad SDP → 400; junk never a 5xx', async () => {
    const id = d.daemon.voice.identity!;
    const { sdp, pc } = await makeOffer();
    try {
      for (const bad of await refusedTokens({ privateKey: id.key.privateKey, instanceId: id.instanceId, origin: new URL(d.url).origin })) {
        const res = await postOffer(d.url, bad.token, sdp);
        assert.equal(res.status, 401, `${bad.name}: ${JSON.stringify(res.body)}`);
        assert.match(JSON.stringify(res.body), bad.reason, bad.name);
      }
      const none = await postOffer(d.url, null, sdp);
      assert.equal(none.status, 401);
      assert.match(JSON.stringify(none.body), /voice token is required/);
      assert.equal((await postOffer(d.url, null, sdp, { cookie: 'caic_session=eyJhbGciOiJIUzI1NiJ9.e30.x' })).status, 401);
      const t = await token(d);
      const garbage = await postOffer(d.url, t.token, 'v=0\r\nthis is not sdp\r\n');
      assert.equal(garbage.status, 400, JSON.stringify(garbage.body));
      const noChannel = await postOffer(d.url, t.token, sdp.replace(/m=application[\s\S]*$/, ''));
      assert.equal(noChannel.status, 400);
      assert.match(JSON.stringify(noChannel.body), /no data channel/);
      for (const body of ['{', '{"type":"offer"}', JSON.stringify({ type: 'offer', sdp: 'x'.repeat(70_000) }), JSON.stringify({ type: 'answer', sdp })]) {
        const res = await http(`${d.url}/api/v1/voice/rtc/offer`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` }, body });
        assert.ok(res.status >= 400 && res.status < 500, `${body.slice(0, 30)} → ${res.status}`);
      }
      assert.equal(d.daemon.voiceGateway!.size, 0, 'no session from any of them');
    } finally {
      await pc.close();
    }
  });

  test('no audio file appears under the daemon\'s directories or /tmp after a session', async () => {
    const beforeDaemon = await listFiles(d.dir.path);
    const beforeTmp = await listFiles(tmpdir(), 3);
    const t = await token(d);
    {
      await using client = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token });
      const next = standIn.session();
      await client.setup();
      const model = await next;
      await client.speak(await speak('hello there', 48_000));
      model.audioOut(tone(440, 400, 24_000));
      model.turnComplete();
      await client.until(() => client.frames.filter((f) => f.rms > SOUND_RMS).length >= 10, 'the reply');
    }
    const newDaemon = [...(await listFiles(d.dir.path))].filter((f) => !beforeDaemon.has(f));
    // Test files run in parallel: other tests' own temp dirs (caic-test-*, the browser e2e's
    // fake-microphone WAV in caic-voice-e2e-*, Chromium profiles) are theirs, not the daemon's. The daemon's dirs are checked in full above.
    const othersTests = (f: string) => /^caic-(test|voice-e2e|chromium)-/.test(relative(tmpdir(), f)) && !f.startsWith(d.dir.path);
    const newTmp = [...(await listFiles(tmpdir(), 3))].filter((f) => !beforeTmp.has(f) && !othersTests(f));
    const audio = [];
    for (const f of [...newDaemon, ...newTmp]) if (await looksLikeAudio(f)) audio.push(f);
    assert.deepEqual(audio, [], 'audio files written');
    assert.ok(newDaemon.every((f) => !/\.(wav|opus|ogg|pcm|raw|webm|mp3)$/i.test(f)), newDaemon.join(', '));
  });
});

describe('embedded gateway: idle timeout, shutdown, a backend that cannot run', () => {
  test('a session with nothing going on ends after the idle time; the daemon shutting down ends the others and the model hears it', async () => {
    await using standIn = Object.assign(await GeminiLiveStandIn.start({ apiKey: KEY }), { async [Symbol.asyncDispose]() { await standIn.close(); } });
    const d = await startTestDaemon(gatewayToml(standIn.url), { env: { GEMINI_API_KEY: KEY }, voiceGateway: { idleMs: 1_500 } });
    try {
      const t = await token(d);
      const idle = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token });
      const busy = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token });
      const next = standIn.session();
      await busy.setup();
      const model = await next;
      // The busy client keeps talking (silence is still audio); the idle one says nothing at all.
      const talking = busy.speak(silence48k(2_500));
      assert.match(await idle.closed(5_000), /closed/);
      const idleEnd = d.logs.find('voice session ended').find((r) => r.session === idle.sessionId);
      assert.match(String(idleEnd?.reason), /idle for 2 s/);
      await talking;
      assert.equal(busy.closedBy, null, 'the session with audio going on is not idle');
      assert.equal(d.daemon.voiceGateway!.size, 1);
      await d.daemon.close();
      assert.match(await busy.closed(5_000), /closed/);
      await model.until(() => model.closed !== undefined, 'the model connection to close');
      assert.match(String(d.logs.find('voice session ended').find((r) => r.session === busy.sessionId)?.reason), /shutting down/);
      await idle.close();
      await busy.close();
    } finally {
      await d[Symbol.asyncDispose]();
    }
  });

  test('a backend that cannot run here turns voice off with its reason: no token, no rtc routes, no crash', async () => {
    await using d = await startTestDaemon('[voice-gateway.config]\nbackend = "local-stack"\n', { env: {} });
    const cfg = (await http(`${d.url}/api/v1/server/config`)).json<{ voice: { enabled: boolean; mode: string; reason: string } }>();
    // The local stack without its servers' URLs cannot run: voice is off, saying which to set.
    assert.equal(d.daemon.voiceGateway, null);
    assert.equal(cfg.voice.enabled, false);
    assert.match(cfg.voice.reason, /local_stack\.asr\] remote/);
    assert.equal((await http(`${d.url}/api/v1/voice/token`)).status, 409);
    const { sdp, pc } = await makeOffer();
    assert.equal((await postOffer(d.url, 'x', sdp)).status, 404);
    await pc.close();
  });
});

// The embedded WebRTC voice gateway on a real daemon: a werift client ↔ the gateway ↔ the Gemini Live stand-in; speech, tool calls, barge-in, cancel, idle, ownership, caps, shutdown, message bounds, no audio on disk.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { VoiceTokenResp } from '../../src/api/index.js';
import { VoiceTokenIssuer } from '../../src/voice/index.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { GeminiLiveStandIn, rms, tone, type StandInSession } from '../helpers/gemini-live-standin.js';
import { http } from '../helpers/http.js';
import { speak } from '../helpers/speech.js';
import { makeOffer, OfferRefused, postClose, postOffer, silence48k, VoiceTestClient } from '../helpers/voice-client.js';

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
    model.audioOut(tone(440, 600, 24_000));
    model.turnComplete();
    await client.until(() => client.frames.slice(before).filter((f) => f.rms > SOUND_RMS).length >= 20, 'the answer (20 loud frames)');
    const heard = client.frames.slice(before);
    // Paced in real time: 600 ms of reply takes about 600 ms to arrive, not a burst.
    const loud = heard.filter((f) => f.rms > SOUND_RMS);
    assert.ok(loud.at(-1)!.at - loud[0]!.at >= 300, `paced: ${loud.at(-1)!.at - loud[0]!.at} ms for ${loud.length} frames`);
    const seqs = heard.map((f) => f.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1]! + 1) & 0xffff, 'consecutive sequence numbers');
    assert.deepEqual(client.junk, []);
  });
});

// The gateway's timing seam (bench:voice): every microphone packet and every assistant packet is reported with the RTP numbers seen on the wire and its timestamps in order; a barge-in drops the timings of the packets it drops.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RtcTiming } from '../../src/voice/index.js';
import { EchoBackend, serveGateway } from '../helpers/echo-backend.js';
import { tone } from '../helpers/gemini-live-standin.js';
import { VoiceTestClient } from '../helpers/voice-client.js';

type Mic = Extract<RtcTiming, { kind: 'mic' }>;
type Assistant = Extract<RtcTiming, { kind: 'assistant' }>;

describe('gateway timing (onTiming)', () => {
  test('each microphone packet: its SSRC and sequence number, received before its PCM is handed to the backend', async () => {
    const backend = new EchoBackend({ reply: 'none' });
    const timings: { id: string; t: RtcTiming }[] = [];
    await using gw = await serveGateway(backend, { onTiming: (id, t) => timings.push({ id, t }) });
    await using client = await VoiceTestClient.connect({ gatewayUrl: gw.url, token: await gw.token('alice') });
    const opened = backend.nextSession();
    await client.setup();
    const session = await opened;
    const frames = 25;
    await client.speak(tone(300, frames * 20, 48_000));
    const mic = () => timings.filter((x) => x.t.kind === 'mic').map((x) => x.t as Mic);
    await client.until(() => mic().length >= frames, `${frames} microphone timings`, 10_000).catch(() => {});
    const got = mic();
    assert.equal(got.length, frames, 'one timing per packet sent after session.ready');
    assert.ok(timings.every((x) => x.id === client.sessionId), 'reported under the session id');
    assert.equal(new Set(got.map((m) => m.ssrc)).size, 1, 'one SSRC: the client\'s track');
    for (let i = 1; i < got.length; i++) assert.equal(got[i]!.sequenceNumber, (got[i - 1]!.sequenceNumber + 1) & 0xffff, 'in order, none missed');
    for (const m of got) assert.ok(m.received <= m.handed, 'received, then handed');
    assert.equal(session.stats().sentAudioBytes, frames * 320 * 2, 'each packet\'s 20 ms at 16 kHz reached the backend');
  });

  test('each assistant packet: the event that made it, queued, released; the numbers are those the client receives; a barge-in drops the pending timings', async () => {
    const backend = new EchoBackend({ reply: 'none' });
    const timings: Assistant[] = [];
    await using gw = await serveGateway(backend, { onTiming: (_id, t) => t.kind === 'assistant' && timings.push(t) });
    await using client = await VoiceTestClient.connect({ gatewayUrl: gw.url, token: await gw.token('bob') });
    const opened = backend.nextSession();
    await client.setup();
    const session = await opened;

    // A second of reply at once (as models send it): 50 packets wait for their slots.
    const firstAt = performance.now();
    session.emit({ type: 'audio', pcm: tone(440, 1_000, 24_000), sampleRate: 24_000 });
    await client.until(() => client.frames.length >= 5, 'the first frames of the reply');
    session.emit({ type: 'interrupted', source: 'user' });
    const cutAt = timings.length;
    assert.ok(cutAt < 50, `the reply was cut (${cutAt} of 50 sent)`);

    const secondAt = performance.now();
    session.emit({ type: 'audio', pcm: tone(220, 200, 24_000), sampleRate: 24_000 });
    await client.until(() => timings.length >= cutAt + 10, 'the timings of the second reply');
    const first = timings.slice(0, cutAt);
    const second = timings.slice(cutAt);
    assert.equal(second.length, 10, 'ten packets of 20 ms, each reported once');
    for (const t of first) assert.ok(t.emitted >= firstAt && t.emitted < secondAt, 'the first reply\'s packets come from the first event');
    // Without the barge-in dropping them, the cut reply's pending timings would be paired with these packets.
    for (const t of second) assert.ok(t.emitted >= secondAt, `the second reply's packets come from the second event (${t.emitted} < ${secondAt})`);
    for (const t of timings) assert.ok(t.emitted <= t.queued && t.queued <= t.released, 'emitted, queued, released in order');
    assert.ok(first.slice(1).some((t) => t.released > t.queued), 'a burst waits for its slots: released after queued');

    // The numbers are the wire's: every frame the client got has its timing.
    await client.until(() => client.frames.some((f) => f.seq === second.at(-1)!.sequenceNumber), 'the last packet at the client');
    const reported = new Set(timings.map((t) => t.sequenceNumber));
    for (const f of client.frames) assert.ok(reported.has(f.seq), `frame ${f.seq} has a timing`);
    assert.equal(new Set(timings.map((t) => t.ssrc)).size, 1);
  });
});

// The gateway's audio at the model's rates: the microphone reaches the backend at 16 kHz with its pitch and level (decoded straight to 16 kHz), and the model's voice is heard whatever its rate (24 kHz encoded as is, others resampled), one 20 ms packet per 20 ms.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EchoBackend, serveGateway } from '../helpers/echo-backend.js';
import { tone } from '../helpers/gemini-live-standin.js';
import { VoiceTestClient } from '../helpers/voice-client.js';

/** The tone's RMS relative to full scale is 8000 / 32768 / √2 ≈ 0.17; a decoded frame of it is well above this. */
const LOUD = 0.1;

/** Frequency from the spacing of upward zero crossings. */
function zeroCrossingHz(samples: Int16Array, rate: number): number {
  const ups: number[] = [];
  for (let i = 1; i < samples.length; i++) if (samples[i - 1]! < 0 && samples[i]! >= 0) ups.push(i - samples[i]! / (samples[i]! - samples[i - 1]!));
  return ((ups.length - 1) * rate) / (ups.at(-1)! - ups[0]!);
}

function rmsOf(pcm: Int16Array): number {
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return Math.sqrt(sum / Math.max(1, pcm.length)) / 32768;
}

describe('gateway audio rates', () => {
  test('the microphone reaches the backend as 16 kHz PCM with its pitch and level', async () => {
    const backend = new EchoBackend({ reply: 'none', keep: true });
    await using gw = await serveGateway(backend);
    await using client = await VoiceTestClient.connect({ gatewayUrl: gw.url, token: await gw.token('carol') });
    const opened = backend.nextSession();
    await client.setup();
    const session = await opened;
    await client.speak(tone(300, 1_000, 48_000));
    await client.until(() => session.heard.length >= 50, 'fifty 20 ms chunks at the backend');
    assert.ok(session.heard.every((c) => c.length === 320), 'each packet is 20 ms at 16 kHz');
    const pcm = Int16Array.from(session.heard.slice(5, 45).flatMap((c) => [...c]));
    const hz = zeroCrossingHz(pcm, 16_000);
    assert.ok(Math.abs(hz - 300) < 2, `pitch at 16 kHz: ${hz}`);
    assert.ok(Math.abs(rmsOf(pcm) - 8000 / 32768 / Math.SQRT2) < 0.03, `level ${rmsOf(pcm)}`);
  });

  test('the model\'s voice at 24, 22.05, 16 and 48 kHz (one session, the rate changing) is heard, 20 ms per packet', async () => {
    const backend = new EchoBackend({ reply: 'none' });
    await using gw = await serveGateway(backend);
    await using client = await VoiceTestClient.connect({ gatewayUrl: gw.url, token: await gw.token('dave') });
    const opened = backend.nextSession();
    await client.setup();
    const session = await opened;
    for (const rate of [24_000, 22_050, 16_000, 48_000, 24_000]) {
      const from = client.frames.length;
      session.emit({ type: 'audio', pcm: tone(440, 400, rate), sampleRate: rate });
      const loud = () => client.frames.slice(from).filter((f) => f.rms > LOUD).length;
      await client.until(() => loud() >= 18, `18 loud frames of the ${rate} Hz reply`);
    }
    // 400 ms is 20 packets; a resampler's delay may hold back the last one of a reply (dropped when the rate changes).
    await client.until(() => client.frames.length >= 5 * 19, 'every reply');
    assert.ok(client.frames.length <= 5 * 20, `${client.frames.length} packets for 5 × 400 ms`);
    const seqs = client.frames.map((f) => f.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1]! + 1) & 0xffff, 'one stream, numbered on across the rate changes');
  });
});

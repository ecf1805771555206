// The voice gateway's audio pipeline with real speech (espeak-ng, rendered in memory): PCM helpers,
// resampling (tone kept, out-of-band content filtered rather than aliased), 20 ms framing, the
// per-session Opus codec (speech energy survives a round trip, hostile packets never throw) and
// the energy VAD (finds espeak's utterances, ignores low noise).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bytesToInt16,
  codecFloor,
  EnergyVad,
  floatToInt16,
  Framer,
  int16ToBytes,
  int16ToFloat,
  OPUS_FRAME_SAMPLES,
  OPUS_MAX_SAMPLES,
  OPUS_RATE,
  OpusCodec,
  resample,
  Resampler,
  rms,
  toDbfs,
  type VadEvent,
} from '../../src/voice/index.js';
import { speak, voicedBounds } from '../helpers/speech.js';

const tone = (freq: number, rate: number, seconds: number, amplitude = 0.5) =>
  Int16Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * freq * i) / rate)));

/** Amplitude (0..1 of full scale) of one frequency in a signal (Goertzel), skipping the edges. */
function amplitudeAt(samples: Int16Array, freq: number, rate: number): number {
  const from = Math.floor(samples.length / 8);
  const to = samples.length - from;
  const w = (2 * Math.PI * freq) / rate;
  let re = 0;
  let im = 0;
  for (let i = from; i < to; i++) {
    re += samples[i]! * Math.cos(w * i);
    im -= samples[i]! * Math.sin(w * i);
  }
  return (2 * Math.hypot(re, im)) / (to - from) / 32768;
}

/** Frequency from the spacing of upward zero crossings. */
function zeroCrossingHz(samples: Int16Array, rate: number): number {
  const ups: number[] = [];
  for (let i = 1; i < samples.length; i++) if (samples[i - 1]! < 0 && samples[i]! >= 0) ups.push(i - samples[i]! / (samples[i]! - samples[i - 1]!));
  return ((ups.length - 1) * rate) / (ups.at(-1)! - ups[0]!);
}

/** Deterministic white noise at `dbfs` (RMS). */
function noise(length: number, dbfs: number, seed = 1): Int16Array {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const scale = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3);
  return Int16Array.from({ length }, () => Math.round(rnd() * scale));
}

function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function mix(a: Int16Array, b: Int16Array): Int16Array {
  return Int16Array.from(a, (x, i) => Math.max(-32768, Math.min(32767, x + (b[i] ?? 0))));
}

function frames(samples: Int16Array, size: number): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i + size <= samples.length; i += size) out.push(samples.subarray(i, i + size));
  return out;
}

describe('PCM helpers', () => {
  test('int16 ↔ float round-trips, float → int16 clamps and rounds, NaN is silence', () => {
    const s = Int16Array.of(-32768, -1, 0, 1, 12345, 32767);
    assert.deepEqual(floatToInt16(int16ToFloat(s)), s);
    assert.deepEqual(floatToInt16(Float32Array.of(1.5, -2, Number.NaN, 0.5, -0.5)), Int16Array.of(32767, -32768, 0, 16384, -16384));
  });

  test('RMS of a sine is amplitude/√2; silence is -100 dBFS, not -Infinity', () => {
    assert.ok(Math.abs(rms(tone(440, 48000, 1, 0.5)) - 0.5 / Math.SQRT2) < 1e-3);
    assert.equal(toDbfs(rms(new Int16Array(960))), -100);
    assert.ok(Math.abs(toDbfs(0.1) + 20) < 1e-9);
  });

  test('bytes ↔ int16 (little-endian): a view when aligned, a copy when not; an odd trailing byte is dropped', () => {
    const buf = new Uint8Array([0xff, 1, 0, 2, 0, 3]);
    assert.deepEqual(bytesToInt16(buf.subarray(1)), Int16Array.of(1, 2));
    assert.equal(bytesToInt16(buf.subarray(0, 4)).buffer, buf.buffer);
    assert.deepEqual(int16ToBytes(Int16Array.of(1, -2)), Uint8Array.of(1, 0, 0xfe, 0xff));
  });
});

describe('resampling', () => {
  test('48 → 16 kHz keeps a 440 Hz tone (frequency and level) and filters 9 and 12 kHz out instead of aliasing them', () => {
    const out = resample(tone(440, 48000, 1), 48000, 16000);
    assert.equal(out.length, 16000);
    assert.ok(Math.abs(zeroCrossingHz(out.subarray(1000, 15000), 16000) - 440) < 0.5, `${zeroCrossingHz(out, 16000)} Hz`);
    assert.ok(Math.abs(20 * Math.log10(amplitudeAt(out, 440, 16000) / 0.5)) < 0.1, 'passband level within 0.1 dB');
    for (const f of [9000, 12000]) {
      const high = resample(tone(f, 48000, 1), 48000, 16000);
      // Plain decimation would fold 9 kHz to 7 kHz and 12 kHz to 4 kHz at full level.
      const alias = 16000 - f;
      assert.ok(toDbfs(rms(high, 1000, 15000)) < -70, `${f} Hz leaves ${toDbfs(rms(high, 1000, 15000)).toFixed(1)} dBFS`);
      assert.ok(amplitudeAt(high, alias, 16000) < 1e-3, `${f} Hz → ${alias} Hz alias`);
    }
  });

  test('24 → 48 kHz and 16 → 48 kHz keep the tone and leave no image above the old Nyquist', () => {
    for (const from of [24000, 16000]) {
      const out = resample(tone(440, from, 1), from, 48000);
      assert.equal(out.length, 48000);
      assert.ok(Math.abs(zeroCrossingHz(out.subarray(2000, 46000), 48000) - 440) < 0.5);
      assert.ok(Math.abs(20 * Math.log10(amplitudeAt(out, 440, 48000) / 0.5)) < 0.1);
      // Zero-stuffing without a filter puts a copy of the tone at from − 440 Hz.
      assert.ok(amplitudeAt(out, from - 440, 48000) < 1e-3, `image at ${from - 440} Hz: ${amplitudeAt(out, from - 440, 48000)}`);
    }
  });

  test('chunk by chunk equals all at once, for odd chunk sizes (state carries across calls)', () => {
    const input = concat(tone(440, 48000, 0.3), tone(3000, 48000, 0.2));
    const whole = new Resampler(48000, 16000).process(input);
    const r = new Resampler(48000, 16000);
    const parts: Int16Array[] = [];
    for (let i = 0, k = 0; i < input.length; k++) {
      const n = [1, 7, 959, 2, 3001, 0, 480][k % 7]!;
      parts.push(r.process(input.subarray(i, i + n)));
      i += n;
    }
    assert.deepEqual(concat(...parts), whole);
  });

  test('odd rates (espeak-ng speaks at 22 050 Hz) and silly ones are refused', () => {
    assert.equal(resample(tone(440, 22050, 1), 22050, 48000).length, 48000);
    assert.throws(() => new Resampler(0, 16000), RangeError);
    assert.throws(() => new Resampler(48000, 44.1), RangeError);
  });
});

describe('framing', () => {
  test('chunks of any size become exact 20 ms frames in order; flush pads the rest with silence', () => {
    const f = new Framer(OPUS_FRAME_SAMPLES);
    const input = Int16Array.from({ length: 7000 }, (_, i) => (i % 32000) + 1);
    const out: Int16Array[] = [];
    let at = 0;
    for (const n of [1, 959, 961, 3000, 7, 0, 1919, 153]) {
      out.push(...f.push(input.subarray(at, at + n)));
      at += n;
    }
    assert.equal(at, 7000);
    assert.ok(out.every((fr) => fr.length === OPUS_FRAME_SAMPLES));
    assert.equal(out.length, 7);
    assert.equal(f.buffered, 7000 - 7 * 960);
    const last = f.flush()!;
    assert.equal(last.length, OPUS_FRAME_SAMPLES);
    assert.deepEqual(concat(...out, last.subarray(0, 280)), input);
    assert.ok(last.subarray(280).every((s) => s === 0));
    assert.equal(f.flush(), null);
  });

  test('frames handed out are not overwritten by later chunks; clear drops what is pending', () => {
    const f = new Framer(4);
    const [a] = f.push(Int16Array.of(1, 2, 3, 4, 5));
    f.push(Int16Array.of(6, 7, 8, 9, 10, 11));
    assert.deepEqual(a, Int16Array.of(1, 2, 3, 4));
    f.push(Int16Array.of(12));
    f.clear();
    assert.equal(f.flush(), null);
  });
});

describe('Opus codec', async () => {
  // 0.5 s silence, "list my tasks", 1.5 s silence, "tell task two to add tests", 0.5 s silence.
  const phrases = [await speak('list my tasks', OPUS_RATE), await speak('tell task two to add tests', OPUS_RATE)];
  const gap = (s: number) => new Int16Array(Math.round(OPUS_RATE * s));
  const speech = concat(gap(0.5), phrases[0]!, gap(1.5), phrases[1]!, gap(0.5));

  test('a round trip keeps speech energy where the WAV has speech and near-silence where it has none', () => {
    const codec = new OpusCodec();
    const input = frames(speech, OPUS_FRAME_SAMPLES);
    const decoded = concat(...input.map((fr) => codec.decode(codec.encode(fr))));
    assert.equal(decoded.length, input.length * OPUS_FRAME_SAMPLES);
    // Compare 100 ms windows; the codec's delay (6.5 ms) is small against them.
    const win = OPUS_RATE / 10;
    let speechWindows = 0;
    let drift = 0;
    for (let i = 0; i + win <= decoded.length; i += win) {
      const a = toDbfs(rms(speech, i, i + win));
      const b = toDbfs(rms(decoded, i, i + win));
      if (a > -45) {
        speechWindows++;
        drift += b - a;
        // A perceptual codec moves a window's level by a few dB at most (quiet consonants the most).
        assert.ok(Math.abs(a - b) < 6, `window at ${i / OPUS_RATE} s: ${a.toFixed(1)} dBFS in, ${b.toFixed(1)} out`);
      } else if (a === -100 && i > win) {
        assert.ok(b < -60, `silent window at ${i / OPUS_RATE} s decodes to ${b.toFixed(1)} dBFS`);
      }
    }
    assert.ok(speechWindows >= 10, `${speechWindows} windows of speech`);
    assert.ok(Math.abs(drift / speechWindows) < 1.5, `speech level moved by ${(drift / speechWindows).toFixed(2)} dB on average`);
    assert.equal(codec.stats.encoded, input.length);
    assert.equal(codec.stats.decoded, input.length);
  });

  test('lost, empty, corrupt and huge packets never throw, give bounded PCM, and decoding goes on', () => {
    const codec = new OpusCodec();
    const good = frames(speech, OPUS_FRAME_SAMPLES).slice(30, 40).map((fr) => codec.encode(fr));
    codec.decode(good[0]);
    let s = 7;
    const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
    const hostile: (Uint8Array | null | undefined)[] = [
      null,
      undefined,
      new Uint8Array(0),
      Uint8Array.of(0),
      Uint8Array.of(0xff),
      new Uint8Array(4000).fill(0xff),
      new Uint8Array(100_000),
      Uint8Array.of(0x1b, 0xff, 1, 2, 3), // code 3 claiming 63 frames
      ...Array.from({ length: 1000 }, (_, i) => Uint8Array.from({ length: 1 + (i % 300) }, rnd)),
    ];
    for (const p of hostile) {
      const pcm = codec.decode(p);
      assert.ok(pcm.length > 0 && pcm.length <= OPUS_MAX_SAMPLES, `${pcm.length} samples`);
    }
    // A lost packet is concealed for as long as the last one lasted, not libopus's 120 ms.
    codec.decode(good[1]);
    assert.equal(codec.decode(null).length, OPUS_FRAME_SAMPLES);
    assert.ok(codec.stats.invalid > 100, `${codec.stats.invalid} invalid`);
    assert.ok(codec.stats.concealed >= 3);
    for (const p of good.slice(2)) assert.equal(codec.decode(p).length, OPUS_FRAME_SAMPLES);
  });

  test('at the model\'s rates: a tone encoded from 24 kHz and decoded straight to 16 kHz keeps its pitch and level; frames and concealment follow the rate', () => {
    const sender = new OpusCodec({ encodeRate: 24_000 });
    const receiver = new OpusCodec({ decodeRate: 16_000 });
    assert.equal(sender.frameSamples, 480);
    assert.throws(() => sender.encode(new Int16Array(960)), RangeError);
    const input = frames(tone(440, 24_000, 1), 480);
    const out = input.map((fr) => receiver.decode(sender.encode(fr)));
    assert.ok(out.every((pcm) => pcm.length === 320), '20 ms at 16 kHz per packet');
    const decoded = concat(...out);
    assert.ok(Math.abs(zeroCrossingHz(decoded.subarray(1600), 16_000) - 440) < 2, `pitch ${zeroCrossingHz(decoded.subarray(1600), 16_000)}`);
    assert.ok(Math.abs(amplitudeAt(decoded, 440, 16_000) - 0.5) < 0.05, `level ${amplitudeAt(decoded, 440, 16_000)}`);
    assert.equal(receiver.decode(null).length, 320, 'a lost packet is concealed for 20 ms at 16 kHz');
    const huge = receiver.decode(new Uint8Array(4000).fill(0xff));
    assert.ok(huge.length <= 16_000 * 0.12, `at most 120 ms at 16 kHz: ${huge.length}`);
    // The same packets decode at 48 kHz for a client: the RTP clock is 48 kHz whatever the rate encoded.
    const client = new OpusCodec();
    assert.equal(client.decode(new OpusCodec({ encodeRate: 24_000 }).encode(input[0]!)).length, OPUS_FRAME_SAMPLES);
    assert.throws(() => new OpusCodec({ decodeRate: 44_100 }), /decodeRate must be one of/);
    assert.throws(() => new OpusCodec({ encodeRate: 22_050 }), /encodeRate must be one of/);
  });

  test('encode takes exactly one 20 ms frame; a closed codec decodes to silence', () => {
    const codec = new OpusCodec();
    assert.throws(() => codec.encode(new Int16Array(959)), RangeError);
    const packet = codec.encode(new Int16Array(OPUS_FRAME_SAMPLES));
    codec.close();
    assert.deepEqual(codec.decode(packet), new Int16Array(OPUS_FRAME_SAMPLES));
    assert.throws(() => codec.encode(new Int16Array(OPUS_FRAME_SAMPLES)), /closed/);
  });

  test('a packet is the caller\'s: encoding on another session does not overwrite it (the package has one output buffer for all)', () => {
    const a = new OpusCodec();
    const b = new OpusCodec();
    const [f1, f2] = frames(speech, OPUS_FRAME_SAMPLES).slice(30, 32);
    const pa = a.encode(f1!);
    const copy = Uint8Array.from(pa);
    b.encode(f2!);
    assert.deepEqual(pa, copy);
  });

  test('the floor decodes and encodes every frame', () => {
    const codec = new OpusCodec();
    const packets = frames(speech, OPUS_FRAME_SAMPLES).slice(20, 70).map((fr) => codec.encode(fr));
    const floorCodec = new OpusCodec();
    assert.ok(codecFloor(packets, floorCodec) > 50 * 20);
    assert.equal(floorCodec.stats.decoded, 50);
    assert.equal(floorCodec.stats.encoded, 50);
  });
});

describe('energy VAD', async () => {
  const rate = 16000;
  const one = await speak('list my tasks', rate);
  const two = await speak('tell task two to add tests', rate);
  const gap = (s: number) => new Int16Array(Math.round(rate * s));
  const pieces = [gap(1), one, gap(1.5), two, gap(1)];
  const signal = concat(...pieces);
  // Where each phrase really is: its first and last audible sample, in stream time.
  const truth: [number, number][] = [];
  for (let i = 0, at = 0; i < pieces.length; at += pieces[i]!.length, i++) {
    if (pieces[i] !== one && pieces[i] !== two) continue;
    const b = voicedBounds(pieces[i]!);
    truth.push([((at + b.first) / rate) * 1000, ((at + b.last) / rate) * 1000]);
  }

  function run(samples: Int16Array, vad = new EnergyVad({ sampleRate: rate })): VadEvent[] {
    const events: VadEvent[] = [];
    for (const fr of frames(samples, rate / 50)) {
      const e = vad.push(fr);
      if (e) events.push(e);
    }
    const last = vad.finish();
    if (last) events.push(last);
    return events;
  }

  function assertSegments(events: VadEvent[]): void {
    assert.deepEqual(events.map((e) => e.type), ['start', 'end', 'start', 'end'], JSON.stringify(events));
    for (let k = 0; k < 2; k++) {
      const [start, end] = [events[2 * k]!.atMs, events[2 * k + 1]!.atMs];
      assert.ok(Math.abs(start - truth[k]![0]) <= 100, `segment ${k} starts at ${start} ms, speech at ${truth[k]![0].toFixed(0)} ms`);
      assert.ok(Math.abs(end - truth[k]![1]) <= 150, `segment ${k} ends at ${end} ms, speech at ${truth[k]![1].toFixed(0)} ms`);
    }
  }

  test('finds the two utterances of the espeak speech, start and end within 100/150 ms', () => {
    assertSegments(run(signal));
  });

  test('the same with low background noise (-50 dBFS) under the speech', () => {
    assertSegments(run(mix(signal, noise(signal.length, -50))));
  });

  test('noise alone is never speech, however loud, since thresholds follow the measured floor', () => {
    for (const level of [-60, -45, -30]) {
      const vad = new EnergyVad({ sampleRate: rate });
      assert.deepEqual(run(noise(rate * 5, level, 3), vad), [], `${level} dBFS`);
      assert.ok(Math.abs(vad.noiseFloorDbfs - level) < 1.5, `floor ${vad.noiseFloorDbfs.toFixed(1)} dBFS for noise at ${level}`);
    }
  });

  test('a pause shorter than the hangover does not split an utterance; a click is not speech', () => {
    const trim = (x: Int16Array) => x.subarray(voicedBounds(x).first, voicedBounds(x).last + 1);
    const events = run(concat(gap(1), trim(one), gap(0.3), trim(two), gap(1)));
    assert.deepEqual(events.map((e) => e.type), ['start', 'end']);
    const click = concat(gap(1), tone(1000, rate, 0.02, 0.8), gap(1));
    assert.deepEqual(run(click), []);
  });
});

// npm run bench:opus — the Opus codec for the voice gateway, measured: encode and decode cost per
// 20 ms frame (48 kHz mono, 32 kbit/s, real speech from espeak-ng), memory per encoder/decoder
// pair, start-up, round-trip quality and hostile packets. By default it measures caic's OpusCodec
// (src/voice, the package chosen) and the floor `codecFloor` that bench:voice compares against;
// OPUS_CANDIDATES=<dir> adds the candidate packages installed under <dir>/<name>/node_modules
// (see docs/performance.md for how that directory was made). Each codec runs in its own process,
// so start-up and memory are its own and a crash is recorded rather than ending the run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpusCodec as Codec } from '../../src/voice/index.js';
import { speak } from '../helpers/speech.js';
import { machine, median, percentile, spread, summary } from './lib.js';

const FRAME = 960;
const BITRATE = 32_000;
/** The same encoder complexity for every codec (caic's default); BENCH_OPUS_COMPLEXITY=10 for libopus's own default. */
const COMPLEXITY = Number(process.env.BENCH_OPUS_COMPLEXITY ?? 5);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 3000);
/** Pairs the memory figure is taken over (RSS moves in pages: fewer would be noise). */
const PAIRS = 100;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Live pairs the "many sessions" check goes up to, using the first pair after each new one. */
const MANY = 500;
const SCRIPT =
  'Hands-free control is one of the headline features. While walking, a person asks what are my tasks doing, ' +
  'tell task two to add tests, push it, and hears the answer. The client executes the tool calls itself.';

/** The few operations every candidate offers, in the same shape. */
interface Pair {
  encode(pcm: Int16Array): Uint8Array;
  decode(packet: Uint8Array): Int16Array;
  free?(): void;
}
type Make = () => Pair;

const asBuffer = (a: Int16Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const asInt16 = (b: Uint8Array) => new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/** Loads a candidate from <dir>/<folder>/node_modules; returns a factory of encoder+decoder pairs. */
function candidate(name: string, dir: string): Make {
  const folder = { opusscript: 'opusscript', '@evan/opus': 'evan-opus', '@evan/opus (wasm)': 'evan-opus', '@discordjs/opus': 'discordjs-opus' }[name];
  if (!folder) throw new Error(`unknown candidate ${name}`);
  const req = createRequire(join(dir, folder, 'package.json'));
  if (name === 'opusscript') {
    type OS = { encode(b: Buffer, n: number): Buffer; decode(b: Buffer): Buffer; setBitrate(n: number): void; encoderCTL(c: number, v: number): void; delete(): void };
    const OpusScript = req('opusscript') as { new (rate: number, ch: number, app: number): OS; Application: { VOIP: number } };
    return () => {
      // One object holds an encoder and a decoder. It wants a Buffer: an Int16Array is accepted and encodes noise.
      const c = new OpusScript(48000, 1, OpusScript.Application.VOIP);
      c.setBitrate(BITRATE);
      c.encoderCTL(4010, COMPLEXITY); // OPUS_SET_COMPLEXITY
      return { encode: (pcm) => c.encode(asBuffer(pcm), FRAME), decode: (p) => asInt16(c.decode(asBuffer(p))), free: () => c.delete() };
    };
  }
  if (name.startsWith('@evan/opus')) {
    if (name.endsWith('(wasm)')) process.env.OPUS_FORCE_WASM = '1';
    type E = { encode(b: ArrayBufferView): Uint8Array; bitrate: number; complexity: number };
    type D = { decode(b: ArrayBufferView): Uint8Array };
    const m = req('@evan/opus') as { Encoder: new (o: object) => E; Decoder: new (o: object) => D };
    return () => {
      const e = new m.Encoder({ channels: 1, sample_rate: 48000, application: 'voip' });
      const d = new m.Decoder({ channels: 1, sample_rate: 48000 });
      e.bitrate = BITRATE;
      e.complexity = COMPLEXITY;
      return { encode: (pcm) => e.encode(pcm), decode: (p) => asInt16(d.decode(p)) };
    };
  }
  type DJ = { encode(b: Buffer): Buffer; decode(b: Buffer): Buffer; setBitrate(n: number): void; applyEncoderCTL(c: number, v: number): void };
  const { OpusEncoder } = req('@discordjs/opus') as { OpusEncoder: new (rate: number, ch: number) => DJ };
  return () => {
    const c = new OpusEncoder(48000, 1);
    c.applyEncoderCTL(4000, 2048); // OPUS_SET_APPLICATION VOIP, before the first frame
    c.setBitrate(BITRATE);
    c.applyEncoderCTL(4010, COMPLEXITY);
    return { encode: (pcm) => c.encode(asBuffer(pcm)), decode: (p) => asInt16(c.decode(asBuffer(p))) };
  };
}

/** caic's own codec (the chosen package behind src/voice's OpusCodec), loaded here so start-up counts the import. */
async function caic(): Promise<Make> {
  const { OpusCodec } = await import('../../src/voice/index.js');
  return () => {
    const c = new OpusCodec({ bitrate: BITRATE, complexity: COMPLEXITY });
    return { encode: (pcm) => c.encode(pcm), decode: (p) => c.decode(p), free: () => c.close() };
  };
}

function stats(xs: number[]): { mean: number; p50: number; p99: number } {
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99) };
}

/** Correlation and SNR of `out` against `ref` at the lag (the codec's delay) that matches best. */
function quality(ref: Int16Array, out: Int16Array): { lag: number; corr: number; snrDb: number } {
  const measure = (lag: number, stride: number) => {
    let xy = 0, xx = 0, yy = 0, err = 0;
    const n = Math.min(ref.length, out.length - lag);
    for (let i = 0; i < n; i += stride) {
      const x = ref[i]!, y = out[i + lag]!;
      xy += x * y; xx += x * x; yy += y * y; err += (x - y) * (x - y);
    }
    return { lag, corr: xy / Math.sqrt(xx * yy || 1), snrDb: 10 * Math.log10(xx / (err || 1)) };
  };
  let lag = 0;
  let corr = -1;
  // A sparse pass finds the delay; the figures come from every sample at that delay.
  for (let l = 0; l < 1200; l++) {
    const c = measure(l, 7).corr;
    if (c > corr) [lag, corr] = [l, c];
  }
  return measure(lag, 1);
}

async function child(name: string): Promise<void> {
  const tone = new Int16Array(FRAME).map((_, i) => 8000 * Math.sin((2 * Math.PI * 440 * i) / 48000));
  const t0 = performance.now();
  const make = name === 'caic' ? await caic() : candidate(name, process.env.OPUS_CANDIDATES!);
  const first = make();
  first.decode(first.encode(tone));
  const startupMs = performance.now() - t0;

  const speech = await speak(SCRIPT, 48000);
  const frames: Int16Array[] = [];
  for (let i = 0; frames.length < FRAMES; i = (i + FRAME) % (speech.length - FRAME)) frames.push(speech.slice(i, i + FRAME));
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

  const pair = make();
  for (let i = 0; i < 200; i++) pair.decode(pair.encode(frames[i % frames.length]!));
  const fresh = make();
  const enc: number[] = [], dec: number[] = [];
  const decoded = new Int16Array(FRAMES * FRAME + FRAME * 6);
  let at = 0, bytes = 0;
  for (const f of frames) {
    const a = process.hrtime.bigint();
    const packet = fresh.encode(f);
    const b = process.hrtime.bigint();
    const pcm = fresh.decode(packet);
    const c = process.hrtime.bigint();
    enc.push(Number(b - a) / 1e3);
    dec.push(Number(c - b) / 1e3);
    bytes += packet.length;
    decoded.set(pcm.subarray(0, Math.max(0, Math.min(pcm.length, decoded.length - at))), at);
    at += pcm.length;
  }
  const ref = new Int16Array(FRAMES * FRAME);
  frames.forEach((f, i) => ref.set(f, i * FRAME));
  const q = quality(ref.subarray(0, 48000 * 10), decoded.subarray(0, 48000 * 10 + 1200));

  // Hostile packets: count throws; a crash of this process shows as such in the parent.
  const hostile = make();
  hostile.encode(frames[0]!);
  let throws = 0, maxOut = 0;
  const seeds = [new Uint8Array(0), new Uint8Array(1), new Uint8Array(4000).fill(0xff), new Uint8Array(100_000)];
  for (let i = 0; i < 2000; i++) {
    const p = new Uint8Array(1 + ((i * 7919) % 400));
    for (let j = 0; j < p.length; j++) p[j] = (i * 31 + j * 17 + ((j * j) >> 3)) & 0xff;
    seeds.push(p);
  }
  for (const s of seeds) {
    try {
      maxOut = Math.max(maxOut, hostile.decode(s).length);
    } catch {
      throws++;
    }
  }
  const stillDecodes = hostile.decode(pair.encode(frames[5]!)).length === FRAME;

  // Memory per pair, last but one: a codec that breaks with many instances still gets its timings.
  gc();
  gc();
  const m0 = process.memoryUsage();
  const pairs: Pair[] = [];
  let perPairKb = { rss: Number.NaN, heap: Number.NaN };
  try {
    for (let k = 0; k < PAIRS; k++) {
      const p = make();
      p.decode(p.encode(frames[1]!));
      pairs.push(p);
    }
    // No collection here: one could hand back heap pages and hide what the pairs took.
    const m1 = process.memoryUsage();
    perPairKb = { rss: (m1.rss - m0.rss) / PAIRS / 1024, heap: (m1.heapUsed + m1.external - m0.heapUsed - m0.external) / PAIRS / 1024 };
  } catch {
    // Recorded as NaN: the codec broke before PAIRS pairs were live.
  }
  for (const p of pairs) p.free?.();

  // Many sessions at once: does the first pair still work after each new one? (opusscript's views
  // of its wasm heap go stale when the heap grows.)
  const many: Pair[] = [first];
  let manyOk = 0;
  try {
    for (; manyOk < MANY; manyOk++) {
      many.push(make());
      first.decode(first.encode(tone));
    }
  } catch {
    // manyOk holds how many extra pairs it took.
  }
  process.stdout.write(
    JSON.stringify({ name, startupMs, perPairKb, enc: stats(enc), dec: stats(dec), kbps: (bytes * 8) / (FRAMES * 0.02) / 1000, q, hostile: { tried: seeds.length, throws, maxOut, stillDecodes }, manyOk }) + '\n',
  );
}

/** The floor bench:voice compares against, per frame. */
async function floor(): Promise<{ perFrameUs: number }> {
  const { codecFloor, OpusCodec } = await import('../../src/voice/index.js');
  const speech = await speak(SCRIPT, 48000);
  const frames: Int16Array[] = [];
  for (let i = 0; frames.length < FRAMES; i = (i + FRAME) % (speech.length - FRAME)) frames.push(speech.slice(i, i + FRAME));
  const encoder: Codec = new OpusCodec({ bitrate: BITRATE, complexity: COMPLEXITY });
  const packets = frames.map((f) => encoder.encode(f));
  encoder.close();
  const codec = new OpusCodec({ bitrate: BITRATE, complexity: COMPLEXITY });
  codecFloor(packets.slice(0, 200), codec);
  const t = process.hrtime.bigint();
  codecFloor(packets, codec);
  return { perFrameUs: Number(process.hrtime.bigint() - t) / 1e3 / packets.length };
}

/**
 * The whole audio path of one session per 20 ms, without WebRTC: mic packet → decode → 16 kHz
 * for the model, and model audio at 24 kHz → 48 kHz → framed → encoded. What bench:voice's
 * gateway adds on top of this is WebRTC itself.
 */
async function pipeline(): Promise<{ inUs: number; outUs: number; resampleInUs: number; resampleOutUs: number }> {
  const { Framer, OpusCodec, Resampler } = await import('../../src/voice/index.js');
  const speech = await speak(SCRIPT, 48000);
  const model = await speak(SCRIPT, 24000);
  const frames: Int16Array[] = [];
  for (let i = 0; frames.length < FRAMES; i = (i + FRAME) % (speech.length - FRAME)) frames.push(speech.slice(i, i + FRAME));
  const sender = new OpusCodec({ bitrate: BITRATE, complexity: COMPLEXITY });
  const packets = frames.map((f) => sender.encode(f));
  const codec = new OpusCodec({ bitrate: BITRATE, complexity: COMPLEXITY });
  const down = new Resampler(48000, 16000);
  const up = new Resampler(24000, 48000);
  const framer = new Framer(FRAME);
  // Model audio arrives in chunks of 40 ms (960 samples at 24 kHz), one per two frames out.
  const chunks: Int16Array[] = [];
  for (let i = 0; chunks.length < FRAMES / 2; i = (i + 960) % (model.length - 960)) chunks.push(model.slice(i, i + 960));
  const time = (fn: () => void) => {
    const t = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t) / 1e3 / FRAMES;
  };
  const inUs = time(() => {
    for (const p of packets) down.process(codec.decode(p));
  });
  const outUs = time(() => {
    for (const c of chunks) for (const f of framer.push(up.process(c))) codec.encode(f);
  });
  const resampleInUs = time(() => {
    for (const f of frames) down.process(f);
  });
  const resampleOutUs = time(() => {
    for (const c of chunks) up.process(c);
  });
  return { inUs, outUs, resampleInUs, resampleOutUs };
}

type Row = { name: string; startupMs: number; perPairKb: { rss: number; heap: number }; enc: ReturnType<typeof stats>; dec: ReturnType<typeof stats>; kbps: number; q: ReturnType<typeof quality>; hostile: { tried: number; throws: number; maxOut: number; stillDecodes: boolean }; manyOk: number };

async function main(): Promise<void> {
  const { OPUS_FRAME_SAMPLES, OPUS_RATE } = await import('../../src/voice/index.js');
  if (OPUS_RATE !== 48000 || OPUS_FRAME_SAMPLES !== FRAME) throw new Error('the bench assumes 48 kHz, 20 ms frames');
  console.log(`bench:opus — ${machine()}; ${FRAMES} frames of espeak-ng speech, 48 kHz mono, ${BITRATE / 1000} kbit/s, VOIP, complexity ${COMPLEXITY}`);
  const dir = process.env.OPUS_CANDIDATES;
  const names = ['caic'];
  if (dir) {
    for (const [n, f] of [['opusscript', 'opusscript'], ['@evan/opus', 'evan-opus'], ['@evan/opus (wasm)', 'evan-opus'], ['@discordjs/opus', 'discordjs-opus']] as const) {
      if (existsSync(join(dir, f, 'node_modules'))) names.push(n);
    }
  }
  const self = fileURLToPath(import.meta.url);
  // Rounds of every codec in turn, so the machine's load drifts over all of them alike.
  const runs = new Map<string, Row[]>(names.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const r = spawnSync(process.execPath, ['--expose-gc', self, '--child', name], { encoding: 'utf8', env: process.env, maxBuffer: 1 << 20 });
      if (r.status !== 0) {
        const why = r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr.trim().split('\n').pop();
        console.log(`${name}: the process ended with ${r.status ?? r.signal}: ${why}`);
        continue;
      }
      runs.get(name)!.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Row);
    }
  }
  // A figure a codec could not give (it broke first) is null in its JSON.
  const f = (x: number | null, d = 1) => (x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  const med = (rows: Row[], pick: (r: Row) => number | null) => {
    const xs = rows.map(pick).filter((x): x is number => x !== null && !Number.isNaN(x));
    return xs.length ? median(xs) : Number.NaN;
  };
  console.log(`\nmedians of ${ROUNDS} rounds (encode/decode mean: [min–max] over rounds)`);
  console.log('\n| codec | encode mean / p99 (µs) | decode mean / p99 (µs) | start-up (ms) | RSS per pair (KB) | kbit/s | corr / SNR (dB) / lag | hostile: throws / max out / decodes after | live pairs, first still works |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const rows: Row[] = [];
  for (const [name, rs] of runs) {
    if (rs.length === 0) continue;
    const r = rs[0]!;
    const encMeans = rs.map((x) => x.enc.mean);
    const decMeans = rs.map((x) => x.dec.mean);
    rows.push({ ...r, enc: { mean: median(encMeans), p50: 0, p99: med(rs, (x) => x.enc.p99) }, dec: { mean: median(decMeans), p50: 0, p99: med(rs, (x) => x.dec.p99) }, perPairKb: { rss: med(rs, (x) => x.perPairKb.rss), heap: 0 } });
    console.log(
      `| ${name} | ${spread(encMeans)} / ${f(med(rs, (x) => x.enc.p99), 0)} | ${spread(decMeans)} / ${f(med(rs, (x) => x.dec.p99), 0)} | ${f(med(rs, (x) => x.startupMs))} | ${f(med(rs, (x) => x.perPairKb.rss), 0)} | ${f(r.kbps)} | ${f(r.q.corr, 3)} / ${f(r.q.snrDb)} / ${r.q.lag} | ${r.hostile.throws}/${r.hostile.tried} / ${r.hostile.maxOut} / ${r.hostile.stillDecodes} | ${r.manyOk >= MANY ? `≥ ${MANY + 1}` : `breaks at ${r.manyOk + 2}`} |`,
    );
  }
  const fl = await floor();
  console.log(`\nfloor (codecFloor: decode + encode one frame, no WebRTC): ${f(fl.perFrameUs)} µs per frame`);
  const pl = await pipeline();
  console.log(
    `session audio path per 20 ms: in (decode + 48 → 16 kHz) ${f(pl.inUs)} µs, of which resampling ${f(pl.resampleInUs)}; ` +
      `out (24 → 48 kHz + framing + encode) ${f(pl.outUs)} µs, of which resampling ${f(pl.resampleOutUs)}; ` +
      `20 full-duplex sessions: ${f(((pl.inUs + pl.outUs) * 50 * 20) / 1e4)}% of one core`,
  );
  const c = rows.find((r) => r.name === 'caic');
  summary('opus', { floor_us: fl.perFrameUs, in_us: pl.inUs, out_us: pl.outUs, ...(c ? { enc_us: c.enc.mean, enc_p99_us: c.enc.p99, dec_us: c.dec.mean, dec_p99_us: c.dec.p99, pair_kb: c.perPairKb.rss } : {}) });
}

const i = process.argv.indexOf('--child');
await (i > 0 ? child(process.argv[i + 1]!) : main());

// The browser side of the voice e2e tests: a WAV for Chromium's fake microphone (espeak-ng), an init script that watches what the page's voice client opens (microphone, peer connection, data channel, the element that plays the assistant) and measures the assistant's audio with a WebAudio AnalyserNode, and the envelope match of speech heard by a model against the WAV.
import { open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { rms } from './gemini-live-standin.js';
import { wavOf } from './openai-compat-standin.js';
import { speak } from './speech.js';

/** The rate of the fake microphone's WAV (Chromium's capture rate). */
export const MIC_WAV_RATE = 48_000;

export interface MicWav {
  path: string;
  /** The WAV's samples (one loop), at MIC_WAV_RATE. */
  samples: Int16Array;
  /** Where the speech is in one loop, in ms. */
  speechMs: { from: number; to: number };
  loopMs: number;
}

/**
 * Writes `text` spoken by espeak-ng between `leadMs` and `tailMs` of digital silence as a WAV under
 * `dir` (Chromium reads its fake microphone from a file; the test removes its own temp dir).
 * Chromium plays it in a loop, so the person says it again every `loopMs`.
 */
export async function micWav(dir: string, text: string, leadMs: number, tailMs: number): Promise<MicWav> {
  const speech = await speak(text, MIC_WAV_RATE);
  const lead = new Int16Array((MIC_WAV_RATE * leadMs) / 1000);
  const tail = new Int16Array((MIC_WAV_RATE * tailMs) / 1000);
  const samples = new Int16Array(lead.length + speech.length + tail.length);
  samples.set(speech, lead.length);
  const path = join(dir, 'mic.wav');
  await writeFile(path, wavOf(samples, MIC_WAV_RATE));
  const speechMsLen = (speech.length / MIC_WAV_RATE) * 1000;
  return { path, samples, speechMs: { from: leadMs, to: leadMs + speechMsLen }, loopMs: (samples.length / MIC_WAV_RATE) * 1000 };
}

/** Chromium flags: the WAV as the microphone (permission granted), and WebRTC allowed on loopback, where the gateway announces itself. */
export function micFlags(wav: string): string[] {
  return ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`, '--allow-loopback-in-peer-connection'];
}

/** RMS of each `windowMs` window. */
export function envelope(pcm: Int16Array, rate: number, windowMs = 20): number[] {
  const n = Math.round((rate * windowMs) / 1000);
  const out: number[] = [];
  for (let i = 0; i + n <= pcm.length; i += n) out.push(rms(pcm.subarray(i, i + n)));
  return out;
}

/**
 * How well the speech a model heard lines up with the WAV the microphone plays in a loop: each 20 ms
 * window is "speech" or "silence" on both sides; the best alignment (the loop's phase is unknown)
 * gives the fraction of windows that agree, and how many windows of speech were heard.
 */
export function matchLoop(heard: Int16Array, heardRate: number, wav: Int16Array, wavRate: number): { agreement: number; speechWindows: number; windows: number; offset: number } {
  const ref = envelope(wav, wavRate).map((r) => r > 300);
  const got = envelope(heard, heardRate).map((r) => r > 300);
  let best = { agreement: 0, offset: 0 };
  for (let off = 0; off < ref.length; off++) {
    let same = 0;
    for (let i = 0; i < got.length; i++) if (got[i] === ref[(i + off) % ref.length]) same++;
    const agreement = got.length ? same / got.length : 0;
    if (agreement > best.agreement) best = { agreement, offset: off };
  }
  return { ...best, speechWindows: got.filter(Boolean).length, windows: got.length };
}

/** Every file under `dir` (to `depth` levels; unreadable directories, and those under `skip`, left out). */
export async function listFiles(dir: string, depth: number, skip: readonly string[] = []): Promise<Set<string>> {
  const out = new Set<string>();
  async function walk(d: string, left: number): Promise<void> {
    if (skip.some((s) => d === s || d.startsWith(`${s}/`))) return;
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
export async function looksLikeAudio(path: string): Promise<boolean> {
  if (/\.(wav|opus|ogg|pcm|raw|webm|mp3)$/i.test(path)) return true;
  try {
    const fh = await open(path, 'r');
    try {
      const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 0);
      return ['RIFF', 'OggS', '\x1aE\xdf\xa3', 'ID3\x03'].includes(buffer.subarray(0, bytesRead).toString('latin1'));
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

/** One reading of the assistant's audio: the AudioContext's clock (s) and the RMS (full scale 1) of the analyser's window. */
export interface Level {
  t: number;
  rms: number;
}

/** A gateway message as the page received it: its type, and when (AudioContext clock) with the inbound RTP counts then. */
export interface SeenMessage {
  type: string;
  source?: string;
  t: number;
  packets: number;
  /** The jitter buffer's delay (ms): the most over any 100 ms of the last 0.8 s, from the inbound-rtp stats. */
  jitterMs: number;
  /** The playout path's delay (ms), the same way from the media-playout stats (0 where the browser has none). */
  playoutMs: number;
  /** The inbound-rtp totals then: jitterBufferDelay (s) and jitterBufferEmittedCount (samples). */
  jbd: number;
  emitted: number;
  /** Whether the received audio tracks were enabled once the app had handled the message. */
  playing: boolean;
}

export interface VoiceProbe {
  levels: Level[];
  messages: SeenMessage[];
  /** The microphone tracks' states, oldest first. */
  micStates: string[];
  /** The peer connections' selected candidate pairs ("local -> remote"). */
  pairs: string[];
  /** RTP packets of the assistant's track received so far, and the jitter buffer totals (as in SeenMessage). */
  packets: number;
  jbd: number;
  emitted: number;
  audioPlaying: boolean;
  contextState: string;
}

/**
 * Installed before the app loads (plain JavaScript: it runs in the page): remembers the microphone
 * streams, peer connections and the media element the app plays, records each gateway message with
 * the AudioContext's clock and the inbound RTP counts then, and once the element has a stream,
 * measures it every 10 ms with an AnalyserNode (fftSize 512: the last 10.7 ms). It only observes:
 * every call goes through unchanged.
 */
const INSTRUMENT = `(() => {
  const probe = { mics: [], pcs: [], audio: null, ctx: null, levels: [], messages: [] };
  window.__voiceProbe = probe;
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => { const s = await gum(c); probe.mics.push(s); return s; };
  // The jitter buffer's and the playout path's delays over the last stretch (the stats are totals since the start).
  const totals = async (pc) => {
    const t = { packets: 0, jbd: 0, emitted: 0, pd: 0, samples: 0 };
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'media-playout') { t.pd = r.totalPlayoutDelay || 0; t.samples = r.totalSamplesCount || 0; }
      if (r.type === 'inbound-rtp' && r.kind === 'audio') { t.packets = r.packetsReceived || 0; t.jbd = r.jitterBufferDelay || 0; t.emitted = r.jitterBufferEmittedCount || 0; }
    });
    return t;
  };
  const marks = new Map();
  setInterval(() => { for (const pc of probe.pcs) totals(pc).then((t) => { const m = marks.get(pc) || []; m.push(t); if (m.length > 8) m.shift(); marks.set(pc, m); }); }, 100);
  probe.inbound = async (pc) => {
    const now = await totals(pc);
    // The most either held over any 100 ms of the last 0.8 s: what may still be queued at the page now.
    const seq = [...(marks.get(pc) || []), now];
    let jitterMs = 0, playoutMs = 0;
    for (let i = 1; i < seq.length; i++) {
      const a = seq[i - 1], b = seq[i];
      if (b.emitted > a.emitted) jitterMs = Math.max(jitterMs, ((b.jbd - a.jbd) / (b.emitted - a.emitted)) * 1000);
      if (b.samples > a.samples) playoutMs = Math.max(playoutMs, ((b.pd - a.pd) / (b.samples - a.samples)) * 1000);
    }
    return { packets: now.packets, jitterMs, playoutMs, jbd: now.jbd, emitted: now.emitted };
  };
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(config) { super(config); probe.pcs.push(this); }
    createDataChannel(label, init) {
      const ch = super.createDataChannel(label, init);
      ch.addEventListener('message', (e) => {
        let m;
        try { m = JSON.parse(String(e.data)); } catch { return; }
        const t = probe.ctx ? probe.ctx.currentTime : -1;
        // Read once the app's own listener (added after this one) has handled the message.
        probe.inbound(this).then((s) => {
          const playing = this.getReceivers().filter((r) => r.track.kind === 'audio').every((r) => r.track.enabled);
          probe.messages.push({ type: String(m.type), source: m.source, t, ...s, playing });
        });
      });
      return ch;
    }
  };
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    const stream = this.srcObject;
    if (stream instanceof MediaStream && probe.audio !== this) {
      probe.audio = this;
      const ctx = (probe.ctx = probe.ctx || new AudioContext());
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 512;
      ctx.createMediaStreamSource(stream).connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      setInterval(() => {
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const x of buf) sum += x * x;
        probe.levels.push({ t: ctx.currentTime, rms: Math.sqrt(sum / buf.length) });
      }, 10);
      ctx.resume();
    }
    return play.call(this);
  };
})();`;

export async function instrumentVoice(page: Page): Promise<void> {
  await page.addInitScript({ content: INSTRUMENT });
}

/** What the probe saw so far (levels from index `from`); the page's side in plain JavaScript. */
const PROBE = `async (from) => {
  const p = window.__voiceProbe;
  const pairs = [];
  for (const pc of p.pcs) {
    const stats = await pc.getStats();
    stats.forEach((r) => {
      if (r.type !== 'transport' || !r.selectedCandidatePairId) return;
      const pair = stats.get(r.selectedCandidatePairId);
      if (!pair) return;
      const addr = (id) => { const c = stats.get(id); return c ? c.address + ':' + c.port + '/' + c.protocol : '?'; };
      pairs.push(addr(pair.localCandidateId) + ' -> ' + addr(pair.remoteCandidateId));
    });
  }
  const last = p.pcs[p.pcs.length - 1];
  return {
    levels: p.levels.slice(from),
    messages: p.messages,
    micStates: p.mics.flatMap((s) => s.getAudioTracks().map((t) => t.readyState)),
    pairs,
    ...(last ? await p.inbound(last) : { packets: 0, jbd: 0, emitted: 0 }),
    audioPlaying: !!p.audio && !p.audio.paused && !p.audio.muted,
    contextState: p.ctx ? p.ctx.state : 'none',
  };
}`;

export async function probe(page: Page, from = 0): Promise<VoiceProbe> {
  return page.evaluate<VoiceProbe>(`(${PROBE})(${from})`);
}

/** Waits (polling the page, with a deadline) until `check` holds for the probe; returns it. */
export async function untilProbe(page: Page, check: (p: VoiceProbe) => boolean, what: string, timeoutMs = 20_000): Promise<VoiceProbe> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await probe(page);
    if (check(p)) return p;
    if (Date.now() > deadline) {
      const loud = p.levels.filter((l) => l.rms > 0.01).length;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (levels ${p.levels.length}, loud ${loud}, messages ${p.messages.map((m) => m.type).join(',')}, context ${p.contextState})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Turns the page's microphone track on or off (off sends silence): the person speaks or keeps quiet. */
export async function setMic(page: Page, on: boolean): Promise<void> {
  await page.evaluate(`(() => { for (const s of window.__voiceProbe.mics) for (const t of s.getAudioTracks()) t.enabled = ${on}; })()`);
}

// Speech for voice tests and benchmarks: espeak-ng (Debian's offline TTS) renders text to a WAV on
// its stdout, parsed and resampled in memory, so no audio file is ever written.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/**
 * Makes sure espeak-ng runs: installs Debian's package when we are root (as env:browser does for
 * Chromium; .ci/run installs it up front), else fails with what to run.
 */
export function ensureEspeak(): void {
  if (has('espeak-ng')) return;
  if (process.getuid?.() !== 0 || !existsSync('/etc/debian_version')) {
    throw new Error('espeak-ng is missing: run `sudo apt-get install -y espeak-ng` (Debian) for the voice tests');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', 'espeak-ng'], { stdio: 'ignore', env }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    if (!install()) throw new Error('apt-get install espeak-ng failed; install it by hand');
  }
}

/** A mono 16-bit PCM WAV in memory → its samples and rate (the data chunk may claim more than is there, as when streamed). */
export function parseWav(wav: Buffer): { rate: number; samples: Int16Array } {
  if (wav.toString('ascii', 0, 4) !== 'RIFF' || wav.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a WAV');
  let off = 12;
  let rate = 0;
  while (off + 8 <= wav.length) {
    const id = wav.toString('ascii', off, off + 4);
    const size = wav.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      const channels = wav.readUInt16LE(body + 2);
      const bits = wav.readUInt16LE(body + 14);
      if (wav.readUInt16LE(body) !== 1 || channels !== 1 || bits !== 16) throw new Error('WAV is not 16-bit mono PCM');
      rate = wav.readUInt32LE(body + 4);
    } else if (id === 'data') {
      const end = Math.min(wav.length, body + size);
      const bytes = wav.subarray(body, body + ((end - body) & ~1));
      const samples = new Int16Array(bytes.length / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
      if (!rate) throw new Error('WAV data before fmt');
      return { rate, samples };
    }
    off = body + size + (size & 1);
  }
  throw new Error('WAV without data');
}

/** `text` spoken by espeak-ng, as int16 mono samples at `rate` (src/voice is loaded on first use, so a benchmark can time its import). */
export async function speak(text: string, rate: number, voice = 'en-us'): Promise<Int16Array> {
  const { Resampler } = await import('../../src/voice/index.js');
  ensureEspeak();
  const r = spawnSync('espeak-ng', ['-v', voice, '--stdout', text], { maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`espeak-ng failed (exit ${r.status}): ${r.stderr.toString().trim()}`);
  const wav = parseWav(r.stdout);
  return wav.rate === rate ? wav.samples : new Resampler(wav.rate, rate).process(wav.samples);
}

/** Where a signal is not silent: the first and last sample whose magnitude passes `threshold`. */
export function voicedBounds(samples: Int16Array, threshold = 64): { first: number; last: number } {
  let first = -1;
  let last = -1;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]!) > threshold) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return { first, last };
}

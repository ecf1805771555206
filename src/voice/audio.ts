// The voice gateway's audio pipeline, in one import: PCM helpers, resampling, 20 ms framing, the
// per-session Opus codec and the energy VAD. Pure and in memory: no audio is ever written to disk.
export { SILENCE_DBFS, int16ToFloat, floatToInt16, clampInt16, rms, toDbfs, bytesToInt16, int16ToBytes } from './audio-pcm.js';
export { Resampler, resample } from './audio-resample.js';
export { Framer } from './audio-framer.js';
export { EnergyVad, VAD_DEFAULTS, type VadEvent, type VadOptions } from './audio-vad.js';
export {
  OpusCodec,
  codecFloor,
  OPUS_RATE,
  OPUS_FRAME_MS,
  OPUS_FRAME_SAMPLES,
  OPUS_MAX_SAMPLES,
  OPUS_DEFAULTS,
  OPUS_PCM_RATES,
  opusPcmRate,
  type OpusCodecOptions,
  type OpusStats,
} from './audio-opus.js';

// Public surface of src/voice: voice tokens, the model backends and the audio pipeline of the gateway.
// audio (vcodec): Opus per session, resampling, framing, energy VAD
export * from './audio.js';

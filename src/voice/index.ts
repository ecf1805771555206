// Public surface of src/voice: the voice gateway's parts (tokens, codec, model backends).
// vgemini: the backend seam and the gemini-live backend.
export type {
  VoiceBackend,
  VoiceBackendEvent,
  VoiceBackendListener,
  VoiceBackendSession,
  VoiceBackendStats,
  VoiceSessionSetup,
  VoiceToolResult,
} from './backend.js';
export { GeminiLiveBackend, GEMINI_LIVE_URL, checkGeminiLiveUrl, type GeminiLiveOptions } from './backends/gemini-live.js';

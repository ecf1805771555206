// Public surface of src/voice: voice tokens (keys, signing, verification, status), the gateway, its backends and its audio pipeline.
// Tokens (vtokens): the instance key, issuing for GET /api/v1/voice/token, and the verifier a gateway calls.
export { loadVoiceIdentity, VOICE_KEY_FILE_NAME, VOICE_INSTANCE_FILE_NAME, type VoiceIdentity, type VoiceKey, type VoiceIdentityOptions } from './keys.js';
export {
  VoiceTokenIssuer,
  VoiceTokenVerifier,
  VoiceTokenError,
  VOICE_AUDIENCE,
  VOICE_SESSION_CAPABILITY,
  CAIC_SERVICE_KIND,
  VOICE_TOKEN_TYPE,
  VOICE_TOKEN_TTL_SECONDS,
  CLOCK_SKEW_SECONDS,
  MAX_TOKEN_LIFETIME_SECONDS,
  MAX_TOKEN_LENGTH,
  type VoiceClaims,
  type VoiceTokenForm,
  type VoiceTokenRefusal,
  type IssuedVoiceToken,
  type TrustedIssuer,
  type VerifiedVoiceToken,
} from './tokens.js';
export { voiceStatus, trustedIssuers, VoiceOffError, VoiceTokenService, type VoiceTokenServiceOptions } from './status.js';
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
export { toGatewayMessage } from './backend.js';
export { GeminiLiveBackend, GEMINI_LIVE_URL, checkGeminiLiveUrl, type GeminiLiveOptions } from './backends/gemini-live.js';
export { createVoiceBackend, type VoiceBackendFactoryOptions } from './backends/index.js';
// vback: the openai-realtime and local-stack backends.
export { OpenAIRealtimeBackend, OPENAI_REALTIME_URL, OPENAI_REALTIME_RATE, checkOpenAIRealtimeUrl, type OpenAIRealtimeOptions } from './backends/openai-realtime.js';
export { LocalStackBackend, localStackProblem, localStackOptions, espeakProblem, endpointUrl, type LocalStackOptions, type LocalStackTts } from './backends/local-stack.js';
// audio (vcodec): Opus per session, resampling, framing, energy VAD, PCM helpers.
export * from './audio.js';
// vgate: the WebRTC gateway (werift) the daemon embeds and `caic voice-gateway` runs standalone.
export { VoiceGateway, GATEWAY_DEFAULTS, GATEWAY_INSTRUCTION, VOICE_CHANNEL_LABEL, icePeerConfig, hostAddresses, Pacer, type GatewayResult, type VoiceGatewayOptions, type PacedPacket, type RtcTiming } from './gateway/index.js';

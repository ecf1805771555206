// The WebRTC voice gateway: sessions (werift) between a client and a backend, their manager, and ICE settings.
export { VoiceGateway, GATEWAY_DEFAULTS, type GatewayResult, type VoiceGatewayOptions } from './gateway.js';
export { RtcSession, BadOfferError, GATEWAY_INSTRUCTION, VOICE_CHANNEL_LABEL, type RtcTiming } from './session.js';
export { icePeerConfig, hostAddresses, bridgeSubnets, type IceSettings, type IcePeerConfig } from './ice.js';
export { Pacer, type PacedPacket } from './pacer.js';

// Wire types of voice: the token a client takes to a voice gateway, and whether voice is on (and why not).
import { z } from 'zod';

export const VoiceMode = z
  .enum(['embedded', 'standalone', 'off'])
  .describe('embedded: the gateway runs in this daemon; standalone: [voice-gateway] url names one; off: neither.')
  .meta({ id: 'VoiceMode' });
export type VoiceMode = z.infer<typeof VoiceMode>;

export const VoiceStatus = z
  .object({
    enabled: z.boolean().describe('A client may ask for a voice token and open a session.'),
    mode: VoiceMode,
    reason: z.string().describe('Why voice is off and how to turn it on; empty when enabled.'),
  })
  .meta({ id: 'VoiceStatus' });
export type VoiceStatus = z.infer<typeof VoiceStatus>;

export const VoiceTokenResp = z
  .object({
    token: z.string().describe('Ed25519-signed (EdDSA JWS), audience voice-gateway; present it to the gateway when opening a session.'),
    expiresAt: z.iso.datetime().describe('The token is refused after this time (a few minutes); ask for a new one per session.'),
    gatewayUrl: z.string().describe('Base URL of the gateway: the client calls <gatewayUrl>/api/v1/voice/rtc/offer.'),
    capabilities: z.array(z.string()).describe('What the token allows (voice.session).'),
  })
  .meta({ id: 'VoiceTokenResp' });
export type VoiceTokenResp = z.infer<typeof VoiceTokenResp>;

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

// ---- The gateway's signalling: POST <gatewayUrl>/api/v1/voice/rtc/offer and …/{sessionId}/close ----
// Both carry the voice token as `Authorization: Bearer <token>` (embedded and standalone alike):
// the gateway trusts only that token, never a caic session cookie.

export const VoiceRtcOfferReq = z
  .strictObject({
    type: z.literal('offer'),
    sdp: z.string().min(1).max(65536).describe('The client\'s SDP offer: one audio track (Opus, sendrecv) and the data channel "voice-gateway".'),
  })
  .meta({ id: 'VoiceRtcOfferReq' });
export type VoiceRtcOfferReq = z.infer<typeof VoiceRtcOfferReq>;

export const VoiceRtcOfferResp = z
  .object({
    sessionId: z.string().describe('Names the session for …/rtc/{sessionId}/close.'),
    type: z.literal('answer'),
    sdp: z.string().describe('The gateway\'s SDP answer, with every ICE candidate already gathered (no trickle).'),
  })
  .meta({ id: 'VoiceRtcOfferResp' });
export type VoiceRtcOfferResp = z.infer<typeof VoiceRtcOfferResp>;

export const VoiceSessionParams = z.object({
  sessionId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be a session id the offer returned'),
});
export type VoiceSessionParams = z.infer<typeof VoiceSessionParams>;

export const VoiceRtcCloseResp = z
  .object({ closed: z.boolean().describe('False when the session had already ended.') })
  .meta({ id: 'VoiceRtcCloseResp' });
export type VoiceRtcCloseResp = z.infer<typeof VoiceRtcCloseResp>;

// ---- The tools a voice client offers its model, run by the client with its own session ----

export const VoiceToolInfo = z
  .object({
    name: z.string(),
    description: z.string(),
    parameters: z.record(z.string(), z.unknown()).describe('JSON Schema of the arguments.'),
  })
  .meta({ id: 'VoiceToolInfo' });
export type VoiceToolInfo = z.infer<typeof VoiceToolInfo>;

export const VoiceToolsResp = z
  .object({ tools: z.array(VoiceToolInfo).describe("The MCP server's tools the caller may use, for session.setup's tools[].") })
  .meta({ id: 'VoiceToolsResp' });
export type VoiceToolsResp = z.infer<typeof VoiceToolsResp>;

export const VoiceToolCallReq = z
  .strictObject({
    name: z.string().min(1).max(64),
    args: z.record(z.string(), z.unknown()).default({}),
  })
  .meta({ id: 'VoiceToolCallReq' });
export type VoiceToolCallReq = z.infer<typeof VoiceToolCallReq>;

export const VoiceToolCallResp = z
  .object({
    ok: z.boolean().describe('False when the tool ran and failed (the model should hear why); bad requests are 4xx instead.'),
    result: z.unknown().describe('The structured result, as the MCP tool returns it; what goes back as tool.result.'),
    text: z.string().describe('A short text of the outcome, for the transcript.'),
  })
  .meta({ id: 'VoiceToolCallResp' });
export type VoiceToolCallResp = z.infer<typeof VoiceToolCallResp>;

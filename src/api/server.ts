// Wire types of the server-level routes: health, readiness and the public capability document.
import { z } from 'zod';
import { VoiceStatus } from './voice.js';

export const HealthResp = z.object({ status: z.literal('ok') }).meta({ id: 'HealthResp' });
export type HealthResp = z.infer<typeof HealthResp>;

export const ReadyResp = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    checks: z.record(z.string(), z.string()).describe('Per dependency: "ok" or the reason it is not ready.'),
  })
  .meta({ id: 'ReadyResp' });
export type ReadyResp = z.infer<typeof ReadyResp>;

export const AuthProvider = z.enum(['github', 'gitlab']).meta({ id: 'AuthProvider' });
export type AuthProvider = z.infer<typeof AuthProvider>;

export const ServerConfigResp = z
  .object({
    version: z.string(),
    authEnabled: z.boolean().describe('True when a login provider is configured; then /api/v1 needs a session.'),
    authProviders: z.array(AuthProvider).describe('Login providers to offer, empty in no-auth mode.'),
    root: z.string().describe('The directory repositories are looked for under (absolute); empty when login is on and the caller is not signed in.'),
    capabilities: z.object({
      tailscaleAvailable: z.boolean(),
      gitHubAppEnabled: z.boolean(),
      voiceAvailable: z.boolean().describe('Same as voice.enabled.'),
      dockerAvailable: z.boolean().describe('A container engine answers; tasks can start.'),
      sudoAvailable: z
        .boolean()
        .describe('Tasks may ask for sudo: false while no engine answers, and on rootless Podman, where creating a task with sudo is a 400.'),
    }),
    voice: VoiceStatus,
  })
  .meta({ id: 'ServerConfigResp' });
export type ServerConfigResp = z.infer<typeof ServerConfigResp>;

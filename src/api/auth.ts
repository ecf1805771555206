// Wire types of the login routes: OAuth start/callback queries, the current user, logout.
import { z } from 'zod';
import { AuthProvider } from './server.js';

export const AuthProviderParams = z.object({ provider: AuthProvider });

export const AuthStartQuery = z.object({
  return: z
    .enum(['web', 'app'])
    .optional()
    .describe('"app" ends the flow with a redirect to caic://auth?token=<jwt> for the Android app.'),
});

export const AuthCallbackQuery = z.object({
  code: z.string().max(2048).optional(),
  state: z.string().max(512).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
});

export const UserResp = z
  .object({
    id: z.string(),
    provider: AuthProvider,
    username: z.string(),
    avatarURL: z.string(),
  })
  .meta({ id: 'UserResp' });
export type UserResp = z.infer<typeof UserResp>;

export const StatusResp = z.object({ status: z.string() }).meta({ id: 'StatusResp' });
export type StatusResp = z.infer<typeof StatusResp>;

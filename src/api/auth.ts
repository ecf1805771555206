// Wire types of the login routes: OAuth start/callback queries, the app's code redemption, the current user, logout.
import { z } from 'zod';
import { AuthProvider } from './server.js';

export const AuthProviderParams = z.object({ provider: AuthProvider });

/** RFC 7636 S256 challenge: BASE64URL(SHA-256(code_verifier)), always 43 characters. */
export const CodeChallenge = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be BASE64URL(SHA-256(code_verifier)), 43 characters');
/** RFC 7636 code_verifier: 43 to 128 unreserved characters. */
export const CodeVerifier = z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/, 'must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~');

export const AuthStartQuery = z.object({
  return: z
    .enum(['web', 'app'])
    .optional()
    .describe(
      '"app" ends the flow with a redirect to caic://auth?code=<one-time code> for the Android app, which redeems it ' +
        'with POST /api/v1/auth/token and its code_verifier.',
    ),
  code_challenge: CodeChallenge.optional().describe('With return=app (required, unless legacy app sign-in is still allowed): the PKCE S256 challenge.'),
  code_challenge_method: z.literal('S256').optional().describe('Must be S256 when code_challenge is sent.'),
  next: z
    .string()
    .max(512)
    .regex(/^\/oauth\/[A-Za-z0-9/_-]+$/, 'must be a path under /oauth/ on this server')
    .optional()
    .describe('With return=web: where the browser goes after signing in (an OAuth authorization in progress); default /.'),
});

export const AuthCallbackQuery = z.object({
  code: z.string().max(2048).optional(),
  state: z.string().max(512).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
});

export const AuthTokenReq = z
  .object({
    code: z.string().min(1).max(128).describe('The one-time code from the caic://auth?code= deep link.'),
    code_verifier: CodeVerifier.describe('The verifier whose S256 challenge the app sent to start?return=app.'),
  })
  .meta({ id: 'AuthTokenReq' });
export type AuthTokenReq = z.infer<typeof AuthTokenReq>;

export const UserResp = z
  .object({
    id: z.string(),
    provider: AuthProvider,
    username: z.string(),
    avatarURL: z.string(),
  })
  .meta({ id: 'UserResp' });
export type UserResp = z.infer<typeof UserResp>;

export const AuthTokenResp = z
  .object({
    token: z.string().describe('Session JWT: send it as Authorization: Bearer <token>.'),
    expiresAt: z.string().describe('ISO-8601 time the token stops being accepted.'),
    user: UserResp,
  })
  .meta({ id: 'AuthTokenResp' });
export type AuthTokenResp = z.infer<typeof AuthTokenResp>;

export const StatusResp = z.object({ status: z.string() }).meta({ id: 'StatusResp' });
export type StatusResp = z.infer<typeof StatusResp>;

export const LogoutEverywhereResp = z
  .object({
    status: z.literal('ok'),
    devicesUnpaired: z.number().int().min(0).describe('Paired devices (device pairing grants) that were revoked too.'),
  })
  .meta({ id: 'LogoutEverywhereResp' });
export type LogoutEverywhereResp = z.infer<typeof LogoutEverywhereResp>;

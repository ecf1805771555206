// Wire types of the connected-apps routes: OAuth grants given to MCP clients, listed and revoked.
import { z } from 'zod';

export const OAuthGrant = z
  .object({
    id: z.string(),
    clientId: z.string().describe('The client: a registered id, or the https URL of its metadata document.'),
    clientName: z.string(),
    scopes: z.array(z.string()).describe('What was granted on the consent page, e.g. caic:tasks.read.'),
    createdAt: z.string().describe('ISO-8601 time of the consent.'),
    lastUsedAt: z.string().nullable().describe('ISO-8601 time a token of this grant was last issued or used; null: never.'),
    expiresAt: z.string().nullable(),
  })
  .meta({ id: 'OAuthGrant' });
export type OAuthGrant = z.infer<typeof OAuthGrant>;

export const OAuthGrantsResp = z.object({ grants: z.array(OAuthGrant) }).meta({ id: 'OAuthGrantsResp' });
export type OAuthGrantsResp = z.infer<typeof OAuthGrantsResp>;

export const GrantIdParams = z.object({ id: z.string().min(1).max(128).regex(/^[A-Za-z0-9_-]+$/, 'not a grant id') });

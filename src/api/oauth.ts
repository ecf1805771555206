// Wire types of the connected-apps routes: OAuth grants given to MCP clients and paired devices,
// listed and revoked; the REST API's own OAuth resource and scope (device pairing).
import { z } from 'zod';

/**
 * The REST API as an OAuth resource (RFC 8707): paired devices (the Android app, the `caic`
 * command) get access tokens whose audience is `<origin>` + this path. Only the device
 * authorization grant (RFC 8628) issues them.
 */
export const API_RESOURCE_PATH = '/api/v1';
/** The one scope of the REST API: everything the signed-in user can do through it. */
export const API_SCOPE = 'caic:api';
export const API_SCOPE_LABEL = 'Use the caic API as you: see, start, answer, push, stop and purge your tasks, and clone repositories (what the web UI can do)';

export const OAuthGrant = z
  .object({
    id: z.string(),
    clientId: z.string().describe('The client: a registered id, or the https URL of its metadata document.'),
    clientName: z.string().describe('The name the app or device registered with (a paired device: the name it chose, e.g. "caic on Pixel 8").'),
    kind: z.enum(['mcp', 'device']).describe('mcp: an MCP client (tokens for /api/v1/mcp); device: a paired device (tokens for the REST API, /api/v1).'),
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

// Who calls the MCP endpoint: the token-verifier seam, the caller's principal, and the 401/403 challenges.
import { MCP_PATH, MCP_SCOPES, type McpScope } from '../api/index.js';
import type { Caller } from '../tasks/index.js';

/** What a verified access token says. The verifier checked signature, expiry, issuer and audience. */
export interface VerifiedToken {
  /** The caic user the token acts for (users.json id). */
  userId: string;
  /** Granted scopes; unknown ones are ignored. */
  scopes: string[];
  /** The OAuth client it was issued to (for the audit log and session binding). */
  clientId: string;
}

/**
 * The seam to the authorization server: verifies a bearer access token presented to the MCP
 * endpoint. Returns null for anything not valid for this resource (bad signature, expired, wrong
 * audience, revoked, issued by someone else); it must not throw for a bad token. `resource` is the
 * URL of the MCP endpoint the token must be issued for (its `aud`).
 */
export interface McpTokenVerifier {
  verify(token: string, resource: string): Promise<VerifiedToken | null>;
}

/** One record per tool call and resource read (and per refusal); never a token or a secret. */
export interface AuditSink {
  append(record: Record<string, unknown>): void;
}

/** The caller of one MCP request. */
export interface Principal {
  /** Who, for rate limiting and session binding: the user id, or `local` in no-auth mode. */
  subject: string;
  /** As the task service sees it: null in no-auth mode. */
  caller: Caller | null;
  /** `local` (no-auth), `web` (session cookie), or the OAuth client id. */
  clientId: string;
  scopes: ReadonlySet<McpScope>;
  via: 'none' | 'cookie' | 'token';
}

export const ALL_SCOPES: ReadonlySet<McpScope> = new Set(MCP_SCOPES);

export function scopesOf(granted: readonly string[]): Set<McpScope> {
  const known = new Set<string>(MCP_SCOPES);
  return new Set(granted.filter((s): s is McpScope => known.has(s)));
}

/** The URLs a client discovers the authorization server from (RFC 9728). */
export interface ResourceUrls {
  /** The MCP endpoint: the `resource` of RFC 8707 and the access token's audience. */
  resource: string;
  /** Its protected-resource metadata document. */
  metadata: string;
}

export function resourceUrls(origin: string): ResourceUrls {
  return { resource: `${origin}${MCP_PATH}`, metadata: `${origin}/.well-known/oauth-protected-resource${MCP_PATH}` };
}

const quote = (s: string) => `"${s.replace(/["\\]/g, '')}"`;

/** `WWW-Authenticate` of a 401: where to find the authorization server and which scopes to ask for. */
export function bearerChallenge(urls: ResourceUrls, opts: { error?: 'invalid_token' | 'invalid_request'; description?: string } = {}): string {
  const parts = [`resource_metadata=${quote(urls.metadata)}`, `scope=${quote(MCP_SCOPES.join(' '))}`];
  if (opts.error) parts.push(`error=${quote(opts.error)}`);
  if (opts.description) parts.push(`error_description=${quote(opts.description)}`);
  return `Bearer ${parts.join(', ')}`;
}

/** The step-up challenge of a call above the token's scopes: the scopes held plus the one missing. */
export function insufficientScopeChallenge(urls: ResourceUrls, held: ReadonlySet<McpScope>, needed: McpScope): string {
  const scope = [...new Set([...held, needed])].join(' ');
  return `Bearer error="insufficient_scope", scope=${quote(scope)}, resource_metadata=${quote(urls.metadata)}, error_description=${quote(`this needs ${needed}`)}`;
}

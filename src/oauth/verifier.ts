// Checks access tokens issued by caic's authorization server for the MCP endpoint (the MCP token seam).
import type { KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { SIGNING_ALG } from './keys.js';

/** Who a valid access token acts for. */
export interface VerifiedToken {
  userId: string;
  scopes: string[];
  clientId: string;
}

/** Structurally the MCP server's `McpTokenVerifier` seam (the daemon hands it over as is). */
export interface OAuthTokenVerifier {
  /**
   * `resource`: the URL the caller was reached at, when the caller knows it; a token is good only
   * where it was issued for, so a resource other than ours refuses it.
   */
  verify(token: string, resource?: string): Promise<VerifiedToken | null>;
}

export interface TokenVerifierOptions {
  issuer: () => string;
  /** The resource the token must be for (its `aud`): the MCP endpoint's URL. */
  resource: () => string;
  publicKey: KeyObject;
  /** Whether the grant a token came from still stands (not revoked, not expired). */
  grantActive: (grantId: string) => boolean;
  /** Called for a token that verified: the grant's "last used". */
  onUse?: (grantId: string) => void;
  now?: () => number;
}

const MAX_TOKEN_LENGTH = 8192;

/**
 * RFC 9068 access tokens: ES256 with our key only, `typ: at+jwt`, our issuer, `aud` = the MCP
 * resource, unexpired, and a grant that has not been revoked since the token was issued.
 */
export function createTokenVerifier(opts: TokenVerifierOptions): OAuthTokenVerifier {
  return {
    async verify(token: string, resource?: string): Promise<VerifiedToken | null> {
      if (token.length > MAX_TOKEN_LENGTH) return null;
      if (resource !== undefined && resource !== opts.resource()) return null;
      try {
        const { payload } = await jwtVerify(token, opts.publicKey, {
          algorithms: [SIGNING_ALG],
          typ: 'at+jwt',
          issuer: opts.issuer(),
          audience: opts.resource(),
          requiredClaims: ['exp', 'sub', 'client_id', 'gid'],
          ...(opts.now ? { currentDate: new Date(opts.now()) } : {}),
        });
        const gid = payload.gid;
        const clientId = payload.client_id;
        if (typeof gid !== 'string' || typeof clientId !== 'string' || !opts.grantActive(gid)) return null;
        opts.onUse?.(gid);
        const scope = typeof payload.scope === 'string' ? payload.scope : '';
        return { userId: payload.sub!, scopes: scope.split(' ').filter(Boolean), clientId };
      } catch {
        return null;
      }
    },
  };
}

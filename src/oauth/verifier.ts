// Checks access tokens issued by caic's authorization server: for the MCP endpoint (the MCP token
// seam), and for the REST API (paired devices, with a cache so the auth step stays synchronous).
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
  /** The resource the token must be for (its `aud`, exactly): the MCP endpoint's URL, or the REST API's. */
  resource: () => string;
  /** A scope the token must carry (the REST API's `caic:api`). */
  requiredScope?: string;
  publicKey: KeyObject;
  /** Whether the grant a token came from still stands (not revoked, not expired). */
  grantActive: (grantId: string) => boolean;
  /** Called for a token that verified: the grant's "last used". */
  onUse?: (grantId: string) => void;
  now?: () => number;
}

const MAX_TOKEN_LENGTH = 8192;

/**
 * RFC 9068 access tokens: ES256 with our key only, `typ: at+jwt`, our issuer, `aud` = the
 * resource, unexpired, and a grant that has not been revoked since the token was issued.
 */
export function createTokenVerifier(opts: TokenVerifierOptions): OAuthTokenVerifier {
  return { verify: async (token, resource) => (await checkToken(opts, token, resource))?.verified ?? null };
}

interface Checked {
  verified: VerifiedToken;
  grantId: string;
  exp: number;
}

async function checkToken(opts: TokenVerifierOptions, token: string, resource?: string): Promise<Checked | null> {
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
    // One audience, exactly ours: a token for several resources is not one we issue.
    if (payload.aud !== opts.resource()) return null;
    if (typeof gid !== 'string' || typeof clientId !== 'string' || !opts.grantActive(gid)) return null;
    const scopes = (typeof payload.scope === 'string' ? payload.scope : '').split(' ').filter(Boolean);
    if (opts.requiredScope !== undefined && !scopes.includes(opts.requiredScope)) return null;
    opts.onUse?.(gid);
    return { verified: { userId: payload.sub!, scopes, clientId }, grantId: gid, exp: payload.exp! };
  } catch {
    return null;
  }
}

/** Paired devices' access tokens for the REST API; structurally the http layer's `DeviceTokenCheck`. */
export interface DeviceTokens {
  cached(token: string): string | null | undefined;
  verify(token: string): Promise<string | null>;
  revoke(token: string): Promise<boolean>;
}

const CACHE_SIZE = 1024;
/** "Last used" of a grant is noted at most this often from cached answers (the grants list shows it). */
const TOUCH_EVERY_MS = 60_000;

/**
 * The REST API's check of device tokens. A token's signature is checked once; later requests
 * with it are answered from memory, still asking on each one whether its grant stands (a revoked
 * device fails on its next call) and whether it expired.
 */
export function createDeviceTokenCheck(
  opts: TokenVerifierOptions & { revoke: (accountId: string, grantId: string) => Promise<boolean> },
): DeviceTokens {
  const seen = new Map<string, Checked & { touched: number }>();
  const now = () => opts.now?.() ?? Date.now();
  const cached = (token: string): string | null | undefined => {
    const hit = seen.get(token);
    if (!hit) return undefined;
    if (hit.exp * 1000 <= now() || !opts.grantActive(hit.grantId)) {
      seen.delete(token);
      return null;
    }
    const t = now();
    if (t - hit.touched >= TOUCH_EVERY_MS) {
      hit.touched = t;
      opts.onUse?.(hit.grantId);
    }
    return hit.verified.userId;
  };
  const check = async (token: string): Promise<Checked | null> => {
    const c = await checkToken(opts, token);
    if (!c) return null;
    if (seen.size >= CACHE_SIZE) seen.delete(seen.keys().next().value!);
    seen.set(token, { ...c, touched: now() });
    return c;
  };
  return {
    cached,
    async verify(token) {
      const hit = cached(token);
      if (hit !== undefined) return hit;
      return (await check(token))?.verified.userId ?? null;
    },
    async revoke(token) {
      const c = seen.get(token) ?? (await check(token));
      seen.delete(token);
      return c ? opts.revoke(c.verified.userId, c.grantId) : false;
    },
  };
}

// What a request's credential stands for: a session token (cookie or bearer), or a paired device's
// access token (bearer only, audience /api/v1, checked by the authorization server's verifier).
import type { StoredUser } from '../../config/index.js';
import type { SessionManager } from './session.js';

/**
 * The seam to the authorization server for access tokens of paired devices (RFC 8628 device
 * pairing): checked for the REST API's audience only, so a token issued for the MCP endpoint never
 * passes here. Answers the user id a token acts for, or null.
 */
export interface DeviceTokenCheck {
  /** Synchronous answer for a token already verified (null: no longer valid), undefined when unknown. */
  cached(token: string): string | null | undefined;
  verify(token: string): Promise<string | null>;
  /** Unpairs the device this token belongs to (its grant); false when it is not a valid device token. */
  revoke(token: string): Promise<boolean>;
}

/** A credential as the request carried it: a bearer header, or the session cookie. */
export interface Presented {
  token: string;
  bearer: boolean;
  /** Further session cookies of the same name the request also sent (see resolvePresented). */
  alternates?: string[];
}

/**
 * Access tokens by their header (RFC 9068: `typ: at+jwt`); everything else is tried as a session
 * token only. Read on the uncached path alone: known tokens are answered from memory.
 */
export function isAccessToken(token: string): boolean {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 512) return false;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as unknown;
    return typeof header === 'object' && header !== null && (header as { typ?: unknown }).typ === 'at+jwt';
  } catch {
    return false;
  }
}

export class Credentials {
  constructor(
    readonly sessions: SessionManager,
    private readonly devices: DeviceTokenCheck | null,
  ) {}

  private isDevice(c: Presented): boolean {
    return c.bearer && this.devices !== null && isAccessToken(c.token);
  }

  /** The sessions' cached fast path first; then known device tokens. Undefined: needs `verify`. */
  cached(c: Presented): StoredUser | null | undefined {
    const known = this.sessions.cached(c.token);
    if (known !== undefined || !c.bearer || !this.devices) return known;
    const userId = this.devices.cached(c.token);
    if (userId === undefined) return undefined;
    return userId === null ? null : this.sessions.userById(userId);
  }

  async verify(c: Presented): Promise<StoredUser | null> {
    if (!this.isDevice(c)) return this.sessions.verify(c.token);
    const userId = await this.devices!.verify(c.token);
    return userId === null ? null : this.sessions.userById(userId);
  }

  /** Logout: ends this session server-side, or unpairs the device the token belongs to. */
  end(c: Presented): Promise<boolean> {
    return this.isDevice(c) ? this.devices!.revoke(c.token) : this.sessions.revoke(c.token);
  }
}

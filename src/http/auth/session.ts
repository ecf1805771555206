// Session tokens: HS256 JWTs (jose) signed with the session secret; fixed lifetime, no refresh;
// valid only while their user is in users.json, still allowed to sign in, and the session was not
// ended (logout: its id is listed in the user's record; sign out everywhere: the user's epoch rose).
import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { StoredUser, UserStore } from '../../config/index.js';

export const SESSION_COOKIE = 'caic_session';
const MAX_TOKEN_LENGTH = 4096;
const VERIFIED_CACHE_SIZE = 1024;

export interface SessionClaims {
  sub: string;
  prv: string;
  usr: string;
  iat: number;
  exp: number;
  /** Session id: what logout lists as ended. Tokens issued before sessions were revocable have none. */
  jti?: string;
  /** The user's session epoch when it was issued (absent: 0). */
  sep?: number;
}

interface Verified {
  sub: string;
  exp: number;
  /** The session's id (its jti, or a hash of an old token that has none). */
  sid: string;
  epoch: number;
  /** The user as of `generation` of the user store (null: gone or no longer allowed). */
  user: StoredUser | null;
  generation: number;
}

export interface SessionOptions {
  ttlSeconds: number;
  /**
   * Whether a stored user may still use the server (their provider is configured and lists them
   * in `allowed_users`): a user taken off the list loses their sessions.
   */
  isAllowed: (user: StoredUser) => boolean;
  now?: () => number;
}

export class SessionManager {
  private readonly key: KeyObject;
  /**
   * Browsers resend the same token on every request: its signature was checked once, and its user
   * is looked up again only when users.json changed since (the store's generation).
   */
  private readonly verified = new Map<string, Verified>();

  constructor(
    secret: Buffer,
    private readonly users: UserStore,
    private readonly opts: SessionOptions,
  ) {
    this.key = createSecretKey(secret);
  }

  /** The user with this id if they exist and are still allowed, else null. */
  userById(id: string): StoredUser | null {
    const user = this.users.get(id);
    return user && this.opts.isAllowed(user) ? user : null;
  }

  /** The user of a session if it was not ended (logout, sign out everywhere) and they may still sign in. */
  private holder(v: Pick<Verified, 'sub' | 'sid' | 'epoch'>): StoredUser | null {
    const user = this.userById(v.sub);
    if (!user || user.sessionEpoch !== v.epoch) return null;
    return user.revokedSessions.some((r) => r.id === v.sid) ? null : user;
  }

  private nowSeconds(): number {
    return Math.floor((this.opts.now?.() ?? Date.now()) / 1000);
  }

  get ttlSeconds(): number {
    return this.opts.ttlSeconds;
  }

  async issue(user: StoredUser): Promise<{ token: string; expiresAt: Date }> {
    const iat = this.nowSeconds();
    const exp = iat + this.opts.ttlSeconds;
    const token = await new SignJWT({ prv: user.provider, usr: user.username, sep: user.sessionEpoch })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setJti(randomBytes(16).toString('base64url'))
      .setSubject(user.id)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Synchronous answer for a token whose signature was already checked: the user, null (expired,
   * user gone), or undefined when the token has not been seen and needs `verify`.
   */
  cached(token: string): StoredUser | null | undefined {
    const hit = this.verified.get(token);
    if (!hit) return undefined;
    if (hit.exp <= this.nowSeconds()) {
      this.verified.delete(token);
      return null;
    }
    // users.json changed since (a user removed, a session ended): look again, once per change.
    const generation = this.users.generation;
    if (hit.generation !== generation) {
      hit.user = this.holder(hit);
      hit.generation = generation;
    }
    return hit.user;
  }

  /** The checked claims of a token, or null (bad signature, other algorithm, expired, malformed). */
  private async claims(token: string): Promise<Omit<Verified, 'user' | 'generation'> | null> {
    if (token.length > MAX_TOKEN_LENGTH) return null;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'], // pinned: `none` and every other algorithm are refused
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: new Date(this.nowSeconds() * 1000),
      });
      const epoch = payload.sep ?? 0;
      if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) return null;
      const sid = typeof payload.jti === 'string' && payload.jti ? payload.jti : `h:${createHash('sha256').update(token).digest('base64url').slice(0, 32)}`;
      return { sub: payload.sub!, exp: payload.exp!, sid, epoch };
    } catch {
      return null;
    }
  }

  /**
   * Ends the session of this token (logout): it no longer verifies, also when replayed and after a
   * restart. False when the token is not a session that holds (nothing to end).
   */
  async revoke(token: string): Promise<boolean> {
    const c = await this.claims(token);
    this.verified.delete(token);
    // Only a session that still holds is written down: an ended token sent again changes nothing
    // (and cannot make the daemon rewrite users.json on every request).
    if (!c || !this.holder(c)) return false;
    return this.users.revokeSession(c.sub, c.sid, c.exp);
  }

  /** Ends every session of a user ("sign out everywhere"). */
  async revokeAll(userId: string): Promise<boolean> {
    return this.users.endAllSessions(userId);
  }

  /** The user a token belongs to, or null: bad signature, other algorithm, expired, session ended, user gone or not allowed. */
  async verify(token: string): Promise<StoredUser | null> {
    const hit = this.cached(token);
    if (hit !== undefined) return hit;
    const c = await this.claims(token);
    if (!c) return null;
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      // Drop the oldest entry (Map iterates in insertion order).
      this.verified.delete(this.verified.keys().next().value!);
    }
    const user = this.holder(c);
    this.verified.set(token, { ...c, user, generation: this.users.generation });
    return user;
  }
}

// Session tokens: HS256 JWTs (jose) signed with the session secret; fixed lifetime, no refresh;
// valid only while their user is in users.json and still allowed to sign in.
import { createSecretKey, type KeyObject } from 'node:crypto';
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
}

interface Verified {
  sub: string;
  exp: number;
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

  private nowSeconds(): number {
    return Math.floor((this.opts.now?.() ?? Date.now()) / 1000);
  }

  get ttlSeconds(): number {
    return this.opts.ttlSeconds;
  }

  async issue(user: StoredUser): Promise<{ token: string; expiresAt: Date }> {
    const iat = this.nowSeconds();
    const exp = iat + this.opts.ttlSeconds;
    const token = await new SignJWT({ prv: user.provider, usr: user.username })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
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
    const generation = this.users.generation;
    if (hit.generation !== generation) {
      hit.user = this.userById(hit.sub);
      hit.generation = generation;
    }
    return hit.user;
  }

  /** The user a token belongs to, or null: bad signature, other algorithm, expired, user gone or not allowed. */
  async verify(token: string): Promise<StoredUser | null> {
    if (token.length > MAX_TOKEN_LENGTH) return null;
    const hit = this.cached(token);
    if (hit !== undefined) return hit;
    const now = this.nowSeconds();
    let sub: string;
    let exp: number;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'], // pinned: `none` and every other algorithm are refused
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: new Date(now * 1000),
      });
      sub = payload.sub!;
      exp = payload.exp!;
    } catch {
      return null;
    }
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      // Drop the oldest entry (Map iterates in insertion order).
      this.verified.delete(this.verified.keys().next().value!);
    }
    const user = this.userById(sub);
    this.verified.set(token, { sub, exp, user, generation: this.users.generation });
    return user;
  }
}

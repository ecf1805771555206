// The Android app's sign-in hand-off: the deep link carries a one-time code that only the app
// holding the PKCE verifier (RFC 7636, S256) can redeem for a session token.
import { createHash, randomBytes } from 'node:crypto';
import { OneTimeStore } from './one-time.js';
import { constantTimeEqual } from './state-cookie.js';

/** Long enough for the app to come to the foreground and call back; short enough to be useless later. */
const HANDOFF_CODE_TTL_SECONDS = 60;
const MAX_PENDING_CODES = 10_000;

/** BASE64URL(SHA-256(verifier)): the S256 transform. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

export type RedeemResult = { userId: string } | { error: string };

export class AppHandoff {
  private readonly codes: OneTimeStore<{ userId: string; challenge: string }>;

  constructor(opts: { now?: () => number } = {}) {
    this.codes = new OneTimeStore({
      ttlMs: HANDOFF_CODE_TTL_SECONDS * 1000,
      capacity: MAX_PENDING_CODES,
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  /** A fresh 256-bit code for this user, bound to the challenge the app started with. */
  issue(userId: string, challenge: string): string {
    const code = randomBytes(32).toString('base64url');
    this.codes.put(code, { userId, challenge });
    return code;
  }

  /** One attempt per code: a wrong verifier burns it too, so a caught code cannot be guessed at. */
  redeem(code: string, verifier: string): RedeemResult {
    const entry = this.codes.take(code);
    if (!entry) return { error: 'sign-in code invalid, expired or already used; sign in again' };
    if (!constantTimeEqual(s256(verifier), entry.challenge)) {
      return { error: 'code_verifier does not match the code_challenge of this sign-in; sign in again' };
    }
    return { userId: entry.userId };
  }
}

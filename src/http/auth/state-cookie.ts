// The OAuth CSRF state: a random value per login attempt, echoed in a cookie MAC'd with the
// session secret, and remembered by the server so it works once and only for ten minutes.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { OneTimeStore } from './one-time.js';

export const STATE_COOKIE = 'caic_oauth_state';
export const STATE_MAX_AGE_SECONDS = 600;
/** Sign-in attempts remembered at once; beyond it the oldest is forgotten. */
const MAX_PENDING_STATES = 10_000;

export type ReturnTo = 'web' | 'app';

function mac(secret: Buffer, state: string): string {
  return createHmac('sha256', secret).update(state).digest('base64url');
}

/** Hashing first gives equal-length inputs, so the comparison time says nothing about the values. */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** A fresh 128-bit state; where the flow returns to is bound into it (and so into the MAC). */
export function newState(secret: Buffer, returnTo: ReturnTo): { state: string; cookie: string } {
  const state = `${returnTo}:${randomBytes(16).toString('hex')}`;
  return { state, cookie: `${state}.${mac(secret, state)}` };
}

/**
 * Checks the cookie's MAC and that the `state` query parameter equals the cookie's state.
 * Returns where the flow should return to, or null when anything is off.
 */
export function checkState(secret: Buffer, cookie: string | undefined, stateParam: string | undefined): ReturnTo | null {
  if (!cookie || !stateParam) return null;
  const dot = cookie.lastIndexOf('.');
  if (dot <= 0) return null;
  const state = cookie.slice(0, dot);
  const macOk = constantTimeEqual(cookie.slice(dot + 1), mac(secret, state));
  const stateOk = constantTimeEqual(state, stateParam);
  if (!macOk || !stateOk) return null;
  const returnTo = state.slice(0, state.indexOf(':'));
  return returnTo === 'web' || returnTo === 'app' ? returnTo : null;
}

/** What the server remembers of one sign-in attempt. */
export interface PendingLogin {
  returnTo: ReturnTo;
  /** The app's PKCE S256 challenge (return=app from a current app build). */
  codeChallenge?: string;
  /** return=web: a local path to go back to after signing in (an OAuth authorization request). */
  next?: string;
}

/**
 * The cookie binds a state to the browser that started the sign-in; the server-side record makes
 * it single-use and bounds its lifetime whatever the browser does with the cookie. A restart
 * forgets pending sign-ins: they fail with "start the sign-in again".
 */
export class LoginStates {
  private readonly pending: OneTimeStore<PendingLogin>;

  constructor(
    private readonly secret: Buffer,
    opts: { now?: () => number; capacity?: number } = {},
  ) {
    this.pending = new OneTimeStore({
      ttlMs: STATE_MAX_AGE_SECONDS * 1000,
      capacity: opts.capacity ?? MAX_PENDING_STATES,
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  begin(login: PendingLogin): { state: string; cookie: string } {
    const { state, cookie } = newState(this.secret, login.returnTo);
    this.pending.put(state, login);
    return { state, cookie };
  }

  /**
   * The attempt a callback belongs to, or null: wrong or missing cookie, state not ours, already
   * used, or older than STATE_MAX_AGE_SECONDS. A matching state is used up whatever happens next.
   */
  finish(cookie: string | undefined, stateParam: string | undefined): PendingLogin | null {
    const returnTo = checkState(this.secret, cookie, stateParam);
    if (!returnTo) return null;
    const login = this.pending.take(stateParam!);
    return login && login.returnTo === returnTo ? login : null;
  }
}

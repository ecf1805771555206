// The OAuth CSRF state: a random value per login attempt, echoed in a cookie MAC'd with the session secret.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const STATE_COOKIE = 'caic_oauth_state';
export const STATE_MAX_AGE_SECONDS = 600;

export type ReturnTo = 'web' | 'app';

function mac(secret: Buffer, state: string): string {
  return createHmac('sha256', secret).update(state).digest('base64url');
}

/** Hashing first gives equal-length inputs, so the comparison time says nothing about the values. */
function constantTimeEqual(a: string, b: string): boolean {
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

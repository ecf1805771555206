// Public surface of src/http/auth: OAuth providers, login states, the app hand-off, session tokens, host lock.
export { allowedByProviders, buildProviders, expiryFrom, OAuthError, type OAuthProvider, type ProviderTokens, type ProviderProfile } from './providers.js';
export { newState, checkState, LoginStates, STATE_COOKIE, STATE_MAX_AGE_SECONDS, type PendingLogin, type ReturnTo } from './state-cookie.js';
export { AppHandoff, HANDOFF_CODE_TTL_SECONDS, s256, type RedeemResult } from './app-handoff.js';
export { OneTimeStore } from './one-time.js';
export { SessionManager, SESSION_COOKIE, type SessionClaims, type SessionOptions } from './session.js';
export { HostLock, hostnameOf, isFqdn } from './host-lock.js';

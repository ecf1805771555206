// Public surface of src/http/auth: OAuth providers, state cookie, session tokens, host lock.
export { buildProviders, OAuthError, type OAuthProvider, type ProviderTokens, type ProviderProfile } from './providers.js';
export { newState, checkState, STATE_COOKIE, STATE_MAX_AGE_SECONDS, type ReturnTo } from './state-cookie.js';
export { SessionManager, SESSION_COOKIE, type SessionClaims } from './session.js';
export { HostLock, hostnameOf, isFqdn } from './host-lock.js';

// Public surface of src/http/auth: OAuth providers, login states, the app hand-off, session tokens, host lock.
export { allowedByProviders, buildProviders, expiryFrom, OAuthError, type OAuthProvider, type ProviderTokens, type ProviderProfile } from './providers.js';
export { newState, checkState, LoginStates, STATE_COOKIE, STATE_MAX_AGE_SECONDS, type PendingLogin, type ReturnTo } from './state-cookie.js';
export { AppHandoff, s256 } from './app-handoff.js';
export { OneTimeStore } from './one-time.js';
export { SessionManager, SESSION_COOKIE, type SessionClaims } from './session.js';
export { Credentials, isAccessToken, type DeviceTokenCheck, type Presented } from './credentials.js';
export { HostLock, hostnameOf, isFqdn } from './host-lock.js';

// Public surface of src/oauth: caic's authorization server, its routes, and the MCP token verifier.
export { OAuthServer, OAUTH_LIMITS, type OAuthServerOptions, type OAuthLimits, type GrantInfo } from './server.js';
export { grantRoutes } from './routes.js';
export { createDeviceTokenCheck, createTokenVerifier, type DeviceTokens, type OAuthTokenVerifier, type VerifiedToken, type TokenVerifierOptions } from './verifier.js';
export { guardedFetch, isPublicAddress, type GuardedFetchOptions } from './fetch.js';
export { loadOrCreateSigningKey, SIGNING_ALG, type SigningKey } from './keys.js';

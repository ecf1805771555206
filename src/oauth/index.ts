// Public surface of src/oauth: caic's authorization server, its routes, and the MCP token verifier.
export { OAuthServer, MCP_PATH, LOCAL_ACCOUNT, type OAuthServerOptions, type GrantInfo } from './server.js';
export { grantRoutes } from './routes.js';
export { createTokenVerifier, type OAuthTokenVerifier, type VerifiedToken, type TokenVerifierOptions } from './verifier.js';
export { SCOPES, SCOPE_NAMES, DEFAULT_SCOPES, type ScopeName } from './scopes.js';
export { guardedFetch, isPublicAddress, type GuardedFetchOptions } from './fetch.js';
export { loadOrCreateSigningKey, SIGNING_ALG, type SigningKey } from './keys.js';

// Public surface of src/http: the server builder and the edge pieces the daemon wires together.
export { buildServer, type ServerDeps } from './server.js';
export { Gate, RemoteCidrList, openGeoDb, parseGitHubMeta, parseOpenAiRanges, type GeoLookup } from './gate/index.js';
export { allowedByProviders, buildProviders, HostLock, SessionManager, type OAuthProvider } from './auth/index.js';
// Edge helpers for routes mounted from other folders (src/mcp).
export { sendError } from './errors.js';
export { effectiveHost, isHttps } from './context.js';

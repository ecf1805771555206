// Public surface of src/http: the server builder and the edge pieces the daemon wires together.
export { buildServer, type ServerDeps } from './server.js';
export { buildGatewayServer, type GatewayServerDeps } from './gateway-server.js';
export { Gate, RemoteCidrList, openGeoDb, parseGitHubMeta, parseOpenAiRanges, type GeoLookup } from './gate/index.js';
export { allowedByProviders, buildProviders, HostLock, SessionManager, type OAuthProvider } from './auth/index.js';
export { escapeHtml, htmlPage, sendError } from './errors.js';
export { effectiveHost, isHttps } from './context.js';
export { readCookie, CROSS_SITE_EXEMPT } from './auth/hooks.js';
export { routeOptions } from './routes/define.js';

// Public surface of src/forge: the forge seam's types, the clients of GitHub and GitLab, token order, the GitHub App.
export * from './types.js';
export { createForgeClients, ConfiguredForgeClients, type ForgeClientsOptions } from './clients.js';
export { parseRemote, type ForgeHosts } from './origin.js';
export { GitHubClient, type GitHubClientOptions } from './github.js';
export { GitLabClient, type GitLabClientOptions } from './gitlab.js';
export { GitHubApp, TOKEN_REFRESH_MARGIN_MS, type Installation, type GitHubAppOptions } from './app.js';
export { TokenResolver, readHostToken, type HostTokenReader, type TaskOwner } from './tokens.js';
export { trimActionsLog, trimGitLabTrace, LOG_LINES } from './logs.js';
export { FORGE_TIMEOUT_MS } from './http.js';

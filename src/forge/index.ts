// Public surface of src/forge: the forge seam's types, the clients of GitHub and GitLab, token order, the GitHub App, webhook hooks and the bot.
export * from './types.js';
export { createForgeClients, ConfiguredForgeClients, type ForgeClientsOptions } from './clients.js';
export { parseRemote, type ForgeHosts } from './origin.js';
export { GitHubClient, type GitHubClientOptions } from './github.js';
export { GitLabClient, type GitLabClientOptions } from './gitlab.js';
export { GitHubApp, TOKEN_REFRESH_MARGIN_MS, type Installation, type GitHubAppOptions } from './app.js';
export { TokenResolver, readHostToken, type HostTokenReader, type TaskOwner } from './tokens.js';
export { trimActionsLog, trimGitLabTrace, LOG_LINES } from './logs.js';
export { FORGE_TIMEOUT_MS } from './http.js';
export { Bot, BOT_MARKER, BOT_TASKS_FILE_NAME, botTaskDone, completionComment, type BotDeps, type BotOrigin, type BotTasks } from './bot.js';
export { HookRouter, mentionsCaic, NO_FORGE_EVENTS, type ForgeHook, type HookBot, type HookRepo, type HookRouterDeps, type HookSender, type Uninstall } from './hooks.js';
export { ManagedRepos, type ManagedRepoSource } from './managed.js';
export { SenderPolicy, ACCESS_TTL_MS, type SenderPolicyDeps, type SenderVerdict } from './senders.js';

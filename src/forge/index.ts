// Public surface of src/forge: the forge seam's types, the clients of GitHub and GitLab, token order,
// the GitHub App, the task side of forges (PRs, CI watching, the fix loop), webhook hooks and the bot.
export * from './types.js';
export { createForgeClients, ConfiguredForgeClients, type ForgeClientsOptions } from './clients.js';
export { parseRemote, type ForgeHosts } from './origin.js';
export { GitHubClient, type GitHubClientOptions } from './github.js';
export { GitLabClient, type GitLabClientOptions } from './gitlab.js';
export { GitHubApp, TOKEN_REFRESH_MARGIN_MS, type Installation, type GitHubAppOptions } from './app.js';
export { TokenResolver, readHostToken, type HostTokenReader, type TaskOwner } from './tokens.js';
export { trimActionsLog, trimGitLabTrace, LOG_LINES } from './logs.js';
export { FORGE_TIMEOUT_MS } from './http.js';
export { ForgeService, forgeFailure, type ForgeServiceDeps } from './service.js';
export { CIWatcher, ciKey, isTerminal, type CIWatchOptions, type CIWatchTimers } from './ci-watch.js';
export { parseIssueSpec, type IssueSpec } from './issue-ref.js';
export { ciSummary, prBody } from './texts.js';
export { Bot, BOT_MARKER, BOT_TASKS_FILE_NAME, botTaskDone, completionComment, type BotDeps, type BotOrigin, type BotTasks } from './bot.js';
export { HookRouter, mentionsCaic, type ForgeHook, type HookBot, type HookRouterDeps, type HookSender, type Uninstall } from './hooks.js';
export { ManagedRepos, type ManagedRepoSource } from './managed.js';
export { SenderPolicy, ACCESS_TTL_MS, type SenderPolicyDeps, type SenderVerdict } from './senders.js';

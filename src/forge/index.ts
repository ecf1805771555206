// Public surface of src/forge: the forge seam, webhook hooks and the bot.
export * from './types.js';
export { Bot, BOT_MARKER, BOT_TASKS_FILE_NAME, botTaskDone, completionComment, type BotDeps, type BotOrigin, type BotTasks } from './bot.js';
export { HookRouter, mentionsCaic, NO_FORGE_EVENTS, type ForgeHook, type HookBot, type HookRepo, type HookRouterDeps, type HookSender, type Uninstall } from './hooks.js';
export { ManagedRepos, type ManagedRepoSource } from './managed.js';
export { SenderPolicy, ACCESS_TTL_MS, type SenderPolicyDeps, type SenderVerdict } from './senders.js';

// Public surface of src/config: config.toml loading, XDG paths, state files and shared errors.
export { loadConfig, findKeyLine, normalizeCidr, CONFIG_FILE_NAME, DEFAULT_GEO_DB_NAME } from './load.js';
export type { Config, AllowOrigins, LoadOptions } from './load.js';
export { ConfigFileSchema, configKeyPaths, NAMED_ORIGINS, HARNESS_NAMES, type ConfigFile, type NamedOrigin } from './schema.js';
export { modelSocketUrlProblem, serverBaseUrlProblem } from './schema.js';
export { isLoopbackHost, localizeAddr, urlForListen, type ListenAddr } from './listen-addr.js';
export { defaultConfigDir, defaultCacheDir, expandHome, resolvePath, startDirectory, defaultRoot } from './paths.js';
export { createFileOnce, ensurePrivateDir, readStateFile, writeFileAtomic, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './files.js';
export { loadOrCreateSettings, SETTINGS_FILE_NAME, type Settings } from './settings.js';
export { UserStore, USERS_FILE_NAME, gitIdentityOf, type StoredUser, type ProviderIdentity, type UsersFileEvent } from './users.js';
export { UserError } from './errors.js';
export { lockCacheDir, type InstanceLock } from './instance-lock.js';
export { VERSION } from './version.js';
export { formatBytes, parseDuration, parseSize, resourceLimits, type ResourceLimits } from './units.js';
export { PreferenceStore, DEFAULT_USER, type UserPreferences } from './preferences.js';
export { formatEd25519PublicKey, parseEd25519PublicKey, ED25519_KEY_PREFIX } from './ed25519-key.js';

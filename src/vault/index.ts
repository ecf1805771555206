// The secrets vault: per-user secrets encrypted at rest (AES-256-GCM, key in vault.key), handed to tasks by name.
export { SecretVault, VaultError, SECRETS_FILE_NAME } from './store.js';
export { Vault } from './vault.js';
export { VAULT_KEY_FILE_NAME } from './crypto.js';

// Vault: the daemon's handle on the secrets vault, opened on first use; a vault that cannot open says why at each use.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretMeta } from '../api/index.js';
import { SECRETS_FILE_NAME, SecretVault, VaultError } from './store.js';

export class Vault {
  private opened: Promise<SecretVault> | null = null;

  /** `onValue` sees every value read or written (the daemon masks them in its logs). */
  constructor(
    private readonly configDir: string,
    private readonly onValue: (value: string) => void = () => undefined,
  ) {}

  /**
   * Opens the vault (making its key only when a secret is first set). A vault that cannot be read
   * (the wrong vault.key) refuses every use with the reason, and nothing is overwritten.
   */
  private open(): Promise<SecretVault> {
    this.opened ??= SecretVault.open(this.configDir).catch((err: unknown) => {
      throw new VaultError('CONFLICT', `the secrets vault cannot be read: ${(err as Error).message}`);
    });
    return this.opened;
  }

  private async exists(): Promise<boolean> {
    if (this.opened) return true;
    return access(join(this.configDir, SECRETS_FILE_NAME)).then(
      () => true,
      () => false,
    );
  }

  /** Opens the vault now when it exists, so a wrong key shows at start; the error, if any. */
  async check(): Promise<string | null> {
    if (!(await this.exists())) return null;
    try {
      await this.open();
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  async list(userId: string): Promise<SecretMeta[]> {
    return (await this.exists()) ? (await this.open()).list(userId) : [];
  }

  async set(userId: string, name: string, value: string): Promise<SecretMeta> {
    this.onValue(value);
    return (await this.open()).set(userId, name, value);
  }

  async delete(userId: string, name: string): Promise<void> {
    if (!(await this.exists())) throw new VaultError('NOT_FOUND', `no secret ${name}`);
    return (await this.open()).delete(userId, name);
  }

  async values(userId: string, names: readonly string[]): Promise<Record<string, string>> {
    if (!(await this.exists())) throw new VaultError('BAD_REQUEST', `no secret named ${names.join(', ')} (Settings → Secrets lists yours)`);
    const values = (await this.open()).values(userId, names);
    for (const v of Object.values(values)) this.onValue(v);
    return values;
  }

  async rotateKey(): Promise<{ secrets: number; keyId: string }> {
    return (await this.open()).rotateKey();
  }
}

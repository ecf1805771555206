// SecretVault: per-user secrets sealed with the vault key in secrets.json (0600, atomic writes), key rotation.
import { rm, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_SECRETS, type SecretMeta } from '../api/index.js';
import { readStateFile, UserError, writeFileAtomic } from '../config/index.js';
import { encodeKey, loadOrCreateKey, newKey, open, parseKey, seal, VAULT_KEY_FILE_NAME, type Sealed, type VaultKey } from './crypto.js';

export const SECRETS_FILE_NAME = 'secrets.json';
/** The next key during a rotation: present only between its two writes (a crash there is finished on open). */
const NEXT_KEY_FILE_NAME = 'vault.key.next';

interface Entry extends Sealed {
  createdAt: string;
  updatedAt: string;
}

interface VaultFile {
  version: 1;
  /** The fingerprint of the key every entry is sealed with. */
  keyId: string;
  users: Record<string, Record<string, Entry>>;
}

/** A refusal the API answers with a 4xx (unknown name, too many). */
export class VaultError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'CONFLICT' | 'BAD_REQUEST',
    message: string,
  ) {
    super(message);
  }
}

function parseFile(text: string, path: string): VaultFile {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UserError(`${path} is not JSON; restore it from a backup (the secrets in it cannot be read otherwise)`);
  }
  const f = v as Partial<VaultFile> | null;
  if (!f || f.version !== 1 || typeof f.keyId !== 'string' || typeof f.users !== 'object' || f.users === null) {
    throw new UserError(`${path} is not a caic secrets file (version 1)`);
  }
  return f as VaultFile;
}

export class SecretVault {
  /** One write at a time, in order: each rewrites the whole file from memory. */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private key: VaultKey,
    private data: VaultFile,
  ) {}

  /**
   * Opens the vault in `configDir`, making the key on first use. A key that is not the one the
   * file was sealed with is refused with a message saying so (no secret is ever read with it).
   */
  static async open(configDir: string): Promise<SecretVault> {
    const path = join(configDir, SECRETS_FILE_NAME);
    const nextPath = join(configDir, NEXT_KEY_FILE_NAME);
    const keyPath = join(configDir, VAULT_KEY_FILE_NAME);
    let key: VaultKey = await loadOrCreateKey(configDir);
    const text = await readStateFile(path);
    const data: VaultFile = text === null ? { version: 1, keyId: key.id, users: {} } : parseFile(text, path);
    const next = await readStateFile(nextPath);
    if (data.keyId !== key.id) {
      // A rotation that wrote the file but not yet the key: finish it.
      const n = next === null ? null : parseKey(next, nextPath);
      if (!n || n.id !== data.keyId) {
        throw new UserError(
          `${keyPath} is not the key ${path} was sealed with (key id ${data.keyId}, this key ${key.id}): restore the right vault.key; caic will not read or overwrite the secrets with another key`,
        );
      }
      await rename(nextPath, keyPath);
      key = n;
    } else if (next !== null) {
      // A rotation that stopped before the file was rewritten: the old key is still the key.
      await rm(nextPath, { force: true });
    }
    const vault = new SecretVault(configDir, key, data);
    vault.check();
    return vault;
  }

  /** Opens every value once, so a tampered entry is found at start rather than when a task needs it. */
  private check(): void {
    for (const [user, entries] of Object.entries(this.data.users)) {
      for (const [name, e] of Object.entries(entries)) {
        try {
          open(this.key, user, name, e);
        } catch {
          throw new UserError(`${join(this.dir, SECRETS_FILE_NAME)}: the secret ${name} does not open with vault.key (changed by hand?); delete that entry or restore the file`);
        }
      }
    }
  }

  private get path(): string {
    return join(this.dir, SECRETS_FILE_NAME);
  }

  private write<T>(fn: () => T): Promise<T> {
    const run = this.chain.then(async () => {
      // A refusal or a failed write leaves memory as the file is.
      const before = structuredClone(this.data);
      try {
        const out = fn();
        await writeFileAtomic(this.path, `${JSON.stringify(this.data, null, 2)}\n`);
        return out;
      } catch (err) {
        this.data = before;
        throw err;
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  list(userId: string): SecretMeta[] {
    return Object.entries(this.data.users[userId] ?? {})
      .map(([name, e]) => ({ name, createdAt: e.createdAt, updatedAt: e.updatedAt }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  has(userId: string, name: string): boolean {
    return Object.hasOwn(this.data.users[userId] ?? {}, name);
  }

  /** Sets or rotates a value; names are validated by the API schema (SecretName). */
  set(userId: string, name: string, value: string, now = new Date()): Promise<SecretMeta> {
    return this.write(() => {
      const entries = (this.data.users[userId] ??= {});
      const old = Object.hasOwn(entries, name) ? entries[name] : undefined;
      if (!old && Object.keys(entries).length >= MAX_SECRETS) throw new VaultError('CONFLICT', `at most ${MAX_SECRETS} secrets per user; delete one first`);
      const at = now.toISOString();
      entries[name] = { ...seal(this.key, userId, name, value), createdAt: old?.createdAt ?? at, updatedAt: at };
      return { name, createdAt: entries[name].createdAt, updatedAt: at };
    });
  }

  delete(userId: string, name: string): Promise<void> {
    return this.write(() => {
      const entries = this.data.users[userId];
      if (!entries || !Object.hasOwn(entries, name)) throw new VaultError('NOT_FOUND', `no secret ${name}`);
      delete entries[name];
      if (Object.keys(entries).length === 0) delete this.data.users[userId];
    });
  }

  /** The values of `names` for a task; an unknown name is refused (nothing is half given). */
  values(userId: string, names: readonly string[]): Record<string, string> {
    const entries = this.data.users[userId] ?? {};
    const missing = names.filter((n) => !Object.hasOwn(entries, n));
    if (missing.length) throw new VaultError('BAD_REQUEST', `no secret named ${missing.join(', ')} (Settings → Secrets lists yours)`);
    return Object.fromEntries(names.map((n) => [n, open(this.key, userId, n, entries[n]!)]));
  }

  /**
   * A new key; every value re-sealed with it. The next key is written first, then the file sealed
   * with it, then the key renamed into place: a crash at any point leaves a vault open() reads.
   */
  rotateKey(): Promise<{ secrets: number; keyId: string }> {
    const run = this.chain.then(async () => {
      const next = newKey();
      const users: VaultFile['users'] = {};
      let count = 0;
      for (const [user, entries] of Object.entries(this.data.users)) {
        users[user] = {};
        for (const [name, e] of Object.entries(entries)) {
          users[user][name] = { ...seal(next, user, name, open(this.key, user, name, e)), createdAt: e.createdAt, updatedAt: e.updatedAt };
          count++;
        }
      }
      const nextPath = join(this.dir, NEXT_KEY_FILE_NAME);
      await writeFileAtomic(nextPath, encodeKey(next));
      const data: VaultFile = { version: 1, keyId: next.id, users };
      await writeFileAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`);
      await rename(nextPath, join(this.dir, VAULT_KEY_FILE_NAME));
      this.data = data;
      this.key = next;
      return { secrets: count, keyId: next.id };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}

// The vault's key (32 random bytes in its own 0600 file) and AES-256-GCM sealing bound to user and name.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createFileOnce, readStateFile, UserError } from '../config/index.js';

export const VAULT_KEY_FILE_NAME = 'vault.key';

export interface VaultKey {
  key: Buffer;
  /** A fingerprint of the key (not the key): the secrets file names the key it was sealed with. */
  id: string;
}

export interface Sealed {
  /** base64 of the 12-byte nonce, the ciphertext and the 16-byte tag. */
  iv: string;
  ct: string;
  tag: string;
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update('caic-vault-key-id\0').update(key).digest('base64url').slice(0, 16);
}

export function newKey(): VaultKey {
  const key = randomBytes(32);
  return { key, id: keyId(key) };
}

export function encodeKey(k: VaultKey): string {
  return `${k.key.toString('base64')}\n`;
}

export function parseKey(text: string, path: string): VaultKey {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32 || key.toString('base64') !== text.trim()) {
    throw new UserError(`${path} does not hold a vault key (32 bytes in base64); restore it from a backup (without it the stored secrets cannot be read)`);
  }
  return { key, id: keyId(key) };
}

/** Reads the key, or makes one on first use (two daemons racing: the first file wins, both read it). */
export async function loadOrCreateKey(configDir: string): Promise<VaultKey & { created: boolean }> {
  const path = join(configDir, VAULT_KEY_FILE_NAME);
  const existing = await readStateFile(path);
  if (existing !== null) return { ...parseKey(existing, path), created: false };
  const k = newKey();
  if (await createFileOnce(path, encodeKey(k))) return { ...k, created: true };
  return { ...parseKey((await readStateFile(path)) ?? '', path), created: false };
}

/**
 * The additional data binds a ciphertext to its owner and name: a sealed value moved to another
 * user or name (by hand in the file) no longer opens.
 */
function aad(userId: string, name: string): Buffer {
  return Buffer.from(`caic-vault-v1\0${userId}\0${name}`, 'utf8');
}

export function seal(k: VaultKey, userId: string, name: string, value: string): Sealed {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', k.key, iv);
  c.setAAD(aad(userId, name));
  const ct = Buffer.concat([c.update(value, 'utf8'), c.final()]);
  return { iv: iv.toString('base64'), ct: ct.toString('base64'), tag: c.getAuthTag().toString('base64') };
}

/** Throws when the key is not the one that sealed it, or the record was changed. */
export function open(k: VaultKey, userId: string, name: string, s: Sealed): string {
  const d = createDecipheriv('aes-256-gcm', k.key, Buffer.from(s.iv, 'base64'));
  d.setAAD(aad(userId, name));
  d.setAuthTag(Buffer.from(s.tag, 'base64'));
  return Buffer.concat([d.update(Buffer.from(s.ct, 'base64')), d.final()]).toString('utf8');
}

// The daemon's own SSH identity (ed25519), created on first use (or when the one on disk is
// unusable) in the config dir with mode 0600.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../config/index.js';
import { generateEd25519, isUsableEd25519, type SshKeyPair } from './secrets.js';

export interface ClientKey extends SshKeyPair {
  /** Path of the private key file (the git bridge reads it). */
  path: string;
}

export async function ensureClientKey(configDir: string): Promise<ClientKey> {
  const dir = join(configDir, 'ssh');
  const path = join(dir, 'id_ed25519');
  await ensurePrivateDir(dir);
  try {
    const [privateKey, publicKey] = await Promise.all([readFile(path, 'utf8'), readFile(`${path}.pub`, 'utf8')]);
    const pair = { privateKey, publicKey: publicKey.trim() };
    // A key an older caic generated broken (see generateEd25519) never reached any container:
    // replacing it loses nothing, keeping it would fail every connection.
    if (isUsableEd25519(pair)) return { path, ...pair };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const pair = generateEd25519('caic-daemon');
  await writeFileAtomic(path, pair.privateKey, 0o600);
  await writeFileAtomic(`${path}.pub`, `${pair.publicKey}\n`, 0o644);
  return { path, ...pair };
}

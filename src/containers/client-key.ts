// The daemon's own SSH identity (ed25519), created on first use (or when the one on disk is
// unusable) in the config dir with mode 0600.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../config/index.js';
import { ed25519PublicKeyOf, generateEd25519, isUsableEd25519, type SshKeyPair } from './secrets.js';

export interface ClientKey extends SshKeyPair {
  /** Path of the private key file (the git bridge reads it). */
  path: string;
}

const COMMENT = 'caic-daemon';

export async function ensureClientKey(configDir: string): Promise<ClientKey> {
  const dir = join(configDir, 'ssh');
  const path = join(dir, 'id_ed25519');
  await ensurePrivateDir(dir);
  const read = (p: string) =>
    readFile(p, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
  const privateKey = await read(path);
  // The public half comes from the private key: a lost or edited .pub must not cost the key that
  // every running container trusts. A key an older caic generated broken (see generateEd25519)
  // never reached any container: replacing it loses nothing, keeping it would fail every connection.
  const derived = privateKey === null ? null : ed25519PublicKeyOf(privateKey, COMMENT);
  if (privateKey !== null && derived !== null) {
    const onDisk = (await read(`${path}.pub`))?.trim() ?? '';
    if (isUsableEd25519({ privateKey, publicKey: onDisk })) return { path, privateKey, publicKey: onDisk };
    await writeFileAtomic(`${path}.pub`, `${derived}\n`, 0o644);
    return { path, privateKey, publicKey: derived };
  }
  const pair = generateEd25519(COMMENT);
  await writeFileAtomic(path, pair.privateKey, 0o600);
  await writeFileAtomic(`${path}.pub`, `${pair.publicKey}\n`, 0o644);
  return { path, ...pair };
}

// Per-container secrets: the sudo password and SSH key pairs (ed25519, via ssh2).
import { createHash, randomInt } from 'node:crypto';
import ssh2 from 'ssh2';

const { utils } = ssh2;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const SUDO_PASSWORD_LENGTH = 24;

/** Base62 from a CSPRNG; randomInt is unbiased, so every character carries log2(62) bits (~143 in all). */
export function generateSudoPassword(length = SUDO_PASSWORD_LENGTH): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export interface SshKeyPair {
  /** OpenSSH private key text. */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment`. */
  publicKey: string;
}

/** An ed25519 public key blob: string "ssh-ed25519" (4 + 11 bytes) and string key (4 + 32 bytes). */
const ED25519_BLOB_BYTES = 51;

/** The pair is well formed: the key parses and its public key has all its 32 bytes. */
export function isUsableEd25519(pair: SshKeyPair): boolean {
  const parsed = utils.parseKey(pair.privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) return false;
  try {
    return publicKeyBlob(pair.publicKey).length === ED25519_BLOB_BYTES && parsed.getPublicSSH().equals(publicKeyBlob(pair.publicKey));
  } catch {
    return false;
  }
}

/** The public key line of a usable ed25519 private key (all 32 bytes of its public half), else null. */
export function ed25519PublicKeyOf(privateKey: string, comment: string): string | null {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed) || parsed.type !== 'ssh-ed25519') return null;
  const blob = parsed.getPublicSSH();
  return blob.length === ED25519_BLOB_BYTES ? `ssh-ed25519 ${blob.toString('base64')} ${comment}` : null;
}

/**
 * A fresh ed25519 pair in OpenSSH format. ssh2's generator strips leading zero bytes from the
 * public key, so about one key in 256 comes out 31 bytes long and is refused everywhere (sshd
 * will not load it as a host key, ssh2 will not parse it as a client key): such a pair is thrown
 * away and another one made.
 */
export function generateEd25519(comment: string): SshKeyPair {
  for (;;) {
    const generated = utils.generateKeyPairSync('ed25519', { comment });
    const pair = { privateKey: generated.private, publicKey: generated.public };
    if (isUsableEd25519(pair)) return pair;
  }
}

/** The key blob of an OpenSSH public key line. */
export function publicKeyBlob(publicKey: string): Buffer {
  const b64 = publicKey.trim().split(/\s+/)[1];
  if (!b64) throw new Error('malformed SSH public key');
  return Buffer.from(b64, 'base64');
}

/** `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it. */
export function fingerprintOfBlob(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function fingerprint(publicKey: string): string {
  return fingerprintOfBlob(publicKeyBlob(publicKey));
}

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

export function generateEd25519(comment: string): SshKeyPair {
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicKey: pair.public };
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

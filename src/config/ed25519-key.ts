// The text form of an Ed25519 public key, `ed25519:<base64url of the raw 32 bytes>`, used in config.toml and printed by the CLI.
import { createPublicKey, type KeyObject } from 'node:crypto';

export const ED25519_KEY_PREFIX = 'ed25519:';

/** The key as `ed25519:<base64url raw key>` (what a gateway's trusted_issuers entry holds). */
export function formatEd25519PublicKey(key: KeyObject): string {
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 key (${key.asymmetricKeyType ?? key.type})`);
  const { x } = key.export({ format: 'jwk' });
  return `${ED25519_KEY_PREFIX}${x!}`;
}

/**
 * Parses `ed25519:<base64url raw 32 bytes>`. Only the canonical encoding is accepted (unpadded,
 * no stray characters or trailing bits), so one key has one spelling. Throws an Error saying what is wrong.
 */
export function parseEd25519PublicKey(text: string): KeyObject {
  if (!text.startsWith(ED25519_KEY_PREFIX)) throw new Error(`must start with "${ED25519_KEY_PREFIX}" (e.g. the line \`caic voice-gateway pubkey\` prints)`);
  const encoded = text.slice(ED25519_KEY_PREFIX.length);
  const raw = /^[A-Za-z0-9_-]*$/.test(encoded) ? Buffer.from(encoded, 'base64url') : null;
  if (!raw || raw.toString('base64url') !== encoded) throw new Error('is not unpadded base64url');
  if (raw.length !== 32) throw new Error(`must hold 32 bytes, got ${raw.length}`);
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: encoded }, format: 'jwk' });
  } catch (err) {
    throw new Error(`is not an Ed25519 public key: ${(err as Error).message}`, { cause: err });
  }
}

// The authorization server's signing key: an ES256 key pair created once and kept in the config directory.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { readStateFile, UserError, writeFileAtomic } from '../config/index.js';

export const SIGNING_ALG = 'ES256' as const;

export interface SigningKey {
  /** The private JWK oidc-provider signs with (never leaves the server). */
  privateJwk: JWK & { kid: string; alg: string; use: string };
  /** The public half, for the token verifier. */
  publicKey: KeyObject;
  kid: string;
}

function fromJwk(privateJwk: SigningKey['privateJwk']): SigningKey {
  const { d: _d, ...pub } = privateJwk;
  const publicKey = createPublicKey({ key: pub, format: 'jwk' });
  return { privateJwk, publicKey, kid: privateJwk.kid };
}

/** Reads the key at `path`, or makes and stores one (0600, atomic) when there is none. */
export async function loadOrCreateSigningKey(path: string): Promise<SigningKey> {
  const text = await readStateFile(path);
  if (text !== null) {
    try {
      const jwk = JSON.parse(text) as SigningKey['privateJwk'];
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d || !jwk.kid) throw new Error('not a P-256 private key');
      return fromJwk(jwk);
    } catch (err) {
      throw new UserError(`${path}: ${(err as Error).message}; delete it to make a new key (every token issued so far stops working)`);
    }
  }
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const privateJwk = { ...jwk, kid, alg: SIGNING_ALG, use: 'sig' };
  await writeFileAtomic(path, `${JSON.stringify(privateJwk)}\n`);
  return fromJwk(privateJwk);
}

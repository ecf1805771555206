// This instance's voice identity: the Ed25519 key that signs voice tokens and the instance id they name.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileOnce, ensurePrivateDir, formatEd25519PublicKey, readStateFile, UserError } from '../config/index.js';

/** The generated key, PKCS#8 PEM in the config directory (0600), when `signing_private_key_pem` is not set. */
export const VOICE_KEY_FILE_NAME = 'voice-signing-key.pem';
/** The generated instance id, beside the key, when `[voice-gateway] instance_id` is not set. */
export const VOICE_INSTANCE_FILE_NAME = 'voice-instance-id';

export interface VoiceKey {
  /** Signs tokens; never leaves the process. */
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** `ed25519:<base64url raw key>`, for a gateway's trusted_issuers. */
  publicKeyText: string;
  /** The file the key came from. */
  path: string;
  /** True when this call made the key. */
  created: boolean;
  /**
   * The private key's encodings that could leak into text (the PEM body, the raw key), so the
   * daemon can hand them to the log masker.
   */
  secretForms: string[];
}

export interface VoiceIdentity {
  key: VoiceKey;
  /** `serviceInstanceID` of the tokens: `[voice-gateway] instance_id`, else a generated id kept beside the key. */
  instanceId: string;
}

export interface VoiceIdentityOptions {
  configDir: string;
  /** `[voice-gateway] signing_private_key_pem`, already resolved against the config directory; '' = generate. */
  signingKeyPath: string;
  /** `[voice-gateway] instance_id`; '' = generate. */
  instanceId: string;
}

function fromPrivate(privateKey: KeyObject, path: string, pem: string, created: boolean): VoiceKey {
  const publicKey = createPublicKey(privateKey);
  const { d } = privateKey.export({ format: 'jwk' });
  const pemBody = pem
    .split(/\r?\n/)
    .filter((l) => l && !l.startsWith('-----'))
    .join('');
  return { privateKey, publicKey, publicKeyText: formatEd25519PublicKey(publicKey), path, created, secretForms: [pemBody, d!].filter(Boolean) };
}

/** Parses a PEM private key and insists on Ed25519; `what` names the source in the error. */
function parseEd25519Pem(pem: string, what: string, fix: string): KeyObject {
  // The daemon starts unattended: nobody could type a passphrase.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) throw new UserError(`${what} is encrypted (a passphrase is not supported); ${fix}`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new UserError(`${what} is not a PEM private key; ${fix}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new UserError(`${what} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; voice tokens need an Ed25519 key; ${fix}`);
  }
  return key;
}

/** Reads the configured PEM key; any problem is a UserError naming the key and how to fix it. */
async function loadConfiguredKey(path: string): Promise<VoiceKey> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`voice-gateway.signing_private_key_pem: cannot read ${path}: ${(err as Error).message}`);
  }
  const key = parseEd25519Pem(pem, `voice-gateway.signing_private_key_pem: ${path}`, 'make one with `openssl genpkey -algorithm ed25519`');
  return fromPrivate(key, path, pem, false);
}

/** The key in the config directory, made on first use. Two processes making it at once end up with the same one. */
async function loadOrCreateKey(configDir: string): Promise<VoiceKey> {
  const path = join(configDir, VOICE_KEY_FILE_NAME);
  const fix = 'delete it to make a new key (then give a standalone gateway the new `caic voice-gateway pubkey`)';
  let existing = await readStateFile(path);
  let created = false;
  if (existing === null) {
    await ensurePrivateDir(configDir);
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    created = await createFileOnce(path, pem);
    existing = created ? pem : await readStateFile(path);
    if (existing === null) throw new UserError(`${path}: vanished while it was being created`);
  }
  return fromPrivate(parseEd25519Pem(existing, path, fix), path, existing, created);
}

/** The configured instance id, else the one kept in the config directory (made on first use). */
async function loadOrCreateInstanceId(configDir: string, configured: string): Promise<string> {
  if (configured) return configured;
  const path = join(configDir, VOICE_INSTANCE_FILE_NAME);
  const read = async () => {
    const text = await readStateFile(path);
    if (text === null) return null;
    const id = text.trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id)) throw new UserError(`${path}: not an instance id; delete it to make a new one, or set [voice-gateway] instance_id`);
    return id;
  };
  const existing = await read();
  if (existing) return existing;
  await ensurePrivateDir(configDir);
  const id = `caic-${randomBytes(8).toString('hex')}`;
  if (await createFileOnce(path, `${id}\n`)) return id;
  const raced = await read();
  if (!raced) throw new UserError(`${path}: vanished while it was being created`);
  return raced;
}

/**
 * This instance's voice identity: the configured key or the generated one (0600 in the 0700
 * config directory), and the instance id. A key that cannot be used is a UserError.
 */
export async function loadVoiceIdentity(opts: VoiceIdentityOptions): Promise<VoiceIdentity> {
  const key = opts.signingKeyPath ? await loadConfiguredKey(opts.signingKeyPath) : await loadOrCreateKey(opts.configDir);
  return { key, instanceId: await loadOrCreateInstanceId(opts.configDir, opts.instanceId) };
}

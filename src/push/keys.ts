// The instance's VAPID key pair (RFC 8292): made on first use in the config directory, 0600, written once atomically.
import { join } from 'node:path';
import webpush from 'web-push';
import { createFileOnce, readStateFile, UserError } from '../config/index.js';

export const VAPID_FILE_NAME = 'push-vapid.json';

export interface VapidKeys {
  /** base64url of the uncompressed P-256 point: the browser's applicationServerKey. */
  publicKey: string;
  /** base64url of the 32-byte private scalar; never leaves the process (the daemon masks it in logs). */
  privateKey: string;
  path: string;
  created: boolean;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function parse(text: string, path: string): Pick<VapidKeys, 'publicKey' | 'privateKey'> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UserError(`${path} is not JSON; delete it to make new VAPID keys (every push subscription must then be renewed)`);
  }
  const { publicKey, privateKey } = (v ?? {}) as Record<string, unknown>;
  if (typeof publicKey !== 'string' || typeof privateKey !== 'string' || !B64URL.test(publicKey) || !B64URL.test(privateKey)) {
    throw new UserError(`${path} does not hold VAPID keys (publicKey, privateKey in base64url); delete it to make new ones`);
  }
  return { publicKey, privateKey };
}

/** Reads the key pair, or makes one when the file is missing (two daemons racing: the first file wins, both read it). */
export async function loadOrCreateVapidKeys(configDir: string): Promise<VapidKeys> {
  const path = join(configDir, VAPID_FILE_NAME);
  const existing = await readStateFile(path);
  if (existing !== null) return { ...parse(existing, path), path, created: false };
  const keys = webpush.generateVAPIDKeys();
  const created = await createFileOnce(path, `${JSON.stringify({ publicKey: keys.publicKey, privateKey: keys.privateKey }, null, 2)}\n`);
  if (created) return { ...keys, path, created };
  return { ...parse((await readStateFile(path)) ?? '', path), path, created: false };
}

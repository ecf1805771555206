// settings.json: the 256-bit session secret, created on first run and kept across restarts.
import { randomBytes } from 'node:crypto';
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from './errors.js';
import { PRIVATE_FILE_MODE, readStateFile, writeFileAtomic } from './files.js';

export const SETTINGS_FILE_NAME = 'settings.json';

const SettingsFile = z.object({
  sessionSecret: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters (256 bits)'),
});

export interface Settings {
  /** HMAC key for session JWTs and OAuth state cookies. Never leaves the server. */
  sessionSecret: Buffer;
  /** True when this call created the file. */
  created: boolean;
}

/** Tightens a state file that others can read back to 0600; returns true when it had to. */
export async function tightenFileMode(path: string): Promise<boolean> {
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0) {
    await chmod(path, PRIVATE_FILE_MODE);
    return true;
  }
  return false;
}

export async function loadOrCreateSettings(configDir: string): Promise<Settings> {
  const path = join(configDir, SETTINGS_FILE_NAME);
  const text = await readStateFile(path);
  if (text === null) {
    const secret = randomBytes(32);
    await writeFileAtomic(path, `${JSON.stringify({ sessionSecret: secret.toString('hex') }, null, 2)}\n`);
    return { sessionSecret: secret, created: true };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UserError(`${path}: not valid JSON; fix it or delete it to create a new session secret (signs everyone out)`);
  }
  const parsed = SettingsFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`${path}: ${issue.path.join('.')}: ${issue.message}`);
  }
  await tightenFileMode(path);
  return { sessionSecret: Buffer.from(parsed.data.sessionSecret, 'hex'), created: false };
}

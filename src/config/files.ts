// Private state files: 0700 directories, atomic 0600 writes (temp file + fsync + rename).
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from './errors.js';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and parents) with mode 0700. An existing directory we own that others can read
 * is tightened to 0700: it holds secrets. Returns true when the mode had to be tightened.
 */
export async function ensurePrivateDir(dir: string): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const st = await stat(dir);
  if ((st.mode & 0o077) !== 0 && process.getuid?.() === st.uid) {
    await chmod(dir, PRIVATE_DIR_MODE);
    return true;
  }
  return false;
}

/** A state file's text, or null when there is none yet; any other read failure is a UserError naming it. */
export async function readStateFile(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UserError(`${path}: cannot read: ${(err as Error).message}`);
  }
}

/**
 * Creates `path` with `data` unless it exists, atomically: the file appears complete or not at
 * all, and of two processes creating it at once exactly one wins (a hard link of a finished
 * temp file cannot replace an existing name). Returns false when the file was already there.
 */
export async function createFileOnce(path: string, data: string | Uint8Array, mode = PRIVATE_FILE_MODE): Promise<boolean> {
  const tmp = await writeTemp(path, data, mode);
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
  await syncDir(dirname(path));
  return true;
}

/** A finished, fsynced temp file next to `path`. */
async function writeTemp(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed or the file system widened it
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  return tmp;
}

/** Persists a rename or link itself; not every platform lets us open a directory, so this is best effort. */
async function syncDir(dir: string): Promise<void> {
  try {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    /* directory fsync unsupported */
  }
}

/** Writes `data` to `path` so readers see either the old or the new content, never a torn file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = PRIVATE_FILE_MODE): Promise<void> {
  const tmp = await writeTemp(path, data, mode);
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dirname(path));
}

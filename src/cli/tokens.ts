// The paired device's tokens for one server: a 0600 JSON file per server in a 0700 directory under
// the config dir, written atomically, and a lock file so that CLI processes refreshing at once
// rotate the refresh token one at a time (a refresh token presented twice ends the pairing).
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ensurePrivateDir, UserError, writeFileAtomic } from '../config/index.js';

export const StoredTokens = z.object({
  server: z.string(),
  clientId: z.string(),
  tokenEndpoint: z.string(),
  revocationEndpoint: z.string().optional(),
  accessToken: z.string(),
  /** Epoch ms. */
  accessExpiresAt: z.number(),
  refreshToken: z.string(),
  user: z.string().optional(),
});
export type StoredTokens = z.infer<typeof StoredTokens>;

/** How long a lock may be held before another process takes it over (a refresh is one request). */
const LOCK_STALE_MS = 60_000;
const LOCK_WAIT_MS = 90_000;

/** `https://caic.example.com` → `https_caic.example.com_443.json`: one file per origin, nothing path-like in it. */
export function tokenFileName(server: string): string {
  const u = new URL(server);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return `${u.protocol.slice(0, -1)}_${u.hostname.replace(/[^A-Za-z0-9.-]/g, '_')}_${port}.json`;
}

export class TokenStore {
  readonly dir: string;
  readonly path: string;
  private readonly lockPath: string;

  constructor(configDir: string, readonly server: string) {
    this.dir = join(configDir, 'cli');
    this.path = join(this.dir, tokenFileName(server));
    this.lockPath = `${this.path}.lock`;
  }

  /** The stored tokens, or null when this machine is not paired with the server. */
  async read(): Promise<StoredTokens | null> {
    let text: string;
    try {
      const st = await stat(this.path);
      // Like ssh with a private key: a token file others can read is not used.
      if ((st.mode & 0o077) !== 0) {
        throw new UserError(`${this.path}: others can read it (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${this.path} (and consider caic logout, the tokens may have leaked)`);
      }
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      if (err instanceof UserError) throw err;
      throw new UserError(`${this.path}: cannot read: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UserError(`${this.path}: not JSON; remove it and run caic login ${this.server}`);
    }
    const r = StoredTokens.safeParse(parsed);
    if (!r.success || r.data.server !== this.server) throw new UserError(`${this.path}: not a token file of caic for ${this.server}; remove it and run caic login ${this.server}`);
    return r.data;
  }

  async write(tokens: StoredTokens): Promise<void> {
    await ensurePrivateDir(this.dir);
    await writeFileAtomic(this.path, `${JSON.stringify(tokens, null, 2)}\n`);
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }

  /**
   * Runs `fn` holding the lock of this server's tokens (O_EXCL lock file with the holder's pid).
   * A lock whose holder died, or that is older than a refresh can take, is taken over.
   */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    await ensurePrivateDir(this.dir);
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const fh = await open(this.lockPath, 'wx', 0o600);
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (await this.lockIsStale()) {
          await rm(this.lockPath, { force: true });
          continue;
        }
        if (Date.now() > deadline) throw new UserError(`${this.lockPath}: held by another caic for too long; remove it if no caic is running`);
        await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(this.lockPath, { force: true });
    }
  }

  private async lockIsStale(): Promise<boolean> {
    try {
      const [text, st] = await Promise.all([readFile(this.lockPath, 'utf8'), stat(this.lockPath)]);
      if (Date.now() - st.mtimeMs > LOCK_STALE_MS) return true;
      const pid = Number(text.trim());
      // Written a moment ago and not complete yet: not stale.
      if (!Number.isInteger(pid) || pid <= 0) return false;
      try {
        process.kill(pid, 0);
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ESRCH';
      }
    } catch {
      return false; // gone already: the next attempt takes it
    }
  }
}

// users.json: people who signed in with OAuth, with their provider tokens (0600, atomic writes).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { z } from 'zod';
import { AuthProvider } from '../api/index.js';
import { UserError } from './errors.js';
import { writeFileAtomic } from './files.js';
import { tightenFileMode } from './settings.js';

export const USERS_FILE_NAME = 'users.json';

const StoredUser = z.object({
  id: z.string(),
  provider: AuthProvider,
  providerId: z.string(),
  username: z.string(),
  avatarURL: z.string().default(''),
  /** Profile name and email as the provider gave them at the last login ('' when it did not). */
  name: z.string().default(''),
  email: z.string().default(''),
  accessToken: z.string().default(''),
  refreshToken: z.string().default(''),
  /** ISO time the access token expires, '' when the provider did not say. */
  tokenExpiresAt: z.string().default(''),
  createdAt: z.string(),
  lastLoginAt: z.string(),
});
export type StoredUser = z.infer<typeof StoredUser>;

const UsersFile = z.object({ users: z.array(StoredUser) });

export interface ProviderIdentity {
  provider: AuthProvider;
  providerId: string;
  username: string;
  avatarURL: string;
  name?: string;
  email?: string;
  accessToken: string;
  refreshToken?: string;
  tokenExpiresAt?: string;
}

/**
 * Who a user's commits are by: the profile's name (else the username) and email, else the
 * provider's no-reply address (`<id>+<login>@users.noreply.github.com`,
 * `<id>-<username>@users.noreply.gitlab.com`, with the instance's host for self-hosted ones).
 */
export function gitIdentityOf(user: StoredUser, webUrls: { github: string; gitlab: string }): { name: string; email: string } {
  const host = URL.parse(user.provider === 'gitlab' ? webUrls.gitlab : webUrls.github)?.hostname ?? 'localhost';
  const noreply = user.provider === 'gitlab' ? `${user.providerId}-${user.username}@users.noreply.${host}` : `${user.providerId}+${user.username}@users.noreply.${host}`;
  return { name: user.name || user.username, email: user.email || noreply };
}

export class UserStore {
  private readonly byId = new Map<string, StoredUser>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly now: () => Date,
    private readonly onSecret: (secret: string) => void,
  ) {}

  /** Loads users.json, creating an empty one on first run. `onSecret` sees every stored token. */
  static async open(
    configDir: string,
    opts: { now?: () => Date; onSecret?: (secret: string) => void } = {},
  ): Promise<UserStore> {
    const store = new UserStore(join(configDir, USERS_FILE_NAME), opts.now ?? (() => new Date()), opts.onSecret ?? (() => {}));
    let text: string;
    try {
      text = await readFile(store.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`${store.path}: cannot read: ${(err as Error).message}`);
      await store.persist();
      return store;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UserError(`${store.path}: not valid JSON`);
    }
    const parsed = UsersFile.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new UserError(`${store.path}: ${issue.path.join('.')}: ${issue.message}`);
    }
    await tightenFileMode(store.path);
    for (const user of parsed.data.users) {
      store.byId.set(user.id, user);
      store.onSecret(user.accessToken);
      store.onSecret(user.refreshToken);
    }
    return store;
  }

  get(id: string): StoredUser | undefined {
    return this.byId.get(id);
  }

  list(): StoredUser[] {
    return [...this.byId.values()];
  }

  /** Creates or updates the user for (provider, providerId) and saves the file. */
  async upsert(identity: ProviderIdentity): Promise<StoredUser> {
    this.onSecret(identity.accessToken);
    if (identity.refreshToken) this.onSecret(identity.refreshToken);
    const now = this.now().toISOString();
    const existing = this.list().find((u) => u.provider === identity.provider && u.providerId === identity.providerId);
    const user: StoredUser = {
      id: existing?.id ?? ulid().toLowerCase(),
      provider: identity.provider,
      providerId: identity.providerId,
      username: identity.username,
      avatarURL: identity.avatarURL,
      name: identity.name ?? '',
      email: identity.email ?? '',
      accessToken: identity.accessToken,
      refreshToken: identity.refreshToken ?? '',
      tokenExpiresAt: identity.tokenExpiresAt ?? '',
      createdAt: existing?.createdAt ?? now,
      lastLoginAt: now,
    };
    this.byId.set(user.id, user);
    await this.persist();
    return user;
  }

  async delete(id: string): Promise<boolean> {
    const had = this.byId.delete(id);
    if (had) await this.persist();
    return had;
  }

  /** Writes are chained so concurrent logins never interleave partial states. */
  private persist(): Promise<void> {
    const snapshot = `${JSON.stringify({ users: this.list() }, null, 2)}\n`;
    const write = this.writes.then(() => writeFileAtomic(this.path, snapshot));
    this.writes = write.catch(() => {});
    return write;
  }
}

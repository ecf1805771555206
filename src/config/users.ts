// users.json: people who signed in with OAuth, with their provider tokens (0600, atomic writes).
// The file is the truth: edits made while the daemon runs are picked up and never overwritten.
import { watch, watchFile, unwatchFile, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ulid } from 'ulid';
import { z } from 'zod';
import { AuthProvider } from '../api/index.js';
import { UserError } from './errors.js';
import { readStateFile, writeFileAtomic } from './files.js';
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
  /**
   * Session tokens carry the epoch they were issued in; "sign out everywhere" raises it, so every
   * token issued before no longer verifies.
   */
  sessionEpoch: z.number().int().min(0).default(0),
  /** Sessions ended by logout before they expired: their token id and expiry (seconds); pruned once expired. */
  revokedSessions: z.array(z.object({ id: z.string(), exp: z.number() })).default([]),
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

/** What a look at the file found, when it changed something. */
export type UsersFileEvent = { kind: 'reloaded'; users: number } | { kind: 'invalid'; message: string };

/** Logged-out sessions remembered per user (each until its token expires). */
const MAX_REVOKED_SESSIONS = 1000;

/** Polling interval where the file system cannot be watched (some network and container mounts). */
const POLL_MS = 2_000;

export class UserStore {
  private byId = new Map<string, StoredUser>();
  private gen = 0;
  /** The file's text as last read or written by us: any other text is someone else's edit. */
  private known: string | null = null;
  /** Why the file on disk cannot be used, or null. While set no user is known and saves are refused. */
  private broken: string | null = null;
  /** Reads and writes of the file, one at a time, so an edit is never lost between a read and a write. */
  private queue: Promise<unknown> = Promise.resolve();
  private syncQueued = false;
  private watcher: FSWatcher | null = null;
  private polling = false;

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
    const text = await readStateFile(store.path);
    if (text === null) {
      await store.write();
      return store;
    }
    const parsed = store.parse(text);
    if (typeof parsed === 'string') throw new UserError(`${store.path}: ${parsed}`);
    await tightenFileMode(store.path);
    store.adopt(text, parsed);
    return store;
  }

  /** Changes whenever the set of users or any user changes: caches keyed on it stay exact. */
  get generation(): number {
    return this.gen;
  }

  get(id: string): StoredUser | undefined {
    return this.byId.get(id);
  }

  list(): StoredUser[] {
    return [...this.byId.values()];
  }

  /** Creates or updates the user for (provider, providerId) and saves the file. */
  upsert(identity: ProviderIdentity): Promise<StoredUser> {
    this.onSecret(identity.accessToken);
    if (identity.refreshToken) this.onSecret(identity.refreshToken);
    return this.change(() => {
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
        // Signing in again does not bring ended sessions back.
        sessionEpoch: existing?.sessionEpoch ?? 0,
        revokedSessions: existing?.revokedSessions ?? [],
      };
      this.byId.set(user.id, user);
      return user;
    });
  }

  /**
   * Ends one session of a user (logout): its token id is kept until the token would have expired
   * anyway. False when the user is unknown. At most MAX_REVOKED_SESSIONS are kept per user; past
   * that every session of the user ends (fails closed rather than forgetting one).
   */
  revokeSession(userId: string, sessionId: string, exp: number): Promise<boolean> {
    return this.change(() => {
      const user = this.byId.get(userId);
      if (!user) return false;
      const now = this.now().getTime() / 1000;
      const kept = user.revokedSessions.filter((r) => r.exp > now && r.id !== sessionId);
      if (kept.length >= MAX_REVOKED_SESSIONS) this.byId.set(userId, { ...user, sessionEpoch: user.sessionEpoch + 1, revokedSessions: [] });
      else this.byId.set(userId, { ...user, revokedSessions: [...kept, { id: sessionId, exp }] });
      return true;
    });
  }

  /** Ends every session of a user ("sign out everywhere"); false when the user is unknown. */
  endAllSessions(userId: string): Promise<boolean> {
    return this.change(() => {
      const user = this.byId.get(userId);
      if (!user) return false;
      this.byId.set(userId, { ...user, sessionEpoch: user.sessionEpoch + 1, revokedSessions: [] });
      return true;
    });
  }

  delete(id: string): Promise<boolean> {
    return this.change(() => this.byId.delete(id));
  }

  /**
   * Picks up edits of the file made while the daemon runs (a user deleted by hand ends their
   * sessions at once). `report` hears of every reload and of a file that became unusable.
   */
  watch(report: (event: UsersFileEvent) => void): void {
    const schedule = () => {
      if (this.syncQueued) return;
      this.syncQueued = true;
      void this.serial(async () => {
        this.syncQueued = false;
        const event = await this.sync();
        if (event) report(event);
      }).catch((err: unknown) => report({ kind: 'invalid', message: (err as Error).message }));
    };
    const poll = () => {
      this.watcher?.close();
      this.watcher = null;
      if (this.polling) return;
      this.polling = true;
      watchFile(this.path, { interval: POLL_MS, persistent: false }, schedule);
    };
    // The directory, not the file: editors and our own writes replace the file by a rename.
    try {
      const name = basename(this.path);
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) schedule();
      });
      this.watcher.on('error', poll);
    } catch {
      poll();
    }
  }

  /** Stops watching the file. */
  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.polling) unwatchFile(this.path);
    this.polling = false;
  }

  /** Reads the file again now (the watcher does this by itself); resolves once done. */
  reload(): Promise<UsersFileEvent | null> {
    return this.serial(() => this.sync());
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Every save first reads the file: an edit made by hand since our last read wins over what we
   * had in memory, and an unusable file is never overwritten.
   */
  private change<T>(mutate: () => T): Promise<T> {
    return this.serial(async () => {
      await this.sync();
      if (this.broken) throw new UserError(`${this.path}: ${this.broken}; fix the file (or remove it), then sign in again`);
      const result = mutate();
      this.gen++;
      await this.write();
      return result;
    });
  }

  private async write(): Promise<void> {
    const text = `${JSON.stringify({ users: this.list() }, null, 2)}\n`;
    await writeFileAtomic(this.path, text);
    this.known = text;
  }

  /** Brings memory in line with the file; null when nothing changed. */
  private async sync(): Promise<UsersFileEvent | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return this.fail(`cannot read: ${(err as Error).message}`);
      // Deleting the file deletes every user; the next save creates it again.
      if (this.known === null && this.byId.size === 0 && !this.broken) return null;
      this.broken = null;
      this.known = null;
      this.byId = new Map();
      this.gen++;
      return { kind: 'reloaded', users: 0 };
    }
    if (text === this.known && !this.broken) return null;
    const parsed = this.parse(text);
    if (typeof parsed === 'string') return this.fail(parsed);
    await tightenFileMode(this.path).catch(() => false);
    this.adopt(text, parsed);
    return { kind: 'reloaded', users: this.byId.size };
  }

  /** Fails closed: while the file cannot be read, nobody is signed in (sessions come back with a good file). */
  private fail(message: string): UsersFileEvent | null {
    const already = this.broken === message;
    this.broken = message;
    this.known = null;
    if (this.byId.size > 0) {
      this.byId = new Map();
      this.gen++;
    }
    return already ? null : { kind: 'invalid', message };
  }

  private parse(text: string): StoredUser[] | string {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return 'not valid JSON';
    }
    const parsed = UsersFile.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return `${issue.path.join('.')}: ${issue.message}`;
    }
    return parsed.data.users;
  }

  private adopt(text: string, users: StoredUser[]): void {
    const byId = new Map<string, StoredUser>();
    for (const user of users) {
      byId.set(user.id, user);
      this.onSecret(user.accessToken);
      this.onSecret(user.refreshToken);
    }
    this.byId = byId;
    this.known = text;
    this.broken = null;
    this.gen++;
  }
}

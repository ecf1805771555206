// preferences.json: per user, recently used repositories (base branch, harness, model) and settings.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from './errors.js';
import { writeFileAtomic } from './files.js';

const MAX_RECENT = 20;

const RepoPref = z.object({ name: z.string(), baseBranch: z.string(), harness: z.string(), model: z.string(), lastUsed: z.string() });
const UserPrefs = z.object({
  repositories: z.array(RepoPref).default([]),
  harness: z.string().default(''),
  models: z.record(z.string(), z.string()).default({}),
  settings: z.record(z.string(), z.unknown()).default({}),
});
export type UserPreferences = z.infer<typeof UserPrefs>;
const File = z.object({ version: z.literal(1), users: z.record(z.string(), UserPrefs) });

/** No-auth mode keeps one set of preferences under this key. */
export const DEFAULT_USER = 'default';

export class PreferenceStore {
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly users: Record<string, UserPreferences>,
  ) {}

  static async open(configDir: string): Promise<PreferenceStore> {
    const path = join(configDir, 'preferences.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new PreferenceStore(path, {});
      throw new UserError(`${path}: cannot read: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UserError(`${path}: not valid JSON`);
    }
    const parsed = File.safeParse(json);
    if (!parsed.success) throw new UserError(`${path}: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`);
    return new PreferenceStore(path, parsed.data.users);
  }

  get(user: string): UserPreferences {
    return structuredClone(this.users[user] ?? UserPrefs.parse({}));
  }

  /** Moves a repository to the front of the recent list and remembers the harness and model used. */
  async recordUse(user: string, repo: { name: string; baseBranch: string }, harness: string, model: string, now = new Date()): Promise<void> {
    const prefs = this.users[user] ?? UserPrefs.parse({});
    prefs.repositories = [
      { name: repo.name, baseBranch: repo.baseBranch, harness, model, lastUsed: now.toISOString() },
      ...prefs.repositories.filter((r) => r.name !== repo.name),
    ].slice(0, MAX_RECENT);
    prefs.harness = harness;
    prefs.models[harness] = model;
    this.users[user] = prefs;
    await this.persist();
  }

  async setSettings(user: string, settings: Record<string, unknown>): Promise<UserPreferences> {
    const prefs = this.users[user] ?? UserPrefs.parse({});
    prefs.settings = settings;
    this.users[user] = prefs;
    await this.persist();
    return this.get(user);
  }

  private persist(): Promise<void> {
    const text = `${JSON.stringify({ version: 1, users: this.users }, null, 2)}\n`;
    const write = this.writes.then(() => writeFileAtomic(this.path, text));
    this.writes = write.catch(() => undefined);
    return write;
  }
}

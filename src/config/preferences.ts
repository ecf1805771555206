// preferences.json: per user, recently used repositories (base branch, harness, model) and settings.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { Settings } from '../api/index.js';
import { UserError } from './errors.js';
import { writeFileAtomic } from './files.js';

const MAX_RECENT = 20;

const RepoPref = z.object({ name: z.string(), baseBranch: z.string(), harness: z.string(), model: z.string(), lastUsed: z.string() });
const UserPrefs = z.object({
  repositories: z.array(RepoPref).default([]),
  harness: z.string().default(''),
  models: z.record(z.string(), z.string()).default({}),
  settings: Settings.default({}),
});
export type UserPreferences = z.infer<typeof UserPrefs>;
const File = z.object({ version: z.literal(1), users: z.record(z.string(), UserPrefs) });

/** No-auth mode keeps one set of preferences under this key. */
export const DEFAULT_USER = 'default';

interface Change {
  user: string;
  apply: (prefs: UserPreferences) => void;
  done: (err?: Error) => void;
}

/**
 * Readers see only what is on disk: a change is applied to a copy, validated, written, and only
 * then becomes the shared state. Changes that arrive while a write is in flight go out together
 * in the next write, so a burst of task starts costs two writes, not one each.
 */
export class PreferenceStore {
  private queue: Change[] = [];
  private writing = false;

  private constructor(
    readonly path: string,
    private users: Readonly<Record<string, UserPreferences>>,
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
  recordUse(user: string, repo: { name: string; baseBranch: string }, harness: string, model: string, now = new Date()): Promise<void> {
    return this.change(user, (prefs) => {
      prefs.repositories = [
        { name: repo.name, baseBranch: repo.baseBranch, harness, model, lastUsed: now.toISOString() },
        ...prefs.repositories.filter((r) => r.name !== repo.name),
      ].slice(0, MAX_RECENT);
      prefs.harness = harness;
      prefs.models[harness] = model;
    });
  }

  async setSettings(user: string, settings: Record<string, unknown>): Promise<UserPreferences> {
    await this.change(user, (prefs) => {
      prefs.settings = settings;
    });
    return this.get(user);
  }

  private change(user: string, apply: (prefs: UserPreferences) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ user, apply, done: (err) => (err ? reject(err) : resolve()) });
      if (!this.writing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      const next: Record<string, UserPreferences> = { ...this.users };
      const applied: Change[] = [];
      for (const change of batch) {
        const prefs = structuredClone(next[change.user] ?? UserPrefs.parse({}));
        try {
          change.apply(prefs);
        } catch (err) {
          change.done(err as Error);
          continue;
        }
        // The store's own schema again: a caller that skipped the wire validation cannot poison the file.
        const checked = UserPrefs.safeParse(prefs);
        if (!checked.success) {
          change.done(new UserError(`preferences: ${checked.error.issues[0]!.path.join('.')}: ${checked.error.issues[0]!.message}`));
          continue;
        }
        // A copy, so nothing the caller still holds is shared with what readers see.
        next[change.user] = structuredClone(checked.data);
        applied.push(change);
      }
      if (applied.length === 0) continue;
      try {
        await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, users: next }, null, 2)}\n`);
      } catch (err) {
        applied.forEach((c) => c.done(err as Error));
        continue;
      }
      this.users = next;
      applied.forEach((c) => c.done());
    }
    this.writing = false;
  }
}

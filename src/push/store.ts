// Web Push subscriptions per user: one 0600 JSON file in the config directory, written atomically, a few per user.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readStateFile, UserError, writeFileAtomic } from '../config/index.js';

export const PUSH_SUBSCRIPTIONS_FILE_NAME = 'push-subscriptions.json';
/** Browsers and devices per user; a new one beyond that replaces the oldest. */
export const MAX_SUBSCRIPTIONS_PER_USER = 5;

export interface StoredSubscription {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
  createdAt: string;
}

interface FileShape {
  version: 1;
  users: Record<string, StoredSubscription[]>;
}

/** The id of a subscription: a hash of its endpoint (the endpoint itself is a capability; it is not echoed). */
export function subscriptionId(endpoint: string): string {
  return createHash('sha256').update(endpoint).digest('base64url').slice(0, 22);
}

export class SubscriptionStore {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly users: Map<string, StoredSubscription[]>,
  ) {}

  static async open(configDir: string): Promise<SubscriptionStore> {
    const path = join(configDir, PUSH_SUBSCRIPTIONS_FILE_NAME);
    const text = await readStateFile(path);
    const users = new Map<string, StoredSubscription[]>();
    if (text !== null) {
      let data: FileShape;
      try {
        data = JSON.parse(text) as FileShape;
      } catch {
        throw new UserError(`${path} is not JSON; delete it (every browser then subscribes again from Settings)`);
      }
      for (const [user, list] of Object.entries(data.users ?? {})) {
        if (!Array.isArray(list)) continue;
        users.set(user, list.filter((s) => typeof s?.endpoint === 'string' && typeof s.keys?.p256dh === 'string' && typeof s.keys.auth === 'string'));
      }
    }
    return new SubscriptionStore(path, users);
  }

  list(userId: string): readonly StoredSubscription[] {
    return this.users.get(userId) ?? [];
  }

  /** Adds or renews (same endpoint: new keys) a subscription; the oldest goes beyond the per-user bound. */
  async add(userId: string, sub: { endpoint: string; keys: { p256dh: string; auth: string } }, now = new Date()): Promise<StoredSubscription> {
    const id = subscriptionId(sub.endpoint);
    const stored: StoredSubscription = { id, endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: sub.keys.auth }, createdAt: now.toISOString() };
    const list = this.list(userId).filter((s) => s.id !== id);
    list.push(stored);
    while (list.length > MAX_SUBSCRIPTIONS_PER_USER) list.shift();
    this.users.set(userId, list);
    await this.save();
    return stored;
  }

  /** Removes the caller's subscription with this id; false when the caller has none such. */
  async remove(userId: string, id: string): Promise<boolean> {
    const list = this.list(userId);
    const next = list.filter((s) => s.id !== id);
    if (next.length === list.length) return false;
    if (next.length) this.users.set(userId, next);
    else this.users.delete(userId);
    await this.save();
    return true;
  }

  /** Writes are serialized; each writes the whole current map, so the last one has every change. */
  private save(): Promise<void> {
    const next = this.writing.then(() => {
      const data: FileShape = { version: 1, users: Object.fromEntries(this.users) };
      return writeFileAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`);
    });
    this.writing = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    await this.writing;
  }
}

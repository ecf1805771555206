// The authorization server's state on disk: one JSON file (0600, atomic writes) behind oidc-provider's
// adapter interface; bearer values (refresh tokens, codes) are kept only as their SHA-256.
import { createHash } from 'node:crypto';
import { readStateFile, UserError, writeFileAtomic } from '../config/index.js';

/** Models whose ids are bearer credentials: the file holds SHA-256 of the id, never the id. */
const HASHED = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'ClientCredentials', 'RegistrationAccessToken']);

type Payload = Record<string, unknown>;
interface Entry {
  payload: Payload;
  /** ms since the epoch; absent: never. */
  expiresAt?: number;
}
type Models = Record<string, Record<string, Entry>>;

export function hashId(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/**
 * Everything in memory, written through on each change. Writes are coalesced: a change awaits the
 * next write of the whole file that starts after it, so concurrent changes share one write and no
 * answer is sent before its change is on disk.
 */
export class OAuthStore {
  private models: Models = {};
  private writing: Promise<void> | null = null;
  private pending: Promise<void> | null = null;
  private readonly listeners: ((model: string, id: string, payload: Payload | null) => void)[] = [];

  private constructor(
    readonly path: string,
    private readonly now: () => number,
  ) {}

  static async open(path: string, now: () => number = Date.now): Promise<OAuthStore> {
    const store = new OAuthStore(path, now);
    const text = await readStateFile(path);
    if (text !== null) {
      try {
        const parsed = JSON.parse(text) as unknown;
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        store.models = parsed as Models;
      } catch (err) {
        throw new UserError(`${path}: not valid (${(err as Error).message}); fix it or delete it (signs every connected app out)`);
      }
    }
    return store;
  }

  /** Called after each change (null payload: removed); the grant book follows the Grant model this way. */
  onChange(listener: (model: string, id: string, payload: Payload | null) => void): void {
    this.listeners.push(listener);
  }

  private key(model: string, id: string): string {
    return HASHED.has(model) ? hashId(id) : id;
  }

  private table(model: string): Record<string, Entry> {
    return (this.models[model] ??= {});
  }

  get(model: string, id: string): Payload | undefined {
    const entry = this.models[model]?.[this.key(model, id)];
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.now()) return undefined;
    return HASHED.has(model) ? { ...entry.payload, jti: id } : entry.payload;
  }

  /** Entries of a model matching `pred`, unexpired. */
  *entries(model: string): Generator<[string, Payload]> {
    const now = this.now();
    for (const [k, e] of Object.entries(this.models[model] ?? {})) if (e.expiresAt === undefined || e.expiresAt > now) yield [k, e.payload];
  }

  async put(model: string, id: string, payload: Payload, expiresInSeconds?: number): Promise<void> {
    const stored = { ...payload };
    if (HASHED.has(model)) delete stored.jti;
    this.table(model)[this.key(model, id)] = {
      payload: stored,
      ...(expiresInSeconds ? { expiresAt: this.now() + expiresInSeconds * 1000 } : {}),
    };
    this.emit(model, id, payload);
    await this.flush();
  }

  async patch(model: string, id: string, change: Payload): Promise<void> {
    const entry = this.models[model]?.[this.key(model, id)];
    if (!entry) return;
    Object.assign(entry.payload, change);
    await this.flush();
  }

  async remove(model: string, id: string): Promise<void> {
    const table = this.models[model];
    const key = this.key(model, id);
    if (!table || !(key in table)) return;
    delete table[key];
    this.emit(model, id, null);
    await this.flush();
  }

  /** Removes every entry of `model` whose payload has this grantId. */
  removeByGrant(model: string, grantId: string): Promise<void> {
    return this.removeWhere(model, (p) => p.grantId === grantId);
  }

  /** Removes every entry of `model` whose payload matches. */
  async removeWhere(model: string, pred: (payload: Payload) => boolean): Promise<void> {
    const table = this.models[model];
    if (!table) return;
    let changed = false;
    for (const [k, e] of Object.entries(table)) {
      if (pred(e.payload)) {
        delete table[k];
        changed = true;
      }
    }
    if (changed) await this.flush();
  }

  findBy(model: string, field: string, value: string): Payload | undefined {
    for (const [, payload] of this.entries(model)) if (payload[field] === value) return payload;
    return undefined;
  }

  private emit(model: string, id: string, payload: Payload | null): void {
    for (const l of this.listeners) l(model, id, payload);
  }

  /** Resolves once a write that started after this call has finished. */
  flush(): Promise<void> {
    this.pending ??= (async () => {
      // Yield first: `pending` must be set before it is cleared, and changes made meanwhile join this write.
      await Promise.resolve();
      while (this.writing) await this.writing.catch(() => undefined);
      this.pending = null;
      const write = this.write();
      this.writing = write.finally(() => {
        this.writing = null;
      });
      return write;
    })();
    return this.pending;
  }

  private async write(): Promise<void> {
    const now = this.now();
    for (const table of Object.values(this.models)) {
      for (const [k, e] of Object.entries(table)) if (e.expiresAt !== undefined && e.expiresAt <= now) delete table[k];
    }
    await writeFileAtomic(this.path, JSON.stringify(this.models));
  }
}

/** oidc-provider's adapter interface over one model of the store. */
export function adapterFactory(store: OAuthStore) {
  return class FileAdapter {
    constructor(private readonly model: string) {}
    upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      return store.put(this.model, id, payload, expiresIn);
    }
    find(id: string): Promise<Payload | undefined> {
      return Promise.resolve(store.get(this.model, id));
    }
    findByUserCode(userCode: string): Promise<Payload | undefined> {
      return Promise.resolve(store.findBy(this.model, 'userCode', userCode));
    }
    findByUid(uid: string): Promise<Payload | undefined> {
      return Promise.resolve(store.findBy(this.model, 'uid', uid));
    }
    consume(id: string): Promise<void> {
      return store.patch(this.model, id, { consumed: Math.floor(Date.now() / 1000) });
    }
    destroy(id: string): Promise<void> {
      return store.remove(this.model, id);
    }
    revokeByGrantId(grantId: string): Promise<void> {
      return store.removeByGrant(this.model, grantId);
    }
  };
}

// Who may make the bot work: the configured allowed users, or anyone with write access to the repository (asked through the API, cached).
import type { ForgeKind } from '../api/index.js';
import type { ForgeClients, ForgeRepo } from './types.js';

/** How long an answer of the forge about one user's access is believed. */
export const ACCESS_TTL_MS = 5 * 60_000;
const MAX_CACHED = 10_000;

export interface SenderPolicyDeps {
  /** `[github.oauth] allowed_users` / `[gitlab.oauth] allowed_users`. */
  allowedUsers: Record<ForgeKind, readonly string[]>;
  clients: () => ForgeClients | null;
  now?: () => number;
}

export type SenderVerdict = { allowed: true; why: 'allowed_users' | 'write access' } | { allowed: false; why: string };

/**
 * Decides whether a sender may trigger the bot. A public repository lets anyone open issues and
 * comment, so everyone else is refused: a stranger must never get an agent to run (or to read
 * what its token can). A failed lookup refuses too.
 */
export class SenderPolicy {
  private readonly cache = new Map<string, { allowed: boolean; until: number }>();
  private readonly now: () => number;

  constructor(private readonly deps: SenderPolicyDeps) {
    this.now = deps.now ?? Date.now;
  }

  async check(repo: ForgeRepo, login: string): Promise<SenderVerdict> {
    if (!login) return { allowed: false, why: 'no sender' };
    const lower = login.toLowerCase();
    if (this.deps.allowedUsers[repo.kind].some((u) => u.toLowerCase() === lower)) return { allowed: true, why: 'allowed_users' };
    const key = `${repo.kind}\n${repo.baseUrl}\n${repo.owner.toLowerCase()}/${repo.repo.toLowerCase()}\n${lower}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.allowed ? { allowed: true, why: 'write access' } : { allowed: false, why: 'no write access (cached)' };
    const client = await this.deps.clients()?.clientFor(repo, null, 'bot');
    if (!client) return { allowed: false, why: 'not in allowed_users, and no forge credential to check write access' };
    let allowed: boolean;
    try {
      allowed = await client.hasWriteAccess(repo, login);
    } catch (err) {
      return { allowed: false, why: `write access could not be checked: ${(err as Error).message}` };
    }
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(key, { allowed, until: this.now() + ACCESS_TTL_MS });
    return allowed ? { allowed: true, why: 'write access' } : { allowed: false, why: 'no write access' };
  }
}

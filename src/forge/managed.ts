// The repositories caic manages, found by forge and owner/repo: a repository under the root whose remote names it.
import type { ForgeRepo, HookRepo } from './types.js';

export interface ManagedRepoSource {
  /** The repositories under the root (name relative to it, and the remote URL). */
  list(): readonly { name: string; remoteURL: string }[];
  /** The forge and owner/repo of a remote URL; null when it names none. */
  repoOf(remoteURL: string): ForgeRepo | null;
}

const key = (kind: string, owner: string, repo: string) => `${kind}\n${owner.toLowerCase()}\n${repo.toLowerCase()}`;

/** Looks a delivery's repository up among the managed ones (repoOf caches each URL's parse). */
export class ManagedRepos {
  constructor(private readonly source: ManagedRepoSource) {}

  find(repo: HookRepo): { name: string; repo: ForgeRepo } | null {
    const want = key(repo.kind, repo.owner, repo.repo);
    for (const r of this.source.list()) {
      const forge = r.remoteURL ? this.source.repoOf(r.remoteURL) : null;
      if (forge && key(forge.kind, forge.owner, forge.repo) === want) return { name: r.name, repo: forge };
    }
    return null;
  }
}

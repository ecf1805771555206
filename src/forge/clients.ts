// ForgeClients from the loaded config: remote URL → forge repository, and one client per token, reused.
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { GitHubApp } from './app.js';
import { GitHubClient } from './github.js';
import { GitLabClient } from './gitlab.js';
import { parseRemote, type ForgeHosts } from './origin.js';
import { TokenResolver, type HostTokenReader, type TaskOwner } from './tokens.js';
import type { ForgeClient, ForgeClients, ForgeRepo } from './types.js';

/** Clients kept at most: one per token in use; the least recently used goes first. */
const MAX_CLIENTS = 256;

export interface ForgeClientsOptions {
  logger?: Logger;
  /** Each credential the clients come to hold (OAuth, App, gh/glab tokens) for the log masker. */
  onSecret?: (secret: string) => void;
  /** Replaces running `gh`/`glab` (tests). */
  hostToken?: HostTokenReader;
  timeoutMs?: number;
}

export class ConfiguredForgeClients implements ForgeClients {
  readonly hosts: ForgeHosts;
  /** The GitHub App when `[github.app]` is configured (the webhook module uses it). */
  readonly app: GitHubApp | null;
  private readonly resolver: TokenResolver;
  private readonly clients = new Map<string, ForgeClient>();

  private readonly parsed = new Map<string, ForgeRepo | null>();

  constructor(
    private readonly config: Pick<Config, 'values' | 'configDir'>,
    private readonly opts: ForgeClientsOptions = {},
  ) {
    const v = config.values;
    this.hosts = { github: v.github.url, gitlab: v.gitlab.url };
    this.app =
      v.github.app.id && v.github.app.private_key_pem
        ? new GitHubApp({ apiUrl: v.github.api_url, appId: v.github.app.id, privateKeyPath: v.github.app.private_key_pem, logger: opts.logger, timeoutMs: opts.timeoutMs, onSecret: opts.onSecret })
        : null;
    this.resolver = new TokenResolver({ pat: { github: v.github.pat.token, gitlab: v.gitlab.pat.token }, app: this.app, hostToken: opts.hostToken, onSecret: opts.onSecret });
  }

  /** Parsed once per URL: webhook deliveries, PR links and the repository list all ask again and again. */
  repoOf(remoteURL: string): ForgeRepo | null {
    let repo = this.parsed.get(remoteURL);
    if (repo === undefined) {
      repo = parseRemote(remoteURL, this.hosts);
      if (this.parsed.size >= 10_000) this.parsed.clear();
      this.parsed.set(remoteURL, repo);
    }
    return repo;
  }

  async clientFor(repo: ForgeRepo, owner: TaskOwner | null, purpose: 'task' | 'bot' = 'task'): Promise<ForgeClient | null> {
    const token = await this.resolver.resolve(repo, owner, purpose);
    if (!token) return null;
    const key = `${repo.kind}\n${token.source}\n${token.token}`;
    const hit = this.clients.get(key);
    if (hit) {
      // Map order is recency: re-insert on use.
      this.clients.delete(key);
      this.clients.set(key, hit);
      return hit;
    }
    if (token.source === 'oauth') this.opts.onSecret?.(token.token);
    const v = this.config.values;
    const client =
      repo.kind === 'github'
        ? new GitHubClient({ apiUrl: v.github.api_url, token, logger: this.opts.logger, timeoutMs: this.opts.timeoutMs })
        : new GitLabClient({ url: v.gitlab.url, token, timeoutMs: this.opts.timeoutMs });
    this.clients.set(key, client);
    if (this.clients.size > MAX_CLIENTS) this.clients.delete(this.clients.keys().next().value!);
    return client;
  }
}

/** The daemon's forge clients, built from its config. */
export function createForgeClients(config: Pick<Config, 'values' | 'configDir'>, opts: ForgeClientsOptions = {}): ConfiguredForgeClients {
  return new ConfiguredForgeClients(config, opts);
}

// The GitHub App ([github.app]): installation tokens per owner, cached until shortly before they expire; installation lookup and removal.
import { readFileSync } from 'node:fs';
import { createAppAuth } from '@octokit/auth-app';
import { UserError } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { githubError, makeOctokit, type GitHubOctokit } from './github.js';
import { ForgeError } from './types.js';

/** A token is minted again this long before GitHub's expiry, so no call starts with one about to lapse. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
/** How long "owner X has no installation" and installation ids are remembered. */
const LOOKUP_TTL_MS = 60_000;

export interface Installation {
  id: number;
  account: string;
}

export interface GitHubAppOptions {
  apiUrl: string;
  appId: string;
  /** Path of the App's private key (PEM). */
  privateKeyPath: string;
  logger?: Logger;
  timeoutMs?: number;
  now?: () => number;
  /** Called with each minted token (the daemon's log masker learns it). */
  onSecret?: (token: string) => void;
}

export class GitHubApp {
  private readonly octokit: GitHubOctokit;
  private readonly now: () => number;
  private readonly tokens = new Map<number, { token: string; expiresAt: number }>();
  private readonly minting = new Map<number, Promise<{ token: string; expiresAt: number }>>();
  private readonly lookups = new Map<string, { installation: Installation | null; at: number }>();

  constructor(private readonly opts: GitHubAppOptions) {
    let privateKey: string;
    try {
      privateKey = readFileSync(opts.privateKeyPath, 'utf8');
    } catch (err) {
      throw new UserError(`[github.app] private_key_pem: cannot read ${opts.privateKeyPath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
    if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(privateKey)) throw new UserError(`[github.app] private_key_pem: ${opts.privateKeyPath} is not a PEM private key`);
    this.now = opts.now ?? Date.now;
    this.octokit = makeOctokit({ apiUrl: opts.apiUrl, authStrategy: createAppAuth, auth: { appId: opts.appId, privateKey }, logger: opts.logger, timeoutMs: opts.timeoutMs });
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw githubError(what, err, []);
    }
  }

  /** The installation of the App on `owner`'s account (user or organisation); null when not installed. */
  async installationFor(owner: string): Promise<Installation | null> {
    const key = owner.toLowerCase();
    const hit = this.lookups.get(key);
    if (hit && this.now() - hit.at < LOOKUP_TTL_MS) return hit.installation;
    const list = await this.call('list App installations', () => this.octokit.paginate(this.octokit.rest.apps.listInstallations, { per_page: 100 }));
    const found = list.find((i) => (i.account && 'login' in i.account ? i.account.login : '').toLowerCase() === key);
    const installation = found ? { id: found.id, account: (found.account as { login: string }).login } : null;
    this.lookups.set(key, { installation, at: this.now() });
    return installation;
  }

  async getInstallation(id: number): Promise<Installation> {
    const r = await this.call(`get App installation ${id}`, () => this.octokit.rest.apps.getInstallation({ installation_id: id }));
    const account = r.data.account && 'login' in r.data.account ? r.data.account.login : '';
    return { id: r.data.id, account };
  }

  /** An installation token, reused until TOKEN_REFRESH_MARGIN_MS before its expiry; one mint at a time per installation. */
  async installationToken(installationId: number): Promise<{ token: string; expiresAt: number }> {
    const cached = this.tokens.get(installationId);
    if (cached && cached.expiresAt - this.now() > TOKEN_REFRESH_MARGIN_MS) return cached;
    const pending = this.minting.get(installationId);
    if (pending) return pending;
    const mint = (async () => {
      const auth = (await this.call(`mint installation token for ${installationId}`, () =>
        this.octokit.auth({ type: 'installation', installationId, refresh: true }),
      )) as { token: string; expiresAt: string };
      const t = { token: auth.token, expiresAt: Date.parse(auth.expiresAt) };
      if (!t.token || Number.isNaN(t.expiresAt)) throw new ForgeError('GitHub answered an installation token without a token or expiry', 502);
      this.opts.onSecret?.(t.token);
      this.tokens.set(installationId, t);
      return t;
    })();
    this.minting.set(installationId, mint);
    try {
      return await mint;
    } finally {
      this.minting.delete(installationId);
    }
  }

  /** The token of `owner`'s installation; null when the App is not installed there. */
  async tokenForOwner(owner: string): Promise<{ token: string; expiresAt: number } | null> {
    const inst = await this.installationFor(owner);
    return inst ? this.installationToken(inst.id) : null;
  }

  /** Uninstalls the App from an account (an installation by someone not in allowed_owners). */
  async deleteInstallation(id: number): Promise<void> {
    await this.call(`delete App installation ${id}`, () => this.octokit.rest.apps.deleteInstallation({ installation_id: id }));
    this.tokens.delete(id);
    for (const [k, v] of this.lookups) if (v.installation?.id === id) this.lookups.delete(k);
  }
}

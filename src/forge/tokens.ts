// Which credential acts for a task or the bot: OAuth login → PAT → `gh`/`glab` on the host; the App first for the bot.
import { execFile } from 'node:child_process';
import { maskValue } from '../log/index.js';
import type { GitHubApp } from './app.js';
import type { ForgeRepo, TokenChoice } from './types.js';

/** How long `gh`/`glab` may take to print a token. */
const HOST_TOOL_TIMEOUT_MS = 5_000;
/** A host tool's answer is reused this long: each task sync need not spawn it again. */
const HOST_TOKEN_TTL_MS = 5 * 60_000;

export interface TaskOwner {
  username: string;
  provider: string;
  accessToken: string;
}

/** Runs `gh auth token` / `glab config get token` for a host; '' when the tool is missing or has none. */
export type HostTokenReader = (tool: 'gh' | 'glab', hostname: string) => Promise<string>;

export const readHostToken: HostTokenReader = (tool, hostname) =>
  new Promise((resolve) => {
    // glab has no "auth token"; its stored token is read with "config get token".
    const args = tool === 'gh' ? ['auth', 'token', '--hostname', hostname] : ['config', 'get', 'token', '--host', hostname];
    execFile(tool, args, { timeout: HOST_TOOL_TIMEOUT_MS, maxBuffer: 64 * 1024, env: { ...process.env, GH_PROMPT_DISABLED: '1', NO_COLOR: '1' } }, (err, stdout) => {
      // ENOENT (not installed), not logged in, timeout: that source is skipped.
      if (err) return resolve('');
      const token = stdout.trim();
      resolve(/^[\x21-\x7e]{8,512}$/.test(token) ? token : '');
    });
  });

export const choice = (token: string, source: TokenChoice['source']): TokenChoice => ({ token, source, masked: maskValue(token) });

export interface TokenResolverOptions {
  pat: { github: string; gitlab: string };
  app: GitHubApp | null;
  hostToken?: HostTokenReader;
  onSecret?: (token: string) => void;
}

export class TokenResolver {
  private readonly hostToken: HostTokenReader;
  private readonly hostTokens = new Map<string, { token: string; at: number }>();
  constructor(private readonly opts: TokenResolverOptions) {
    this.hostToken = opts.hostToken ?? readHostToken;
  }

  /**
   * The credential for `repo`: for the bot the App installation of the repository's owner first;
   * then the task owner's OAuth token when they signed in with that forge; then the PAT; then the
   * host's `gh`/`glab`. Null when none exists.
   */
  async resolve(repo: ForgeRepo, owner: TaskOwner | null, purpose: 'task' | 'bot' = 'task'): Promise<TokenChoice | null> {
    if (purpose === 'bot' && repo.kind === 'github' && this.opts.app) {
      const t = await this.opts.app.tokenForOwner(repo.owner);
      if (t) return choice(t.token, 'app');
    }
    if (owner && owner.provider === repo.kind && owner.accessToken) return choice(owner.accessToken, 'oauth');
    const pat = this.opts.pat[repo.kind];
    if (pat) return choice(pat, 'pat');
    const host = URL.parse(repo.baseUrl)?.hostname ?? '';
    const tool = repo.kind === 'github' ? 'gh' : 'glab';
    const token = host ? await this.fromHostTool(tool, host) : '';
    if (token) {
      this.opts.onSecret?.(token);
      return choice(token, tool);
    }
    return null;
  }

  private async fromHostTool(tool: 'gh' | 'glab', host: string): Promise<string> {
    const key = `${tool} ${host}`;
    const hit = this.hostTokens.get(key);
    if (hit && Date.now() - hit.at < HOST_TOKEN_TTL_MS) return hit.token;
    const token = await this.hostToken(tool, host);
    this.hostTokens.set(key, { token, at: Date.now() });
    return token;
  }
}

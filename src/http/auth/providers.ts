// OAuth 2.0 authorization-code clients for GitHub and GitLab (endpoints from config, so tests use a local stub).
import { z } from 'zod';
import type { AuthProvider } from '../../api/index.js';
import { VERSION, type Config } from '../../config/index.js';

const HTTP_TIMEOUT_MS = 10_000;

export interface ProviderTokens {
  accessToken: string;
  refreshToken?: string;
  expiresAt?: string;
}

export interface ProviderProfile {
  providerId: string;
  username: string;
  avatarURL: string;
  /** Display name and commit address from the profile ('' when the provider does not say). */
  name: string;
  email: string;
}

/** A failed step of the flow; `status` is what our callback answers. */
export class OAuthError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 500,
    message: string,
  ) {
    super(message);
  }
}

export interface OAuthProvider {
  readonly name: AuthProvider;
  authorizeUrl(state: string, redirectUri: string): string;
  exchange(code: string, redirectUri: string): Promise<ProviderTokens>;
  profile(tokens: ProviderTokens): Promise<ProviderProfile>;
  /** Case-insensitive check against `allowed_users`. */
  isAllowed(username: string): boolean;
}

const TokenResponse = z.object({
  access_token: z.string().min(1).optional(),
  refresh_token: z.string().optional(),
  expires_in: z.number().optional(),
  error: z.string().optional(),
  error_description: z.string().optional(),
});

interface Endpoints {
  name: AuthProvider;
  authorize: string;
  token: string;
  user: string;
  scope: string;
  /** Extra authorize parameters the provider wants. */
  authorizeParams: Record<string, string>;
  /** Extra token request parameters. */
  tokenParams: Record<string, string>;
  parseUser: (json: unknown) => ProviderProfile;
}

const optText = z.string().nullish().transform((v) => v ?? '');
const GitHubUser = z.object({ id: z.number(), login: z.string(), avatar_url: z.string().default(''), name: optText, email: optText });
const GitLabUser = z.object({
  id: z.number(),
  username: z.string(),
  avatar_url: z.string().nullable().default(''),
  name: optText,
  commit_email: optText,
  public_email: optText,
});

async function request(url: string, init: RequestInit, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch (err) {
    throw new OAuthError(500, `${what}: provider unreachable (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new OAuthError(res.ok ? 500 : 401, `${what}: provider answered HTTP ${res.status} without JSON`);
  }
  if (!res.ok) {
    const parsed = TokenResponse.safeParse(json);
    const detail = parsed.success && parsed.data.error ? `: ${parsed.data.error}` : '';
    throw new OAuthError(401, `${what}: provider answered HTTP ${res.status}${detail}`);
  }
  return json;
}

class Provider implements OAuthProvider {
  private readonly allowed: Set<string>;

  constructor(
    private readonly ep: Endpoints,
    private readonly clientId: string,
    private readonly clientSecret: string,
    allowedUsers: readonly string[],
  ) {
    this.allowed = new Set(allowedUsers.map((u) => u.trim().toLowerCase()).filter(Boolean));
  }

  get name(): AuthProvider {
    return this.ep.name;
  }

  authorizeUrl(state: string, redirectUri: string): string {
    const url = new URL(this.ep.authorize);
    url.search = new URLSearchParams({
      client_id: this.clientId,
      redirect_uri: redirectUri,
      scope: this.ep.scope,
      state,
      ...this.ep.authorizeParams,
    }).toString();
    return url.toString();
  }

  async exchange(code: string, redirectUri: string): Promise<ProviderTokens> {
    const json = await request(
      this.ep.token,
      {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'user-agent': `caic/${VERSION}` },
        body: new URLSearchParams({
          client_id: this.clientId,
          client_secret: this.clientSecret,
          code,
          redirect_uri: redirectUri,
          ...this.ep.tokenParams,
        }).toString(),
      },
      'token exchange',
    );
    const parsed = TokenResponse.safeParse(json);
    if (!parsed.success) throw new OAuthError(500, 'token exchange: unexpected answer from the provider');
    // GitHub reports a bad code with HTTP 200 and an `error` field.
    if (parsed.data.error || !parsed.data.access_token) {
      throw new OAuthError(401, `token exchange refused: ${parsed.data.error ?? 'no access token'}`);
    }
    const { access_token, refresh_token, expires_in } = parsed.data;
    return {
      accessToken: access_token,
      ...(refresh_token ? { refreshToken: refresh_token } : {}),
      ...(expires_in ? { expiresAt: new Date(Date.now() + expires_in * 1000).toISOString() } : {}),
    };
  }

  async profile(tokens: ProviderTokens): Promise<ProviderProfile> {
    const json = await request(
      this.ep.user,
      {
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${tokens.accessToken}`,
          'user-agent': `caic/${VERSION}`,
        },
      },
      'profile',
    );
    try {
      return this.ep.parseUser(json);
    } catch {
      throw new OAuthError(500, 'profile: unexpected answer from the provider');
    }
  }

  isAllowed(username: string): boolean {
    return this.allowed.has(username.toLowerCase());
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The configured login providers, keyed by name; empty in no-auth mode. */
export function buildProviders(config: Config): Map<AuthProvider, OAuthProvider> {
  const out = new Map<AuthProvider, OAuthProvider>();
  const { github, gitlab } = config.values;
  if (config.authProviders.includes('github')) {
    const web = trimSlash(github.url);
    out.set(
      'github',
      new Provider(
        {
          name: 'github',
          authorize: `${web}/login/oauth/authorize`,
          token: `${web}/login/oauth/access_token`,
          user: `${trimSlash(github.api_url)}/user`,
          scope: 'repo read:user',
          authorizeParams: { allow_signup: 'false' },
          tokenParams: {},
          parseUser: (json) => {
            const u = GitHubUser.parse(json);
            return { providerId: String(u.id), username: u.login, avatarURL: u.avatar_url, name: u.name, email: u.email };
          },
        },
        github.oauth.client_id,
        github.oauth.client_secret,
        github.oauth.allowed_users,
      ),
    );
  }
  if (config.authProviders.includes('gitlab')) {
    const base = trimSlash(gitlab.url);
    out.set(
      'gitlab',
      new Provider(
        {
          name: 'gitlab',
          authorize: `${base}/oauth/authorize`,
          token: `${base}/oauth/token`,
          user: `${base}/api/v4/user`,
          scope: 'api read_user',
          authorizeParams: { response_type: 'code' },
          tokenParams: { grant_type: 'authorization_code' },
          parseUser: (json) => {
            const u = GitLabUser.parse(json);
            return { providerId: String(u.id), username: u.username, avatarURL: u.avatar_url ?? '', name: u.name, email: u.commit_email || u.public_email };
          },
        },
        gitlab.oauth.client_id,
        gitlab.oauth.client_secret,
        gitlab.oauth.allowed_users,
      ),
    );
  }
  return out;
}

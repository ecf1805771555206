// OAuth 2.0 authorization-code clients for GitHub and GitLab (endpoints from config, so tests use a local stub).
import { z } from 'zod';
import type { AuthProvider } from '../../api/index.js';
import { VERSION, type Config, type StoredUser } from '../../config/index.js';

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

/**
 * A failed step of the flow; `status` is what our callback answers. Whatever the provider does
 * (unreachable, not JSON, an HTTP error, a malformed answer) is a failed sign-in (401), never a
 * 5xx of ours; 403 is for users the server does not allow.
 */
export class OAuthError extends Error {
  constructor(
    readonly status: 400 | 401 | 403,
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

// Only access_token has to be right; a malformed optional field is treated as absent.
const TokenResponse = z.object({
  access_token: z.string().min(1).max(8192).optional().catch(undefined),
  refresh_token: z.string().max(8192).optional().catch(undefined),
  expires_in: z.unknown().optional(),
  error: z.string().optional().catch(undefined),
});

/** An OAuth error code is a short ASCII word; anything else the provider sends is not repeated. */
function errorCodeOf(json: unknown): string | undefined {
  const parsed = TokenResponse.safeParse(json);
  const error = parsed.success ? parsed.data.error : undefined;
  return error && /^[\w.-]{1,64}$/.test(error) ? error : undefined;
}

/** Providers announce lifetimes up to hours or months; beyond ten years is nonsense. */
const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 86_400;

/**
 * The access token's expiry from the provider's `expires_in` (seconds), or undefined when the
 * value is absent or not a sane positive number: a negative, huge, non-finite or non-numeric
 * value is ignored rather than allowed to throw.
 */
export function expiryFrom(expiresIn: unknown, nowMs: number): string | undefined {
  const n = typeof expiresIn === 'string' && /^\d{1,12}$/.test(expiresIn) ? Number(expiresIn) : expiresIn;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || n > MAX_EXPIRES_IN_SECONDS) return undefined;
  return new Date(nowMs + Math.round(n * 1000)).toISOString();
}

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

/** Why fetch failed, without the URL or anything else that could carry a secret. */
function unreachableReason(err: unknown): string {
  const e = err as Error & { cause?: { code?: unknown } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${HTTP_TIMEOUT_MS / 1000} s`;
  const code = e.cause?.code;
  return typeof code === 'string' && /^[A-Z_]{2,32}$/.test(code) ? code : 'connection failed';
}

async function request(provider: AuthProvider, url: string, init: RequestInit, what: string): Promise<unknown> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    text = await res.text();
  } catch (err) {
    throw new OAuthError(401, `${what}: ${provider} could not be reached (${unreachableReason(err)}); try again later`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new OAuthError(401, `${what}: ${provider} answered HTTP ${res.status} with something other than JSON`);
  }
  if (!res.ok) {
    const error = errorCodeOf(json);
    throw new OAuthError(401, `${what}: ${provider} answered HTTP ${res.status}${error ? `: ${error}` : ''}`);
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
      this.name,
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
    if (!parsed.success) throw new OAuthError(401, `token exchange: unexpected answer from ${this.name}`);
    // GitHub reports a bad code with HTTP 200 and an `error` field.
    if (parsed.data.error || !parsed.data.access_token) {
      throw new OAuthError(401, `token exchange refused: ${errorCodeOf(json) ?? (parsed.data.error ? 'provider error' : 'no access token')}`);
    }
    const { access_token, refresh_token, expires_in } = parsed.data;
    const expiresAt = expiryFrom(expires_in, Date.now());
    return {
      accessToken: access_token,
      ...(refresh_token ? { refreshToken: refresh_token } : {}),
      ...(expiresAt ? { expiresAt } : {}),
    };
  }

  async profile(tokens: ProviderTokens): Promise<ProviderProfile> {
    const json = await request(
      this.name,
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
      throw new OAuthError(401, `profile: unexpected answer from ${this.name}`);
    }
  }

  isAllowed(username: string): boolean {
    return this.allowed.has(username.toLowerCase());
  }
}

/**
 * Whether a stored user may still use the server: their provider is configured and lists them in
 * `allowed_users`. Checked on every session, so taking a name off the list ends its sessions.
 */
export function allowedByProviders(providers: ReadonlyMap<AuthProvider, OAuthProvider>): (user: StoredUser) => boolean {
  return (user) => providers.get(user.provider)?.isAllowed(user.username) ?? false;
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

// A local stand-in for GitHub and GitLab: OAuth authorize/token/user endpoints, GitHub's meta API
// and OpenAI's IP range lists, speaking their real wire formats on 127.0.0.1.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubUser {
  id: number;
  username: string;
  avatarURL?: string;
  /** Profile name and public email (GitHub answers null when unset). */
  name?: string;
  email?: string;
}

export const CLIENT = {
  github: { id: 'gh-client-id', secret: 'gh-client-secret-0123456789abcdef' },
  gitlab: { id: 'gl-client-id', secret: 'gl-client-secret-0123456789abcdef' },
};

/** The [github] tables that point caic's GitHub login at the stub. */
export function githubLoginToml(stub: { url: string }, allowedUsers: string[]): string {
  return `[github]
url = "${stub.url}"
api_url = "${stub.url}/api"
[github.oauth]
client_id = "${CLIENT.github.id}"
client_secret = "${CLIENT.github.secret}"
allowed_users = ${JSON.stringify(allowedUsers)}
`;
}

/** How the token or user endpoint misbehaves: HTML instead of JSON, an HTTP error, or a cut connection. */
export type StubFailure = { kind: 'html'; status: number } | { kind: 'status'; status: number; body?: unknown } | { kind: 'reset' };

export interface StubForge {
  url: string;
  /** The user the next authorization approves. */
  user: StubUser;
  /** When set, the authorize step redirects back with ?error=<this> instead of a code. */
  denyWith: string | null;
  /** Misbehaviour of the OAuth token and user endpoints (both providers); null answers normally. */
  fail: { token?: StubFailure; user?: StubFailure } | null;
  /** Raw JSON members appended to a successful token answer (values JSON.stringify cannot write, e.g. 1e400). */
  tokenExtra: string;
  /** Status the meta and OpenAI endpoints answer (200 serves the lists below). */
  listStatus: number;
  githubHooks: string[];
  openaiPrefixes: { ipv4Prefix?: string; ipv6Prefix?: string }[];
  hits: Record<string, number>;
  /** Access tokens issued so far (to check they never reach logs). */
  issuedTokens: string[];
  /** The user an access token issued by the OAuth login belongs to. */
  userOf(token: string): StubUser | undefined;
  close(): Promise<void>;
}

/** Serves what the stub itself does not (the forge stand-in's APIs and git); false = 404. */
export type StubExtension = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** Answers as the failure says; false when there is no failure to play. */
function misbehave(req: IncomingMessage, res: ServerResponse, failure: StubFailure | undefined): boolean {
  if (!failure) return false;
  if (failure.kind === 'reset') req.socket.destroy();
  else if (failure.kind === 'html') {
    res.writeHead(failure.status, { 'content-type': 'text/html' });
    res.end('<html><body><h1>Unicorn!</h1>This page is taking too long to load.</body></html>');
  } else send(res, failure.status, failure.body ?? { message: 'Server Error' });
  return true;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

export async function startStubForge(opts: { extend?: StubExtension } = {}): Promise<StubForge> {
  const codes = new Map<string, { user: StubUser; clientId: string; redirectUri: string }>();
  const tokens = new Map<string, StubUser>();
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      // Half an answer already went out (a streamed git response): cut it rather than write twice.
      if (res.headersSent) res.destroy();
      else send(res, 500, { message: String(err) });
    });
  });

  const stub: StubForge = {
    url: '',
    user: { id: 1001, username: 'Octocat', avatarURL: 'https://avatars.example/1001' },
    denyWith: null,
    fail: null,
    tokenExtra: '',
    listStatus: 200,
    githubHooks: ['192.30.252.0/22', '185.199.108.0/22', '140.82.112.0/20', '2a0a:a440::/29'],
    openaiPrefixes: [{ ipv4Prefix: '23.102.140.112/28' }, { ipv6Prefix: '2603:1030:a::/48' }],
    hits: {},
    issuedTokens: [],
    userOf: (token) => tokens.get(token),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  function authorize(url: URL, res: ServerResponse, gitlab: boolean): void {
    const redirect = url.searchParams.get('redirect_uri');
    const state = url.searchParams.get('state');
    const clientId = url.searchParams.get('client_id') ?? '';
    if (!redirect || !state) return send(res, 400, { error: 'invalid_request' });
    if (gitlab && url.searchParams.get('response_type') !== 'code') return send(res, 400, { error: 'unsupported_response_type' });
    const back = new URL(redirect);
    if (stub.denyWith) {
      back.searchParams.set('error', stub.denyWith);
      back.searchParams.set('error_description', 'The user has denied your application access.');
    } else {
      const code = randomBytes(10).toString('hex');
      codes.set(code, { user: { ...stub.user }, clientId, redirectUri: redirect });
      back.searchParams.set('code', code);
    }
    back.searchParams.set('state', state);
    res.writeHead(302, { location: back.toString() });
    res.end();
  }

  async function token(req: IncomingMessage, res: ServerResponse, gitlab: boolean): Promise<void> {
    const form = await readForm(req);
    if (misbehave(req, res, stub.fail?.token)) return;
    const client = gitlab ? CLIENT.gitlab : CLIENT.github;
    const grant = codes.get(form.get('code') ?? '');
    codes.delete(form.get('code') ?? '');
    const ok =
      grant &&
      form.get('client_id') === client.id &&
      form.get('client_secret') === client.secret &&
      form.get('redirect_uri') === grant.redirectUri &&
      (!gitlab || form.get('grant_type') === 'authorization_code');
    if (!ok) {
      // GitHub answers a bad code with 200 and an error field; GitLab with 400.
      return gitlab
        ? send(res, 400, { error: 'invalid_grant', error_description: 'The provided authorization grant is invalid' })
        : send(res, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
    }
    const access = `${gitlab ? 'glpat' : 'gho'}_${randomBytes(18).toString('hex')}`;
    tokens.set(access, grant.user);
    stub.issuedTokens.push(access);
    if (gitlab) {
      const refresh = randomBytes(20).toString('hex');
      stub.issuedTokens.push(refresh);
      return send(res, 200, { access_token: access, token_type: 'Bearer', expires_in: 7200, refresh_token: refresh, scope: 'api read_user', created_at: Math.floor(Date.now() / 1000) });
    }
    const answer = JSON.stringify({ access_token: access, token_type: 'bearer', scope: 'repo,read:user' });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(stub.tokenExtra ? `${answer.slice(0, -1)},${stub.tokenExtra}}` : answer);
  }

  function user(req: IncomingMessage, res: ServerResponse, gitlab: boolean): void {
    if (misbehave(req, res, stub.fail?.user)) return;
    const auth = req.headers.authorization ?? '';
    const u = tokens.get(auth.replace(/^Bearer /i, ''));
    if (!u) return send(res, 401, { message: gitlab ? '401 Unauthorized' : 'Bad credentials' });
    if (gitlab) {
      return send(res, 200, { id: u.id, username: u.username, name: u.name ?? u.username, state: 'active', avatar_url: u.avatarURL ?? null, public_email: u.email ?? '', commit_email: u.email ?? null });
    }
    return send(res, 200, { login: u.username, id: u.id, node_id: 'MDQ6VXNlcjE=', avatar_url: u.avatarURL ?? '', type: 'User', name: u.name ?? null, email: u.email ?? null });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stub');
    const key = `${req.method} ${url.pathname}`;
    stub.hits[key] = (stub.hits[key] ?? 0) + 1;
    switch (key) {
      case 'GET /login/oauth/authorize':
        return authorize(url, res, false);
      case 'POST /login/oauth/access_token':
        return token(req, res, false);
      case 'GET /api/user':
        return user(req, res, false);
      case 'GET /oauth/authorize':
        return authorize(url, res, true);
      case 'POST /oauth/token':
        return token(req, res, true);
      case 'GET /api/v4/user':
        return user(req, res, true);
      case 'GET /api/meta':
        if (stub.listStatus !== 200) return send(res, stub.listStatus, { message: 'Server Error' });
        return send(res, 200, { verifiable_password_authentication: false, hooks: stub.githubHooks, web: ['192.30.252.0/22'], api: [] });
      case 'GET /openai/chatgpt-connectors.json':
      case 'GET /openai/chatgpt-agents.json':
        if (stub.listStatus !== 200) return send(res, stub.listStatus, { message: 'Server Error' });
        return send(res, 200, { creationTime: '2026-11-01T00:00:00.000000', prefixes: stub.openaiPrefixes });
      default:
        if (opts.extend && (await opts.extend(req, res, url))) return;
        return send(res, 404, { message: 'Not Found' });
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return stub;
}

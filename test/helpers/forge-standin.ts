// A local stand-in for GitHub and GitLab: real git over smart HTTP (git http-backend), the GitHub REST
// and GitLab v4 routes caic uses in their wire format, the GitHub App endpoints, and test controls.
import { execFile, spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startStubForge, type StubForge } from './stub-forge.js';

const execFileP = promisify(execFile);
const DOCS = 'https://docs.github.com/rest';

export type CheckConclusion = 'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required' | 'stale';

/** A check run the test sets on a commit; with `actions` it is a GitHub Actions job with steps and a log. */
export interface CheckRunSpec {
  name: string;
  status?: 'queued' | 'in_progress' | 'completed';
  conclusion?: CheckConclusion | null;
  /** The check's output summary (what a non-Actions check reports). */
  summary?: string;
  actions?: { steps: { name: string; conclusion: CheckConclusion | null }[]; log: string };
}
export interface StatusSpec {
  context: string;
  state: 'error' | 'failure' | 'pending' | 'success';
  targetUrl?: string;
  description?: string;
}
export type PipelineStatus = 'created' | 'waiting_for_resource' | 'preparing' | 'pending' | 'running' | 'success' | 'failed' | 'canceled' | 'skipped' | 'manual' | 'scheduled';
export interface PipelineSpec {
  status: PipelineStatus;
  jobs: { name: string; stage?: string; status: PipelineStatus; trace?: string; allowFailure?: boolean }[];
}

export interface StandinCheckRun {
  id: number;
  name: string;
  status: string;
  conclusion: string | null;
  summary: string | null;
  steps: { name: string; conclusion: string | null }[] | null;
  log: string | null;
}
export interface StandinPull {
  number: number;
  title: string;
  body: string;
  head: string;
  base: string;
  state: 'open' | 'closed';
  merged: boolean;
  mergeCommit: string | null;
  /** Head commit when closed/merged; an open PR follows its branch (GitHub's synchronize). */
  frozenHead: string | null;
  author: string;
  createdAt: string;
  /** When set, merging answers 405 with this message. */
  unmergeable: string | null;
}
export interface StandinComment {
  id: number;
  author: string;
  body: string;
  createdAt: string;
}
export interface StandinIssue {
  number: number;
  title: string;
  body: string;
  author: string;
  labels: string[];
  state: 'open' | 'closed';
  comments: StandinComment[];
}
export interface StandinRepo {
  fullName: string;
  id: number;
  path: string;
  defaultBranch: string;
  private: boolean;
  /** login (lower case) → GitHub permission. */
  permissions: Map<string, 'admin' | 'maintain' | 'write' | 'triage' | 'read'>;
  pulls: StandinPull[];
  /** GitHub: issues and pulls share numbers; GitLab: issues have their own iids. */
  issues: Map<number, StandinIssue>;
  /** Comments on pull/merge requests, by number. */
  pullComments: Map<number, StandinComment[]>;
  nextNumber: number;
  /** GitLab numbers issues on their own; GitHub issues take the next pull request number. */
  nextIssue: number | null;
  checkRuns: Map<string, StandinCheckRun[]>;
  statuses: Map<string, (StatusSpec & { id: number; createdAt: string })[]>;
  pipelines: Map<string, { id: number; status: PipelineStatus; jobs: { id: number; name: string; stage: string; status: PipelineStatus; trace: string; allowFailure: boolean }[] }[]>;
}
export interface StandinRequest {
  method: string;
  path: string;
  /** The credential the request carried (raw: this is a test log), or '' for none. */
  token: string;
  status: number;
}
export interface PushEvent {
  repo: string;
  ref: string;
  before: string;
  after: string;
}

export interface ForgeStandin {
  url: string;
  /** OAuth login of the same server (stub-forge). */
  stub: StubForge;
  /** `[github] api_url` for clients (GHE-style `${url}/api/v3` is served too). */
  githubApi: string;
  /** `[gitlab] url`. */
  gitlabUrl: string;
  root: string;
  repos: Map<string, StandinRepo>;
  requests: StandinRequest[];
  /** Bare repository; `from` is a local repository pushed into it (all branches). Returns the clone URL. */
  createRepo(owner: string, repo: string, opts?: { from?: string; defaultBranch?: string; private?: boolean; kind?: 'github' | 'gitlab' }): Promise<string>;
  cloneUrl(fullName: string): string;
  repo(fullName: string): StandinRepo;
  /** A token the API and git accept, acting as `login`. */
  addToken(token: string, login: string): void;
  setPermission(fullName: string, login: string, permission: 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none'): void;
  setCheckRuns(fullName: string, sha: string, runs: CheckRunSpec[]): StandinCheckRun[];
  setStatuses(fullName: string, sha: string, statuses: StatusSpec[]): void;
  setPipelines(fullName: string, sha: string, pipelines: PipelineSpec[]): void;
  addIssue(fullName: string, issue: { title: string; body?: string; author?: string; labels?: string[]; comments?: { author: string; body: string }[] }): number;
  /** Comments posted on an issue or pull/merge request (GitHub: shared numbers; GitLab: pass kind). */
  comments(fullName: string, number: number, kind?: 'issue' | 'pull'): StandinComment[];
  /** Current head of a branch in the bare repository ('' when absent). */
  head(fullName: string, branch: string): Promise<string>;
  /** The next GitHub API request answers a 403 secondary rate limit with this retry-after (seconds). */
  secondaryRateLimitOnce(retryAfterSec?: number): void;
  /** The next `count` GitHub API requests answer `status` with `message` (default "Server Error"/"Error"). */
  /** The next `count` API requests (only those whose path matches `only`, when given) fail with `status`. */
  failNext(status: number, count?: number, message?: string, only?: RegExp): void;
  /** Called after each push that moved a branch. */
  onPush(listener: (e: PushEvent) => void): void;
  app: {
    id: string;
    privateKeyPem: string;
    /** Written to a file for `[github.app] private_key_pem`. */
    keyFile: string;
    /** Lifetime of minted installation tokens. */
    tokenTtlSec: number;
    mints: number;
    installations: { id: number; account: string; deleted: boolean }[];
    addInstallation(account: string): number;
  };
  close(): Promise<void>;
}

/**
 * The [github] and [gitlab] tables that point caic at the stand-in (both forges on one server).
 * `app` adds [github.app] with the stand-in's App id and key file.
 */
export function standinToml(
  forge: Pick<ForgeStandin, 'url' | 'githubApi' | 'gitlabUrl' | 'app'>,
  opts: { githubPat?: string; gitlabPat?: string; app?: boolean; allowedOwners?: string[]; githubWebhookSecret?: string; gitlabWebhookSecret?: string } = {},
): string {
  const lines = [`[github]`, `url = "${forge.url}"`, `api_url = "${forge.githubApi}"`];
  if (opts.githubPat) lines.push(`[github.pat]`, `token = "${opts.githubPat}"`);
  if (opts.app || opts.githubWebhookSecret) {
    lines.push(`[github.app]`);
    if (opts.app) lines.push(`id = "${forge.app.id}"`, `private_key_pem = "${forge.app.keyFile}"`, `allowed_owners = ${JSON.stringify(opts.allowedOwners ?? [])}`);
    if (opts.githubWebhookSecret) lines.push(`webhook_secret = "${opts.githubWebhookSecret}"`);
  }
  lines.push(`[gitlab]`, `url = "${forge.gitlabUrl}"`);
  if (opts.gitlabWebhookSecret) lines.push(`webhook_secret = "${opts.gitlabWebhookSecret}"`);
  if (opts.gitlabPat) lines.push(`[gitlab.pat]`, `token = "${opts.gitlabPat}"`);
  return `${lines.join('\n')}\n`;
}

/** A GitHub Actions job log as GitHub serves it: timestamped lines, steps in groups, the error at the end. */
export function actionsLog(steps: { name: string; lines: string[]; error?: string }[]): string {
  let t = Date.parse('2026-11-30T10:00:00Z');
  const ts = () => new Date((t += 137)).toISOString().replace('Z', '0000Z');
  const out: string[] = [];
  for (const s of steps) {
    out.push(`${ts()} ##[group]Run ${s.name}`, `${ts()} ${s.name}`, `${ts()} ##[endgroup]`);
    for (const l of s.lines) out.push(`${ts()} ${l}`);
    if (s.error) out.push(`${ts()} ##[error]${s.error}`);
  }
  return `${out.join('\n')}\n`;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBody(req)).toString();
  if (!raw) return {};
  const v = JSON.parse(raw) as unknown;
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

const gitEnv = { GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Forge', GIT_AUTHOR_EMAIL: 'forge@example.invalid', GIT_COMMITTER_NAME: 'Forge', GIT_COMMITTER_EMAIL: 'forge@example.invalid' };
async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await execFileP('git', args, { cwd, env: { ...process.env, ...gitEnv } });
  return stdout.trim();
}

function b64urlDecode(s: string): Buffer {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/**
 * Starts the stand-in on 127.0.0.1. Typical use: `createRepo('acme', 'widget', { from: localRepo })`
 * gives the clone URL (`http://127.0.0.1:PORT/acme/widget.git`); `addToken(token, login)` makes a
 * credential git (basic auth, any user name: `x-access-token:<token>`, `oauth2:<token>`) and the
 * APIs accept; `standinToml(forge, …)` configures caic for it. Pushes need a token of a login with
 * write permission (the owner's first path segment is admin); fetches of a public repository none.
 */
export async function startForgeStandin(): Promise<ForgeStandin> {
  const root = await mkdtemp(join(tmpdir(), 'caic-forge-'));
  const tokens = new Map<string, string>();
  const installTokens = new Map<string, { installation: number; expires: number }>();
  const pushListeners: ((e: PushEvent) => void)[] = [];
  let nextId = 1000;
  const id = () => nextId++;
  let secondaryOnce: number | null = null;
  let failures: { status: number; count: number; message?: string; only?: RegExp } | null = null;
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKey: KeyObject = createPublicKey(keys.privateKey);
  const privateKeyPem = keys.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const keyFile = join(root, 'app.pem');
  await writeFile(keyFile, privateKeyPem, { mode: 0o600 });

  // eslint-disable-next-line prefer-const
  let standin: ForgeStandin;
  const stub = await startStubForge({ extend: (req, res, url) => route(req, res, url) });

  const repoOf = (fullName: string): StandinRepo | undefined => standin.repos.get(fullName.toLowerCase());
  const now = () => new Date().toISOString();

  /** The login a credential acts as; null = anonymous; undefined = a credential nobody issued. */
  function who(token: string): string | null | undefined {
    if (!token) return null;
    const known = tokens.get(token) ?? stub.userOf(token)?.username;
    if (known) return known;
    const inst = installTokens.get(token);
    if (inst && inst.expires > Date.now()) {
      const i = standin.app.installations.find((x) => x.id === inst.installation && !x.deleted);
      if (i) return `app/${i.account}`;
    }
    return undefined;
  }

  function tokenOf(req: IncomingMessage): string {
    const auth = req.headers.authorization ?? '';
    const m = /^(?:token|bearer)\s+(.+)$/i.exec(auth);
    if (m) return m[1]!.trim();
    const basic = /^basic\s+(.+)$/i.exec(auth);
    if (basic) {
      const [, pass = ''] = Buffer.from(basic[1]!, 'base64').toString().split(/:(.*)/s);
      return pass;
    }
    const priv = req.headers['private-token'];
    return typeof priv === 'string' ? priv : '';
  }

  async function headOf(repo: StandinRepo, branch: string): Promise<string> {
    return git(repo.path, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]).catch(() => '');
  }
  async function resolveRef(repo: StandinRepo, ref: string): Promise<string> {
    if (/^[0-9a-f]{40}$/.test(ref)) return ref;
    return (await headOf(repo, ref)) || ref;
  }
  async function refsOf(repo: StandinRepo): Promise<Map<string, string>> {
    const out = await git(repo.path, ['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads']).catch(() => '');
    return new Map(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
  }

  // ---------- git smart HTTP ----------

  async function gitHttp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const m = /^\/(.+?\.git)(\/(?:info\/refs|git-upload-pack|git-receive-pack|HEAD))$/.exec(url.pathname);
    if (!m) return false;
    const fullName = m[1]!.slice(0, -4);
    const repo = repoOf(fullName);
    const service = url.searchParams.get('service') ?? m[2]!.slice(1);
    const pushing = service === 'git-receive-pack';
    const token = tokenOf(req);
    const user = who(token);
    log(req, token, 0);
    const challenge = () => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="forge stand-in"', 'content-type': 'text/plain' });
      res.end('Authentication required\n');
      setStatus(401);
    };
    if (!repo) {
      if (!user) return (challenge(), true);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Repository not found\n');
      setStatus(404);
      return true;
    }
    if (((pushing || repo.private) && !user) || user === undefined) return (challenge(), true);
    if (pushing && user && !canWrite(repo, user)) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(`Permission to ${repo.fullName}.git denied to ${user}.\n`);
      setStatus(403);
      return true;
    }
    const before = pushing && req.method === 'POST' ? await refsOf(repo) : null;
    const child = spawn('git', ['http-backend'], {
      env: {
        ...process.env,
        ...gitEnv,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: `/${repo.fullName}.git${m[2]}`,
        REQUEST_METHOD: req.method ?? 'GET',
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: user ?? '',
        REMOTE_ADDR: '127.0.0.1',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        HTTP_GIT_PROTOCOL: (req.headers['git-protocol'] as string | undefined) ?? '',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // git may stop reading its input early (a refused push): that is its answer, not a crash.
    child.stdin.on('error', () => {});
    child.on('error', () => {});
    req.pipe(child.stdin);
    child.stderr.resume();
    let head = Buffer.alloc(0);
    let headerDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headerDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headerDone = true;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim().toLowerCase();
        const v = line.slice(i + 1).trim();
        if (k === 'status') status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      setStatus(status);
      res.write(head.subarray(end + 4));
    });
    await new Promise<void>((resolve) => child.on('close', () => resolve()));
    if (!headerDone) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      setStatus(500);
    }
    res.end();
    if (before) {
      const after = await refsOf(repo);
      for (const [ref, sha] of after) {
        if (before.get(ref) !== sha) for (const l of pushListeners) l({ repo: repo.fullName, ref, before: before.get(ref) ?? '0'.repeat(40), after: sha });
      }
    }
    return true;
  }

  function canWrite(repo: StandinRepo, login: string): boolean {
    // An installation token writes to the repositories of the account that installed the App.
    if (login.startsWith('app/')) return repo.fullName.split('/')[0]!.toLowerCase() === login.slice(4).toLowerCase();
    const p = repo.permissions.get(login.toLowerCase());
    return p === 'admin' || p === 'maintain' || p === 'write';
  }

  // ---------- request log ----------

  let current: StandinRequest | null = null;
  function log(req: IncomingMessage, token: string, status: number): void {
    current = { method: req.method ?? 'GET', path: req.url ?? '/', token, status };
    standin.requests.push(current);
  }
  function setStatus(status: number): void {
    if (current) current.status = status;
  }

  // ---------- GitHub REST ----------

  function rateHeaders(): Record<string, string> {
    return {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-used': '1',
      'x-ratelimit-resource': 'core',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
    };
  }
  function gh(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
    setStatus(status);
    json(res, status, body, { ...rateHeaders(), ...headers });
    return true;
  }
  function ghError(res: ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}): true {
    return gh(res, status, { message, documentation_url: DOCS, status: String(status), ...extra });
  }

  /** Slices `items` for ?page&per_page and writes GitHub's Link header. */
  function ghPage<T>(url: URL, items: T[]): { items: T[]; headers: Record<string, string> } {
    const per = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page')) || 30));
    const page = Math.max(1, Number(url.searchParams.get('page')) || 1);
    const last = Math.max(1, Math.ceil(items.length / per));
    const link = (p: number, rel: string) => {
      const u = new URL(url.toString().replace(/^http:\/\/[^/]+/, standin.url));
      u.searchParams.set('page', String(p));
      u.searchParams.set('per_page', String(per));
      return `<${u.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
    return { items: items.slice((page - 1) * per, page * per), headers: links.length ? { link: links.join(', ') } : {} };
  }

  const ghUser = (login: string) => ({ login, id: login.length * 7919, type: 'User', html_url: `${standin.url}/${login}` });

  async function ghPull(repo: StandinRepo, p: StandinPull) {
    const sha = p.frozenHead ?? (await headOf(repo, p.head));
    const [owner] = repo.fullName.split('/');
    return {
      url: `${standin.githubApi}/repos/${repo.fullName}/pulls/${p.number}`,
      id: p.number * 1009,
      number: p.number,
      html_url: `${standin.url}/${repo.fullName}/pull/${p.number}`,
      state: p.state,
      title: p.title,
      body: p.body || null,
      user: ghUser(p.author),
      created_at: p.createdAt,
      merged: p.merged,
      merged_at: p.merged ? now() : null,
      merge_commit_sha: p.mergeCommit,
      mergeable: p.state === 'open' ? p.unmergeable === null : null,
      draft: false,
      head: { label: `${owner}:${p.head}`, ref: p.head, sha, repo: { full_name: repo.fullName } },
      base: { label: `${owner}:${p.base}`, ref: p.base, sha: await headOf(repo, p.base), repo: { full_name: repo.fullName } },
    };
  }

  function ghIssue(repo: StandinRepo, i: StandinIssue) {
    return {
      id: i.number * 1013,
      number: i.number,
      html_url: `${standin.url}/${repo.fullName}/issues/${i.number}`,
      title: i.title,
      body: i.body || null,
      user: ghUser(i.author),
      state: i.state,
      labels: i.labels.map((name) => ({ name })),
      comments: i.comments.length,
    };
  }
  const ghComment = (repo: StandinRepo, n: number, c: StandinComment) => ({
    id: c.id,
    html_url: `${standin.url}/${repo.fullName}/issues/${n}#issuecomment-${c.id}`,
    body: c.body,
    user: ghUser(c.author),
    created_at: c.createdAt,
  });

  function verifyAppJwt(token: string): boolean {
    const parts = token.split('.');
    if (parts.length !== 3) return false;
    try {
      const header = JSON.parse(b64urlDecode(parts[0]!).toString()) as { alg?: string };
      const claims = JSON.parse(b64urlDecode(parts[1]!).toString()) as { iss?: unknown; exp?: number; iat?: number };
      if (header.alg !== 'RS256') return false;
      if (!verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, b64urlDecode(parts[2]!))) return false;
      const t = Date.now() / 1000;
      return String(claims.iss) === standin.app.id && typeof claims.exp === 'number' && claims.exp > t && claims.exp - (claims.iat ?? 0) <= 600 + 60;
    } catch {
      return false;
    }
  }

  async function githubApi(req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<true> {
    const method = req.method ?? 'GET';
    const token = tokenOf(req);
    log(req, token, 0);
    if (secondaryOnce !== null) {
      const after = secondaryOnce;
      secondaryOnce = null;
      return gh(
        res,
        403,
        { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits' },
        { 'retry-after': String(after) },
      );
    }
    if (failures && failures.count > 0 && (!failures.only || failures.only.test(path))) {
      failures.count--;
      return ghError(res, failures.status, failures.message ?? (failures.status >= 500 ? 'Server Error' : 'Error'));
    }

    // App endpoints: a JWT signed with the App's key.
    const appRoute = /^\/app\b|^\/(?:repos\/[^/]+\/[^/]+|orgs\/[^/]+|users\/[^/]+)\/installation$/.test(path);
    if (appRoute) {
      if (!verifyAppJwt(token)) return ghError(res, 401, 'A JSON web token could not be decoded');
      return appApi(req, res, url, path, method);
    }

    const login = who(token);
    if (login === undefined) return ghError(res, 401, 'Bad credentials');
    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return ghError(res, 404, 'Not Found');
    const repo = repoOf(`${m[1]}/${m[2]}`);
    if (!repo || (repo.private && !login)) return ghError(res, 404, 'Not Found');
    const rest = m[3] ?? '';
    const write = method !== 'GET';
    if (write && !login) return ghError(res, 401, 'Requires authentication');
    const writer = login !== null && canWrite(repo, login);
    let k: RegExpExecArray | null;

    if (rest === '' && method === 'GET') {
      return gh(res, 200, { id: repo.id, full_name: repo.fullName, name: m[2], owner: ghUser(m[1]!), private: repo.private, default_branch: repo.defaultBranch, html_url: `${standin.url}/${repo.fullName}`, clone_url: standin.cloneUrl(repo.fullName) });
    }
    if (rest === '/pulls' && method === 'GET') {
      const state = url.searchParams.get('state') ?? 'open';
      const head = url.searchParams.get('head');
      let list = repo.pulls.filter((p) => state === 'all' || p.state === state);
      if (head) {
        const [hOwner, hBranch] = head.includes(':') ? head.split(/:(.*)/s) : [m[1], head];
        list = list.filter((p) => p.head === hBranch && hOwner!.toLowerCase() === m[1]!.toLowerCase());
      }
      list = [...list].sort((a, b) => b.number - a.number);
      const page = ghPage(url, list);
      return gh(res, 200, await Promise.all(page.items.map((p) => ghPull(repo, p))), page.headers);
    }
    if (rest === '/pulls' && method === 'POST') {
      if (!writer) return ghError(res, 403, 'Resource not accessible by integration');
      const b = await readJson(req);
      const title = typeof b.title === 'string' ? b.title : '';
      const head = typeof b.head === 'string' ? b.head.replace(/^[^:]+:/, '') : '';
      const base = typeof b.base === 'string' ? b.base : '';
      if (!title) return ghError(res, 422, 'Validation Failed', { errors: [{ resource: 'PullRequest', code: 'missing_field', field: 'title' }] });
      if (!(await headOf(repo, head))) return ghError(res, 422, 'Validation Failed', { errors: [{ resource: 'PullRequest', code: 'invalid', field: 'head' }] });
      if (!(await headOf(repo, base))) return ghError(res, 422, 'Validation Failed', { errors: [{ resource: 'PullRequest', code: 'invalid', field: 'base' }] });
      if (repo.pulls.some((p) => p.state === 'open' && p.head === head && p.base === base)) {
        return ghError(res, 422, 'Validation Failed', { errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${m[1]}:${head}.` }] });
      }
      const p: StandinPull = { number: repo.nextNumber++, title, body: typeof b.body === 'string' ? b.body : '', head, base, state: 'open', merged: false, mergeCommit: null, frozenHead: null, author: login, createdAt: now(), unmergeable: null };
      repo.pulls.push(p);
      return gh(res, 201, await ghPull(repo, p), { location: `${standin.githubApi}/repos/${repo.fullName}/pulls/${p.number}` });
    }
    if ((k = /^\/pulls\/(\d+)$/.exec(rest))) {
      const p = repo.pulls.find((x) => x.number === Number(k![1]));
      if (!p) return ghError(res, 404, 'Not Found');
      if (method === 'GET') return gh(res, 200, await ghPull(repo, p));
      if (method === 'PATCH') {
        if (!writer) return ghError(res, 403, 'Resource not accessible by integration');
        const b = await readJson(req);
        if (typeof b.title === 'string') p.title = b.title;
        if (typeof b.body === 'string') p.body = b.body;
        if (b.state === 'closed' && p.state === 'open') {
          p.frozenHead = await headOf(repo, p.head);
          p.state = 'closed';
        } else if (b.state === 'open' && p.state === 'closed' && !p.merged) {
          p.frozenHead = null;
          p.state = 'open';
        }
        return gh(res, 200, await ghPull(repo, p));
      }
    }
    if ((k = /^\/pulls\/(\d+)\/merge$/.exec(rest))) {
      const p = repo.pulls.find((x) => x.number === Number(k![1]));
      if (!p) return ghError(res, 404, 'Not Found');
      if (method === 'GET') return p.merged ? (setStatus(204), res.writeHead(204, rateHeaders()), res.end(), true) : ghError(res, 404, 'Not Found');
      if (method === 'PUT') {
        if (!writer) return ghError(res, 403, 'Resource not accessible by integration');
        const b = await readJson(req);
        if (p.state !== 'open') return ghError(res, 405, 'Pull Request is not mergeable');
        if (p.unmergeable) return ghError(res, 405, p.unmergeable);
        const headSha = await headOf(repo, p.head);
        if (typeof b.sha === 'string' && b.sha !== headSha) return ghError(res, 409, 'Head branch was modified. Review and try the merge again.');
        const title = typeof b.commit_title === 'string' && b.commit_title ? b.commit_title : `${p.title} (#${p.number})`;
        const msg = typeof b.commit_message === 'string' ? b.commit_message : '';
        const sha = await squash(repo, p.base, headSha, msg ? `${title}\n\n${msg}` : title);
        p.merged = true;
        p.state = 'closed';
        p.frozenHead = headSha;
        p.mergeCommit = sha;
        return gh(res, 200, { sha, merged: true, message: 'Pull Request successfully merged' });
      }
    }
    if ((k = /^\/commits\/([^/]+)\/check-runs$/.exec(rest)) && method === 'GET') {
      const sha = await resolveRef(repo, decodeURIComponent(k[1]!));
      const runs = repo.checkRuns.get(sha) ?? [];
      const page = ghPage(url, runs);
      return gh(res, 200, { total_count: runs.length, check_runs: page.items.map((r) => ghCheckRun(repo, sha, r)) }, page.headers);
    }
    if ((k = /^\/commits\/([^/]+)\/status$/.exec(rest)) && method === 'GET') {
      const sha = await resolveRef(repo, decodeURIComponent(k[1]!));
      // GitHub's combined status keeps the latest status per context.
      const latest = new Map<string, StatusSpec & { id: number; createdAt: string }>();
      for (const s of repo.statuses.get(sha) ?? []) latest.set(s.context, s);
      const all = [...latest.values()];
      const state = all.length === 0 ? 'pending' : all.some((s) => s.state === 'failure' || s.state === 'error') ? 'failure' : all.some((s) => s.state === 'pending') ? 'pending' : 'success';
      const page = ghPage(url, all);
      return gh(res, 200, {
        state,
        sha,
        total_count: all.length,
        statuses: page.items.map((s) => ({ id: s.id, state: s.state, context: s.context, description: s.description ?? null, target_url: s.targetUrl ?? null, created_at: s.createdAt, updated_at: s.createdAt })),
        repository: { full_name: repo.fullName },
      }, page.headers);
    }
    if ((k = /^\/actions\/jobs\/(\d+)(\/logs)?$/.exec(rest)) && method === 'GET') {
      const run = [...repo.checkRuns.values()].flat().find((r) => r.id === Number(k![1]) && r.steps);
      if (!run) return ghError(res, 404, 'Not Found');
      if (k[2]) {
        // GitHub answers with a redirect to a short-lived, pre-signed log URL.
        setStatus(302);
        res.writeHead(302, { ...rateHeaders(), location: `${standin.url}/_raw-logs/${repo.id}/${run.id}?sig=${randomBytes(6).toString('hex')}` });
        res.end();
        return true;
      }
      return gh(res, 200, {
        id: run.id,
        run_id: run.id + 1,
        name: run.name,
        status: run.status,
        conclusion: run.conclusion,
        html_url: `${standin.url}/${repo.fullName}/actions/runs/${run.id + 1}/job/${run.id}`,
        steps: run.steps!.map((s, i) => ({ name: s.name, number: i + 1, status: 'completed', conclusion: s.conclusion })),
      });
    }
    if ((k = /^\/issues\/(\d+)$/.exec(rest)) && method === 'GET') {
      const n = Number(k[1]);
      const i = repo.issues.get(n);
      if (i) return gh(res, 200, ghIssue(repo, i));
      const p = repo.pulls.find((x) => x.number === n);
      if (p) return gh(res, 200, { ...ghIssue(repo, { number: n, title: p.title, body: p.body, author: p.author, labels: [], state: p.state, comments: repo.pullComments.get(n) ?? [] }), pull_request: { url: `${standin.githubApi}/repos/${repo.fullName}/pulls/${n}` } });
      return ghError(res, 404, 'Not Found');
    }
    if ((k = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const n = Number(k[1]);
      const list = repo.issues.get(n)?.comments ?? (repo.pulls.some((p) => p.number === n) ? (repo.pullComments.get(n) ?? (repo.pullComments.set(n, []), repo.pullComments.get(n)!)) : null);
      if (!list) return ghError(res, 404, 'Not Found');
      if (method === 'GET') {
        const page = ghPage(url, list);
        return gh(res, 200, page.items.map((c) => ghComment(repo, n, c)), page.headers);
      }
      if (method === 'POST') {
        const b = await readJson(req);
        if (typeof b.body !== 'string' || !b.body) return ghError(res, 422, 'Validation Failed', { errors: [{ resource: 'IssueComment', code: 'missing_field', field: 'body' }] });
        if (b.body.length > 65536) return ghError(res, 422, 'Validation Failed', { errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }] });
        const c = { id: id(), author: login!.startsWith('app/') ? 'caic[bot]' : login!, body: b.body, createdAt: now() };
        list.push(c);
        return gh(res, 201, ghComment(repo, n, c));
      }
    }
    if ((k = /^\/collaborators\/([^/]+)\/permission$/.exec(rest)) && method === 'GET') {
      const user = decodeURIComponent(k[1]!);
      const p = repo.permissions.get(user.toLowerCase()) ?? (repo.private ? 'none' : 'read');
      const legacy = p === 'maintain' ? 'write' : p === 'triage' ? 'read' : p;
      return gh(res, 200, { permission: legacy, role_name: p, user: { ...ghUser(user), permissions: { admin: p === 'admin', maintain: p === 'admin' || p === 'maintain', push: legacy === 'admin' || legacy === 'write', triage: p !== 'read' && p !== 'none', pull: p !== 'none' } } });
    }
    if ((k = /^\/branches\/(.+)$/.exec(rest)) && method === 'GET') {
      const name = decodeURIComponent(k[1]!);
      const sha = await headOf(repo, name);
      if (!sha) return ghError(res, 404, 'Branch not found');
      return gh(res, 200, { name, commit: { sha, url: `${standin.githubApi}/repos/${repo.fullName}/commits/${sha}` }, protected: false });
    }
    return ghError(res, 404, 'Not Found');
  }

  function ghCheckRun(repo: StandinRepo, sha: string, r: StandinCheckRun) {
    const actions = r.steps !== null;
    const page = actions ? `${standin.url}/${repo.fullName}/actions/runs/${r.id + 1}/job/${r.id}` : `${standin.url}/${repo.fullName}/runs/${r.id}`;
    return {
      id: r.id,
      head_sha: sha,
      name: r.name,
      status: r.status,
      conclusion: r.conclusion,
      html_url: page,
      details_url: actions ? page : `https://ci.example.invalid/build/${r.id}`,
      started_at: now(),
      completed_at: r.status === 'completed' ? now() : null,
      app: actions ? { id: 15368, slug: 'github-actions', name: 'GitHub Actions' } : { id: 77, slug: 'external-ci', name: 'External CI' },
      output: { title: r.summary ? r.name : null, summary: r.summary, text: null, annotations_count: 0 },
      check_suite: { id: r.id + 2 },
    };
  }

  async function appApi(req: IncomingMessage, res: ServerResponse, url: URL, path: string, method: string): Promise<true> {
    const live = standin.app.installations.filter((i) => !i.deleted);
    const inst = (i: { id: number; account: string }) => ({
      id: i.id,
      account: { login: i.account, id: i.id * 3, type: 'Organization' },
      app_id: Number(standin.app.id),
      target_type: 'Organization',
      permissions: { pull_requests: 'write', issues: 'write', checks: 'read', contents: 'write', actions: 'read' },
      access_tokens_url: `${standin.githubApi}/app/installations/${i.id}/access_tokens`,
    });
    if (path === '/app' && method === 'GET') return gh(res, 200, { id: Number(standin.app.id), slug: 'caic', name: 'caic' });
    if (path === '/app/installations' && method === 'GET') {
      const page = ghPage(url, live);
      return gh(res, 200, page.items.map(inst), page.headers);
    }
    let k: RegExpExecArray | null;
    if ((k = /^\/(?:repos\/([^/]+)\/[^/]+|orgs\/([^/]+)|users\/([^/]+))\/installation$/.exec(path)) && method === 'GET') {
      const owner = (k[1] ?? k[2] ?? k[3]!).toLowerCase();
      const i = live.find((x) => x.account.toLowerCase() === owner);
      return i ? gh(res, 200, inst(i)) : ghError(res, 404, 'Not Found');
    }
    if ((k = /^\/app\/installations\/(\d+)(\/access_tokens)?$/.exec(path))) {
      const i = live.find((x) => x.id === Number(k![1]));
      if (!i) return ghError(res, 404, 'Not Found');
      if (k[2] && method === 'POST') {
        await readBody(req);
        const token = `ghs_${randomBytes(18).toString('hex')}`;
        const expires = Date.now() + standin.app.tokenTtlSec * 1000;
        installTokens.set(token, { installation: i.id, expires });
        standin.app.mints++;
        return gh(res, 201, { token, expires_at: new Date(expires).toISOString().replace(/\.\d+Z$/, 'Z'), permissions: inst(i).permissions, repository_selection: 'all' });
      }
      if (!k[2] && method === 'DELETE') {
        i.deleted = true;
        setStatus(204);
        res.writeHead(204, rateHeaders());
        res.end();
        return true;
      }
      if (!k[2] && method === 'GET') return gh(res, 200, inst(i));
    }
    return ghError(res, 404, 'Not Found');
  }

  async function squash(repo: StandinRepo, base: string, headSha: string, message: string): Promise<string> {
    const baseSha = await headOf(repo, base);
    const tree = await git(repo.path, ['rev-parse', `${headSha}^{tree}`]);
    const sha = await git(repo.path, ['commit-tree', tree, '-p', baseSha, '-m', message]);
    await git(repo.path, ['update-ref', `refs/heads/${base}`, sha, baseSha]);
    for (const l of pushListeners) l({ repo: repo.fullName, ref: `refs/heads/${base}`, before: baseSha, after: sha });
    return sha;
  }

  // ---------- GitLab v4 ----------

  function glPage<T>(url: URL, items: T[]): { items: T[]; headers: Record<string, string> } {
    const per = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page')) || 20));
    const page = Math.max(1, Number(url.searchParams.get('page')) || 1);
    const pages = Math.max(1, Math.ceil(items.length / per));
    const link = (p: number, rel: string) => {
      const u = new URL(url.toString().replace(/^http:\/\/[^/]+/, standin.url));
      u.searchParams.set('page', String(p));
      u.searchParams.set('per_page', String(per));
      return `<${u.toString()}>; rel="${rel}"`;
    };
    const links = [link(1, 'first'), link(pages, 'last')];
    if (page < pages) links.unshift(link(page + 1, 'next'));
    if (page > 1) links.unshift(link(page - 1, 'prev'));
    return {
      items: items.slice((page - 1) * per, page * per),
      headers: {
        'x-total': String(items.length),
        'x-total-pages': String(pages),
        'x-per-page': String(per),
        'x-page': String(page),
        'x-next-page': page < pages ? String(page + 1) : '',
        'x-prev-page': page > 1 ? String(page - 1) : '',
        link: links.join(', '),
      },
    };
  }
  function gl(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
    setStatus(status);
    json(res, status, body, headers);
    return true;
  }
  const glUser = (username: string) => ({ id: userId(username), username, name: username, state: 'active', web_url: `${standin.url}/${username}` });
  function userId(username: string): number {
    let h = 7;
    for (const c of username.toLowerCase()) h = (h * 31 + c.charCodeAt(0)) % 1_000_000;
    return h + 1;
  }
  const GL_STATUS: Record<string, string> = { open: 'opened', closed: 'closed' };

  async function glMr(repo: StandinRepo, p: StandinPull) {
    const sha = p.frozenHead ?? (await headOf(repo, p.head));
    return {
      id: p.number * 1009,
      iid: p.number,
      project_id: repo.id,
      title: p.title,
      description: p.body,
      state: p.merged ? 'merged' : GL_STATUS[p.state],
      source_branch: p.head,
      target_branch: p.base,
      source_project_id: repo.id,
      target_project_id: repo.id,
      sha,
      merge_commit_sha: p.merged ? null : null,
      squash_commit_sha: p.mergeCommit,
      web_url: `${standin.url}/${repo.fullName}/-/merge_requests/${p.number}`,
      author: glUser(p.author),
      created_at: p.createdAt,
      detailed_merge_status: p.unmergeable ? 'not_approved' : 'mergeable',
    };
  }
  const glNote = (c: StandinComment) => ({ id: c.id, body: c.body, author: glUser(c.author), created_at: c.createdAt, system: false });

  async function gitlabApi(req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<true> {
    const method = req.method ?? 'GET';
    const token = tokenOf(req);
    log(req, token, 0);
    const login = who(token);
    if (login === undefined) return gl(res, 401, { message: '401 Unauthorized' });
    let k: RegExpExecArray | null;
    if (path === '/users' && method === 'GET') {
      const u = url.searchParams.get('username');
      return gl(res, 200, u ? [glUser(u)] : []);
    }
    const m = /^\/projects\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return gl(res, 404, { message: '404 Not Found' });
    const key = decodeURIComponent(m[1]!);
    const repo = /^\d+$/.test(key) ? [...standin.repos.values()].find((r) => r.id === Number(key)) : repoOf(key);
    if (!repo || (repo.private && !login)) return gl(res, 404, { message: '404 Project Not Found' });
    const rest = m[2] ?? '';
    if (method !== 'GET' && !login) return gl(res, 401, { message: '401 Unauthorized' });
    const writer = login !== null && canWrite(repo, login);

    if (rest === '' && method === 'GET') {
      return gl(res, 200, { id: repo.id, path_with_namespace: repo.fullName, default_branch: repo.defaultBranch, web_url: `${standin.url}/${repo.fullName}`, http_url_to_repo: standin.cloneUrl(repo.fullName) });
    }
    if (rest === '/merge_requests' && method === 'GET') {
      const state = url.searchParams.get('state') ?? 'all';
      const src = url.searchParams.get('source_branch');
      const mrs = await Promise.all([...repo.pulls].sort((a, b) => b.number - a.number).map((p) => glMr(repo, p)));
      const list = mrs.filter((x) => (state === 'all' || x.state === state) && (!src || x.source_branch === src));
      const page = glPage(url, list);
      return gl(res, 200, page.items, page.headers);
    }
    if (rest === '/merge_requests' && method === 'POST') {
      if (!writer) return gl(res, 403, { message: '403 Forbidden' });
      const b = await readJson(req);
      const str = (v: unknown) => (typeof v === 'string' ? v : '');
      const head = str(b.source_branch);
      const base = str(b.target_branch);
      const title = str(b.title);
      if (!title || !head || !base) return gl(res, 400, { error: 'title, source_branch, target_branch are missing' });
      if (!(await headOf(repo, head))) return gl(res, 422, { message: ['Source branch does not exist'] });
      const open = repo.pulls.find((p) => p.state === 'open' && p.head === head && p.base === base);
      if (open) return gl(res, 409, { message: [`Another open merge request already exists for this source branch: !${open.number}`] });
      const p: StandinPull = { number: repo.nextNumber++, title, body: typeof b.description === 'string' ? b.description : '', head, base, state: 'open', merged: false, mergeCommit: null, frozenHead: null, author: login, createdAt: now(), unmergeable: null };
      repo.pulls.push(p);
      return gl(res, 201, await glMr(repo, p));
    }
    if ((k = /^\/merge_requests\/(\d+)(\/merge|\/notes)?$/.exec(rest))) {
      const p = repo.pulls.find((x) => x.number === Number(k![1]));
      if (!p) return gl(res, 404, { message: '404 Not found' });
      if (!k[2] && method === 'GET') return gl(res, 200, await glMr(repo, p));
      if (!k[2] && method === 'PUT') {
        if (!writer) return gl(res, 403, { message: '403 Forbidden' });
        const b = await readJson(req);
        if (typeof b.title === 'string') p.title = b.title;
        if (typeof b.description === 'string') p.body = b.description;
        if (b.state_event === 'close' && p.state === 'open') {
          p.frozenHead = await headOf(repo, p.head);
          p.state = 'closed';
        } else if (b.state_event === 'reopen' && p.state === 'closed' && !p.merged) {
          p.frozenHead = null;
          p.state = 'open';
        }
        return gl(res, 200, await glMr(repo, p));
      }
      if (k[2] === '/merge' && method === 'PUT') {
        if (!writer) return gl(res, 403, { message: '403 Forbidden' });
        const b = await readJson(req);
        if (p.state !== 'open') return gl(res, 405, { message: '405 Method Not Allowed' });
        if (p.unmergeable) return gl(res, 422, { message: p.unmergeable });
        const headSha = await headOf(repo, p.head);
        if (typeof b.sha === 'string' && b.sha !== headSha) return gl(res, 409, { message: 'SHA does not match HEAD of source branch' });
        const msg = typeof b.squash_commit_message === 'string' && b.squash_commit_message ? b.squash_commit_message : p.title;
        p.mergeCommit = await squash(repo, p.base, headSha, msg);
        p.merged = true;
        p.state = 'closed';
        p.frozenHead = headSha;
        return gl(res, 200, await glMr(repo, p));
      }
      if (k[2] === '/notes') {
        const list = repo.pullComments.get(p.number) ?? (repo.pullComments.set(p.number, []), repo.pullComments.get(p.number)!);
        return notes(req, res, url, method, list);
      }
    }
    if ((k = /^\/issues\/(\d+)(\/notes)?$/.exec(rest))) {
      const i = repo.issues.get(Number(k[1]));
      if (!i) return gl(res, 404, { message: '404 Not found' });
      if (!k[2] && method === 'GET') {
        return gl(res, 200, { id: i.number * 1013, iid: i.number, project_id: repo.id, title: i.title, description: i.body, state: i.state === 'open' ? 'opened' : 'closed', labels: i.labels, author: glUser(i.author), web_url: `${standin.url}/${repo.fullName}/-/issues/${i.number}`, user_notes_count: i.comments.length });
      }
      if (k[2]) return notes(req, res, url, method, i.comments);
    }
    if (rest === '/pipelines' && method === 'GET') {
      const sha = url.searchParams.get('sha');
      const ref = url.searchParams.get('ref');
      const want = sha ?? (ref ? await headOf(repo, ref) : null);
      const all = [...repo.pipelines.entries()].flatMap(([s, ps]) => ps.map((p) => ({ s, p }))).filter((x) => !want || x.s === want);
      all.sort((a, b) => b.p.id - a.p.id);
      const page = glPage(url, all);
      return gl(res, 200, page.items.map(({ s, p }) => ({ id: p.id, iid: p.id, project_id: repo.id, sha: s, status: p.status, source: 'merge_request_event', web_url: `${standin.url}/${repo.fullName}/-/pipelines/${p.id}` })), page.headers);
    }
    if ((k = /^\/pipelines\/(\d+)\/jobs$/.exec(rest)) && method === 'GET') {
      const p = [...repo.pipelines.values()].flat().find((x) => x.id === Number(k![1]));
      if (!p) return gl(res, 404, { message: '404 Not found' });
      const scopes = url.searchParams.getAll('scope[]').concat(url.searchParams.getAll('scope'));
      const jobs = p.jobs.filter((j) => scopes.length === 0 || scopes.includes(j.status));
      const page = glPage(url, jobs);
      return gl(res, 200, page.items.map((j) => ({ id: j.id, name: j.name, stage: j.stage, status: j.status, allow_failure: j.allowFailure, web_url: `${standin.url}/${repo.fullName}/-/jobs/${j.id}`, pipeline: { id: p.id } })), page.headers);
    }
    if ((k = /^\/jobs\/(\d+)\/trace$/.exec(rest)) && method === 'GET') {
      const j = [...repo.pipelines.values()].flat().flatMap((p) => p.jobs).find((x) => x.id === Number(k![1]));
      if (!j) return gl(res, 404, { message: '404 Not found' });
      setStatus(200);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(j.trace);
      return true;
    }
    if ((k = /^\/members\/all(?:\/(\d+))?$/.exec(rest)) && method === 'GET') {
      const members = [...repo.permissions.entries()].map(([u, p]) => ({ ...glUser(u), access_level: p === 'admin' ? 50 : p === 'maintain' ? 40 : p === 'write' ? 30 : p === 'triage' ? 20 : 10 }));
      if (k[1]) {
        const one = members.find((x) => x.id === Number(k![1]));
        return one ? gl(res, 200, one) : gl(res, 404, { message: '404 Not found' });
      }
      const q = url.searchParams.get('query')?.toLowerCase();
      const page = glPage(url, members.filter((x) => !q || x.username.toLowerCase().includes(q)));
      return gl(res, 200, page.items, page.headers);
    }
    if ((k = /^\/repository\/branches\/(.+)$/.exec(rest)) && method === 'GET') {
      const name = decodeURIComponent(k[1]!);
      const sha = await headOf(repo, name);
      if (!sha) return gl(res, 404, { message: '404 Branch Not Found' });
      return gl(res, 200, { name, commit: { id: sha, short_id: sha.slice(0, 8) }, default: name === repo.defaultBranch });
    }
    return gl(res, 404, { error: '404 Not Found' });

    async function notes(req: IncomingMessage, res: ServerResponse, url: URL, method: string, list: StandinComment[]): Promise<true> {
      if (method === 'GET') {
        // GitLab lists notes newest first unless asked otherwise.
        const ordered = url.searchParams.get('sort') === 'asc' ? list : [...list].reverse();
        const page = glPage(url, ordered);
        return gl(res, 200, page.items.map(glNote), page.headers);
      }
      if (method === 'POST') {
        const b = await readJson(req);
        if (typeof b.body !== 'string' || !b.body) return gl(res, 400, { error: 'body is missing' });
        const c = { id: id(), author: login!, body: b.body, createdAt: now() };
        list.push(c);
        return gl(res, 201, glNote(c));
      }
      return gl(res, 405, { message: '405 Method Not Allowed' });
    }
  }

  // ---------- routing ----------

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname.startsWith('/api/v4/')) return gitlabApi(req, res, url, url.pathname.slice('/api/v4'.length));
    if (url.pathname.startsWith('/api/v3/')) return githubApi(req, res, url, url.pathname.slice('/api/v3'.length));
    if (url.pathname.startsWith('/api/')) return githubApi(req, res, url, url.pathname.slice('/api'.length));
    const raw = /^\/_raw-logs\/(\d+)\/(\d+)$/.exec(url.pathname);
    if (raw) {
      const run = [...standin.repos.values()].find((r) => r.id === Number(raw[1]))?.checkRuns;
      const job = run && [...run.values()].flat().find((r) => r.id === Number(raw[2]));
      log(req, tokenOf(req), job?.log != null ? 200 : 404);
      if (job?.log == null) {
        res.writeHead(404, { 'content-type': 'application/xml' });
        res.end('<Error><Code>BlobNotFound</Code></Error>');
        return true;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(job.log);
      return true;
    }
    return gitHttp(req, res, url);
  }

  standin = {
    url: stub.url,
    stub,
    githubApi: `${stub.url}/api`,
    gitlabUrl: stub.url,
    root,
    repos: new Map(),
    requests: [],
    async createRepo(owner, name, opts = {}) {
      const fullName = `${owner}/${name}`;
      const path = join(root, `${fullName}.git`);
      await mkdir(path, { recursive: true });
      const defaultBranch = opts.defaultBranch ?? 'main';
      await git(path, ['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`]);
      await git(path, ['config', 'http.receivepack', 'true']);
      if (opts.from) await git(opts.from, ['push', '--quiet', path, '--all']);
      standin.repos.set(fullName.toLowerCase(), {
        fullName,
        id: id(),
        path,
        defaultBranch,
        private: opts.private ?? false,
        permissions: new Map([[owner.split('/')[0]!.toLowerCase(), 'admin']]),
        pulls: [],
        issues: new Map(),
        pullComments: new Map(),
        nextNumber: 1,
        nextIssue: opts.kind === 'gitlab' ? 1 : null,
        checkRuns: new Map(),
        statuses: new Map(),
        pipelines: new Map(),
      });
      return standin.cloneUrl(fullName);
    },
    cloneUrl: (fullName) => `${stub.url}/${fullName}.git`,
    repo(fullName) {
      const r = repoOf(fullName);
      if (!r) throw new Error(`no repository ${fullName} on the stand-in`);
      return r;
    },
    addToken(token, login) {
      tokens.set(token, login);
    },
    setPermission(fullName, login, permission) {
      const r = standin.repo(fullName);
      if (permission === 'none') r.permissions.delete(login.toLowerCase());
      else r.permissions.set(login.toLowerCase(), permission);
    },
    setCheckRuns(fullName, sha, runs) {
      const list = runs.map((r) => ({
        id: id(),
        name: r.name,
        status: r.status ?? (r.conclusion ? 'completed' : 'queued'),
        conclusion: r.conclusion ?? null,
        summary: r.summary ?? null,
        steps: r.actions?.steps ?? null,
        log: r.actions?.log ?? null,
      }));
      standin.repo(fullName).checkRuns.set(sha, list);
      return list;
    },
    setStatuses(fullName, sha, statuses) {
      standin.repo(fullName).statuses.set(sha, statuses.map((s) => ({ ...s, id: id(), createdAt: now() })));
    },
    setPipelines(fullName, sha, pipelines) {
      standin.repo(fullName).pipelines.set(
        sha,
        pipelines.map((p) => ({ id: id(), status: p.status, jobs: p.jobs.map((j) => ({ id: id(), name: j.name, stage: j.stage ?? 'test', status: j.status, trace: j.trace ?? '', allowFailure: j.allowFailure ?? false })) })),
      );
    },
    addIssue(fullName, issue) {
      const r = standin.repo(fullName);
      const number = r.nextIssue === null ? r.nextNumber++ : r.nextIssue++;
      r.issues.set(number, { number, title: issue.title, body: issue.body ?? '', author: issue.author ?? 'reporter', labels: issue.labels ?? [], state: 'open', comments: (issue.comments ?? []).map((c) => ({ id: id(), author: c.author, body: c.body, createdAt: now() })) });
      return number;
    },
    comments(fullName, number, kind) {
      const r = standin.repo(fullName);
      if (kind === 'pull') return r.pullComments.get(number) ?? [];
      if (kind === 'issue') return r.issues.get(number)?.comments ?? [];
      return r.issues.get(number)?.comments ?? r.pullComments.get(number) ?? [];
    },
    head: (fullName, branch) => headOf(standin.repo(fullName), branch),
    secondaryRateLimitOnce(retryAfterSec = 1) {
      secondaryOnce = retryAfterSec;
    },
    failNext(status, count = 1, message, only) {
      failures = { status, count, ...(message !== undefined ? { message } : {}), ...(only ? { only } : {}) };
    },
    onPush(listener) {
      pushListeners.push(listener);
    },
    app: {
      id: String(100000 + Math.floor(Math.random() * 800000)),
      privateKeyPem,
      keyFile,
      tokenTtlSec: 3600,
      mints: 0,
      installations: [],
      addInstallation(account) {
        const i = { id: id(), account, deleted: false };
        standin.app.installations.push(i);
        return i.id;
      },
    },
    async close() {
      await stub.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return standin;
}

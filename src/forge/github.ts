// GitHub and GitHub Enterprise through @octokit/rest (throttled, retried): pull requests, CI, issues, permissions.
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { CICheck, CIStatus } from '../api/index.js';
import { VERSION } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { FORGE_TIMEOUT_MS, forgeError, forgeMessage, timedFetch } from './http.js';
import { trimActionsLog } from './logs.js';
import type { CIFailure, ForgeClient, ForgeRepo, Issue, PullRequest, TokenChoice } from './types.js';
import { ForgeError } from './types.js';

const ThrottledOctokit = Octokit.plugin(throttling, retry);
export type GitHubOctokit = InstanceType<typeof ThrottledOctokit>;

/** Waits GitHub asks for that caic still honours; a longer one fails the call instead of hanging a task. */
const MAX_WAIT_S = 120;
/** Failing checks whose logs are fetched for one summary. */
const MAX_LOGS = 5;

export interface GitHubClientOptions {
  apiUrl: string;
  token: TokenChoice;
  logger?: Logger;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** An Octokit for `auth` with caic's limits: throttling waits out (secondary) rate limits, retries 5xx. */
export function makeOctokit(opts: { apiUrl: string; auth?: unknown; authStrategy?: unknown; logger?: Logger; timeoutMs?: number; fetch?: typeof fetch }): GitHubOctokit {
  const log = opts.logger;
  return new ThrottledOctokit({
    auth: opts.auth,
    authStrategy: opts.authStrategy,
    baseUrl: opts.apiUrl.replace(/\/+$/, ''),
    userAgent: `caic/${VERSION}`,
    request: { fetch: timedFetch(opts.timeoutMs ?? FORGE_TIMEOUT_MS, opts.fetch) },
    // 405 (not mergeable) and 409 (head moved) are answers, not outages: never retried.
    retry: { retries: 2, doNotRetry: [400, 401, 403, 404, 405, 409, 410, 422, 451] },
    throttle: {
      onRateLimit: (after: number, o: { method: string; url: string }, _k: unknown, count: number) => {
        log?.warn({ method: o.method, route: o.url, retryAfterS: after }, 'GitHub rate limit reached');
        return count < 1 && after <= MAX_WAIT_S;
      },
      onSecondaryRateLimit: (after: number, o: { method: string; url: string }, _k: unknown, count: number) => {
        log?.warn({ method: o.method, route: o.url, retryAfterS: after }, 'GitHub secondary rate limit: waiting');
        return count < 2 && after <= MAX_WAIT_S;
      },
    },
    // Octokit's own console output (deprecations, request logs) goes to our logger at debug.
    log: {
      debug: () => {},
      info: () => {},
      warn: (m: string) => log?.debug({ octokit: m }, 'octokit'),
      error: (m: string) => log?.debug({ octokit: m }, 'octokit'),
    },
  });
}

/** Turns whatever Octokit threw into a ForgeError that names the call, never the token. */
export function githubError(what: string, err: unknown, secrets: readonly string[]): ForgeError {
  if (err instanceof ForgeError) return err;
  const e = err as { status?: number; response?: { status?: number; data?: unknown }; name?: string; message?: string };
  if (e.response?.status) return forgeError(`GitHub ${what}`, e.response.status, forgeMessage(e.response.data), secrets);
  const timedOut = e.name === 'TimeoutError' || /aborted|timeout/i.test(e.message ?? '');
  return forgeError(`GitHub ${what}`, 0, timedOut ? 'timed out' : 'could not be reached', secrets);
}

type RestPull = { number: number; html_url: string; state: string; merged_at?: string | null; merged?: boolean; title: string; body?: string | null; head: { ref: string; sha: string }; base: { ref: string } };

function toPull(p: RestPull): PullRequest {
  return {
    number: p.number,
    url: p.html_url,
    state: p.merged || p.merged_at ? 'merged' : p.state === 'open' ? 'open' : 'closed',
    title: p.title,
    body: p.body ?? '',
    headBranch: p.head.ref,
    headSha: p.head.sha,
    baseBranch: p.base.ref,
  };
}

function runState(status: string | null | undefined, conclusion: string | null | undefined): CICheck['state'] {
  if (status !== 'completed') return 'pending';
  switch (conclusion) {
    case 'success':
      return 'success';
    case 'neutral':
    case 'stale':
      return 'neutral';
    case 'skipped':
      return 'skipped';
    case 'cancelled':
      return 'cancelled';
    default:
      // failure, timed_out, action_required, startup_failure, null on a completed run.
      return 'failure';
  }
}

function statusState(state: string): CICheck['state'] {
  return state === 'success' ? 'success' : state === 'pending' ? 'pending' : 'failure';
}

/** The combined state of a commit's checks: any failure (or cancel) fails it, any pending keeps it pending. */
export function overallState(checks: CICheck[]): CIStatus['state'] {
  if (checks.length === 0) return 'none';
  if (checks.some((c) => c.state === 'failure' || c.state === 'cancelled')) return 'failure';
  if (checks.some((c) => c.state === 'pending')) return 'pending';
  return 'success';
}

export class GitHubClient implements ForgeClient {
  readonly kind = 'github' as const;
  readonly token: TokenChoice;
  private readonly octokit: GitHubOctokit;

  constructor(opts: GitHubClientOptions) {
    this.token = opts.token;
    this.octokit = makeOctokit({ apiUrl: opts.apiUrl, auth: opts.token.token, logger: opts.logger, timeoutMs: opts.timeoutMs, fetch: opts.fetch });
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw githubError(what, err, [this.token.token]);
    }
  }

  async findPullRequest(repo: ForgeRepo, branch: string): Promise<PullRequest | null> {
    const { owner, repo: name } = repo;
    const list = await this.call('list pull requests', () => this.octokit.rest.pulls.list({ owner, repo: name, head: `${owner}:${branch}`, state: 'all', per_page: 20 }));
    const pulls = list.data.filter((p) => p.head.ref === branch);
    const pick = pulls.find((p) => p.state === 'open') ?? pulls[0];
    return pick ? toPull(pick) : null;
  }

  async getPullRequest(repo: ForgeRepo, number: number): Promise<PullRequest> {
    const r = await this.call(`get pull request #${number}`, () => this.octokit.rest.pulls.get({ owner: repo.owner, repo: repo.repo, pull_number: number }));
    return toPull(r.data);
  }

  async createPullRequest(repo: ForgeRepo, pr: { head: string; base: string; title: string; body: string }): Promise<PullRequest> {
    const r = await this.call('create pull request', () => this.octokit.rest.pulls.create({ owner: repo.owner, repo: repo.repo, head: pr.head, base: pr.base, title: pr.title, body: pr.body }));
    return toPull(r.data);
  }

  async updatePullRequest(repo: ForgeRepo, number: number, pr: { title?: string; body?: string }): Promise<PullRequest> {
    const r = await this.call(`update pull request #${number}`, () => this.octokit.rest.pulls.update({ owner: repo.owner, repo: repo.repo, pull_number: number, ...pr }));
    return toPull(r.data);
  }

  async mergePullRequest(repo: ForgeRepo, number: number, commit: { title: string; message: string }): Promise<{ merged: boolean; message: string }> {
    try {
      const r = await this.octokit.rest.pulls.merge({ owner: repo.owner, repo: repo.repo, pull_number: number, merge_method: 'squash', commit_title: commit.title, commit_message: commit.message });
      return { merged: r.data.merged, message: r.data.message };
    } catch (err) {
      const e = githubError(`merge pull request #${number}`, err, [this.token.token]);
      // 405 not mergeable, 409 head moved, 422 e.g. a required review: GitHub refused, not an outage.
      if (e.status === 405 || e.status === 409 || e.status === 422) return { merged: false, message: e.message };
      throw e;
    }
  }

  /** Latest check run per name (a re-run replaces the earlier one). */
  private async checkRuns(repo: ForgeRepo, sha: string) {
    const runs = await this.call('list check runs', () => this.octokit.paginate(this.octokit.rest.checks.listForRef, { owner: repo.owner, repo: repo.repo, ref: sha, per_page: 100 }));
    const latest = new Map<string, (typeof runs)[number]>();
    for (const r of runs) {
      const prev = latest.get(r.name);
      if (!prev || r.id > prev.id) latest.set(r.name, r);
    }
    return [...latest.values()];
  }

  private async statuses(repo: ForgeRepo, sha: string) {
    const r = await this.call('get combined status', () => this.octokit.rest.repos.getCombinedStatusForRef({ owner: repo.owner, repo: repo.repo, ref: sha, per_page: 100 }));
    return r.data.statuses;
  }

  async ciStatus(repo: ForgeRepo, sha: string): Promise<CIStatus> {
    const [runs, statuses] = await Promise.all([this.checkRuns(repo, sha), this.statuses(repo, sha)]);
    const checks: CICheck[] = [
      ...runs.map((r) => ({ name: r.name, state: runState(r.status, r.conclusion), url: r.html_url ?? r.details_url ?? '' })),
      ...statuses.map((s) => ({ name: s.context, state: statusState(s.state), url: s.target_url ?? '' })),
    ];
    return { state: overallState(checks), sha, checks, updatedAt: new Date().toISOString() };
  }

  async ciFailures(repo: ForgeRepo, sha: string): Promise<CIFailure[]> {
    const [runs, statuses] = await Promise.all([this.checkRuns(repo, sha), this.statuses(repo, sha)]);
    const failing = runs.filter((r) => {
      const s = runState(r.status, r.conclusion);
      return s === 'failure' || s === 'cancelled';
    });
    const out: CIFailure[] = [];
    let logs = 0;
    for (const r of failing) {
      let log = r.output?.summary ?? '';
      if (r.app?.slug === 'github-actions' && logs < MAX_LOGS) {
        logs++;
        log = await this.actionsLog(repo, r.id).catch(() => log);
      }
      out.push({ name: r.name, url: r.html_url ?? r.details_url ?? '', log });
    }
    for (const s of statuses) {
      if (statusState(s.state) === 'failure') out.push({ name: s.context, url: s.target_url ?? '', log: s.description ?? '' });
    }
    return out;
  }

  /** The failing step of an Actions job (its check run id is the job id). */
  private async actionsLog(repo: ForgeRepo, jobId: number): Promise<string> {
    const job = await this.call('get Actions job', () => this.octokit.rest.actions.getJobForWorkflowRun({ owner: repo.owner, repo: repo.repo, job_id: jobId }));
    const step = job.data.steps?.find((s) => s.conclusion === 'failure')?.name ?? '';
    // GitHub answers with a redirect to the log file, which fetch follows.
    const raw = await this.call('download Actions job log', () => this.octokit.rest.actions.downloadJobLogsForWorkflowRun({ owner: repo.owner, repo: repo.repo, job_id: jobId }));
    const data: unknown = raw.data;
    const text = typeof data === 'string' ? data : data instanceof ArrayBuffer ? Buffer.from(data).toString() : '';
    return trimActionsLog(text, step);
  }

  async getIssue(repo: ForgeRepo, number: number): Promise<Issue> {
    const { owner, repo: name } = repo;
    const issue = await this.call(`get issue #${number}`, () => this.octokit.rest.issues.get({ owner, repo: name, issue_number: number }));
    const comments = await this.call(`list comments of #${number}`, () => this.octokit.paginate(this.octokit.rest.issues.listComments, { owner, repo: name, issue_number: number, per_page: 100 }));
    return {
      number,
      url: issue.data.html_url,
      title: issue.data.title,
      body: issue.data.body ?? '',
      author: issue.data.user?.login ?? '',
      comments: comments.map((c) => ({ author: c.user?.login ?? '', body: c.body ?? '' })),
    };
  }

  async comment(repo: ForgeRepo, number: number, body: string): Promise<void> {
    await this.call(`comment on #${number}`, () => this.octokit.rest.issues.createComment({ owner: repo.owner, repo: repo.repo, issue_number: number, body }));
  }

  async hasWriteAccess(repo: ForgeRepo, username: string): Promise<boolean> {
    try {
      const r = await this.octokit.rest.repos.getCollaboratorPermissionLevel({ owner: repo.owner, repo: repo.repo, username });
      const role = (r.data as { role_name?: string }).role_name ?? r.data.permission;
      return ['admin', 'maintain', 'write'].includes(role) || r.data.permission === 'admin' || r.data.permission === 'write';
    } catch (err) {
      const e = githubError('get collaborator permission', err, [this.token.token]);
      // 404: no such user (or not visible to us): no access.
      if (e.status === 404) return false;
      throw e;
    }
  }

  async branchHead(repo: ForgeRepo, branch: string): Promise<string> {
    try {
      const r = await this.octokit.rest.repos.getBranch({ owner: repo.owner, repo: repo.repo, branch });
      return r.data.commit.sha;
    } catch (err) {
      const e = githubError(`get branch ${branch}`, err, [this.token.token]);
      if (e.status === 404) return '';
      throw e;
    }
  }
}

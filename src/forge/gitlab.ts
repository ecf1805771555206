// GitLab (gitlab.com and self-hosted) through @gitbeaker/rest: merge requests, pipelines and job traces, notes, members.
import { Gitlab } from '@gitbeaker/rest';
import type { CICheck, CIStatus } from '../api/index.js';
import { FORGE_TIMEOUT_MS, forgeError, forgeMessage } from './http.js';
import { overallState } from './github.js';
import { trimGitLabTrace } from './logs.js';
import type { CIFailure, ForgeClient, ForgeRepo, Issue, PullRequest, TokenChoice } from './types.js';
import { ForgeError } from './types.js';

const MAX_LOGS = 5;
/** GitLab's Developer role: may push to unprotected branches. */
const DEVELOPER = 30;

export interface GitLabClientOptions {
  /** `[gitlab] url`: the instance's web base, the API is under /api/v4. */
  url: string;
  token: TokenChoice;
  timeoutMs?: number;
}

type Api = InstanceType<typeof Gitlab<false>>;
type RestMr = { iid: number; web_url: string; state: string; title: string; description?: string | null; source_branch: string; target_branch: string; sha?: string | null };

function toPull(mr: RestMr): PullRequest {
  return {
    number: mr.iid,
    url: mr.web_url,
    state: mr.state === 'merged' ? 'merged' : mr.state === 'opened' ? 'open' : 'closed',
    title: mr.title,
    body: mr.description ?? '',
    headBranch: mr.source_branch,
    headSha: mr.sha ?? '',
    baseBranch: mr.target_branch,
  };
}

function pipelineState(status: string): CICheck['state'] {
  switch (status) {
    case 'success':
      return 'success';
    case 'failed':
      return 'failure';
    case 'canceled':
    case 'canceling':
      return 'cancelled';
    case 'skipped':
      return 'skipped';
    case 'manual':
      // Waits for a person: nothing will happen by itself.
      return 'neutral';
    default:
      return 'pending';
  }
}

export function gitlabError(what: string, err: unknown, secrets: readonly string[]): ForgeError {
  if (err instanceof ForgeError) return err;
  const e = err as { cause?: { description?: string; response?: { status?: number } }; name?: string; message?: string };
  const status = e.cause?.response?.status;
  if (status) {
    let detail = e.cause?.description ?? '';
    try {
      detail = forgeMessage(JSON.parse(detail)) || detail;
    } catch {
      // Not JSON: keep the text.
    }
    return forgeError(`GitLab ${what}`, status, detail.slice(0, 300), secrets);
  }
  const timedOut = e.name === 'TimeoutError' || /aborted|timeout/i.test(e.message ?? '');
  return forgeError(`GitLab ${what}`, 0, timedOut ? 'timed out' : 'could not be reached', secrets);
}

export class GitLabClient implements ForgeClient {
  readonly kind = 'gitlab' as const;
  readonly token: TokenChoice;
  private readonly api: Api;

  constructor(opts: GitLabClientOptions) {
    this.token = opts.token;
    // An OAuth access token from login goes as a Bearer; personal/project tokens as PRIVATE-TOKEN.
    const auth = opts.token.source === 'oauth' ? { oauthToken: opts.token.token } : { token: opts.token.token };
    this.api = new Gitlab({ host: opts.url.replace(/\/+$/, ''), ...auth, queryTimeout: opts.timeoutMs ?? FORGE_TIMEOUT_MS });
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw gitlabError(what, err, [this.token.token]);
    }
  }

  private static project(repo: ForgeRepo): string {
    return `${repo.owner}/${repo.repo}`;
  }

  async findPullRequest(repo: ForgeRepo, branch: string): Promise<PullRequest | null> {
    const list = (await this.call('list merge requests', () =>
      this.api.MergeRequests.all({ projectId: GitLabClient.project(repo), sourceBranch: branch, perPage: 20, maxPages: 1 }),
    )) as unknown as RestMr[];
    const mrs = list.filter((m) => m.source_branch === branch).sort((a, b) => b.iid - a.iid);
    const pick = mrs.find((m) => m.state === 'opened') ?? mrs[0];
    return pick ? toPull(pick) : null;
  }

  async getPullRequest(repo: ForgeRepo, number: number): Promise<PullRequest> {
    const mr = await this.call(`get merge request !${number}`, () => this.api.MergeRequests.show(GitLabClient.project(repo), number));
    return toPull(mr);
  }

  async createPullRequest(repo: ForgeRepo, pr: { head: string; base: string; title: string; body: string }): Promise<PullRequest> {
    const mr = await this.call('create merge request', () => this.api.MergeRequests.create(GitLabClient.project(repo), pr.head, pr.base, pr.title, { description: pr.body }));
    return toPull(mr);
  }

  async updatePullRequest(repo: ForgeRepo, number: number, pr: { title?: string; body?: string }): Promise<PullRequest> {
    const mr = await this.call(`update merge request !${number}`, () =>
      this.api.MergeRequests.edit(GitLabClient.project(repo), number, { ...(pr.title !== undefined ? { title: pr.title } : {}), ...(pr.body !== undefined ? { description: pr.body } : {}) }),
    );
    return toPull(mr);
  }

  async mergePullRequest(repo: ForgeRepo, number: number, commit: { title: string; message: string }): Promise<{ merged: boolean; message: string }> {
    try {
      const mr = (await this.api.MergeRequests.merge(GitLabClient.project(repo), number, {
        squash: true,
        squashCommitMessage: commit.message ? `${commit.title}\n\n${commit.message}` : commit.title,
      })) as unknown as RestMr;
      return { merged: mr.state === 'merged', message: mr.state === 'merged' ? 'Merge request merged' : `Merge request is ${mr.state}` };
    } catch (err) {
      const e = gitlabError(`merge merge request !${number}`, err, [this.token.token]);
      // 405/406 not mergeable, 409 SHA moved, 422 branch cannot be merged: refused, not an outage.
      if ([405, 406, 409, 422].includes(e.status)) return { merged: false, message: e.message };
      throw e;
    }
  }

  /** The pipelines of `sha`, newest first; their jobs when asked. */
  private async pipelines(repo: ForgeRepo, sha: string) {
    return (await this.call('list pipelines', () => this.api.Pipelines.all(GitLabClient.project(repo), { sha, perPage: 100, maxPages: 1 }))) as unknown as {
      id: number;
      status: string;
      web_url: string;
    }[];
  }

  private async jobs(repo: ForgeRepo, pipelineId: number) {
    return (await this.call('list pipeline jobs', () => this.api.Jobs.all(GitLabClient.project(repo), { pipelineId, perPage: 100, maxPages: 5 }))) as unknown as {
      id: number;
      name: string;
      status: string;
      web_url: string;
      allow_failure?: boolean;
    }[];
  }

  async ciStatus(repo: ForgeRepo, sha: string): Promise<CIStatus> {
    const pipelines = (await this.pipelines(repo, sha)).sort((a, b) => b.id - a.id);
    const latest = pipelines[0];
    const checks: CICheck[] = [];
    if (latest) {
      const jobs = await this.jobs(repo, latest.id);
      // A job allowed to fail does not fail the pipeline.
      for (const j of jobs) checks.push({ name: j.name, state: j.allow_failure && j.status === 'failed' ? 'neutral' : pipelineState(j.status), url: j.web_url });
      if (jobs.length === 0) checks.push({ name: `pipeline #${latest.id}`, state: pipelineState(latest.status), url: latest.web_url });
    }
    const state = latest && pipelineState(latest.status) === 'failure' ? 'failure' : overallState(checks);
    return { state, sha, checks, updatedAt: new Date().toISOString() };
  }

  async ciFailures(repo: ForgeRepo, sha: string): Promise<CIFailure[]> {
    const latest = (await this.pipelines(repo, sha)).sort((a, b) => b.id - a.id)[0];
    if (!latest) return [];
    const failed = (await this.jobs(repo, latest.id)).filter((j) => j.status === 'failed' && !j.allow_failure);
    const out: CIFailure[] = [];
    for (const [i, j] of failed.entries()) {
      let log = '';
      if (i < MAX_LOGS) {
        const trace = await this.call('get job trace', () => this.api.Jobs.showLog(GitLabClient.project(repo), j.id)).catch(() => '');
        log = trimGitLabTrace(typeof trace === 'string' ? trace : String(trace));
      }
      out.push({ name: j.name, url: j.web_url, log });
    }
    if (out.length === 0 && pipelineState(latest.status) === 'failure') out.push({ name: `pipeline #${latest.id}`, url: latest.web_url, log: '' });
    return out;
  }

  async getIssue(repo: ForgeRepo, number: number): Promise<Issue> {
    const project = GitLabClient.project(repo);
    const issue = (await this.call(`get issue #${number}`, () => this.api.Issues.show(number, { projectId: project }))) as unknown as {
      web_url: string;
      title: string;
      description?: string | null;
      author?: { username?: string };
    };
    const notes = (await this.call(`list notes of #${number}`, () => this.api.IssueNotes.all(project, number, { perPage: 100, maxPages: 10 }))) as unknown as {
      body: string;
      system?: boolean;
      author?: { username?: string };
    }[];
    return {
      number,
      url: issue.web_url,
      title: issue.title,
      body: issue.description ?? '',
      author: issue.author?.username ?? '',
      // GitLab lists newest first and mixes in system notes ("changed the description").
      comments: notes
        .filter((n) => !n.system)
        .reverse()
        .map((n) => ({ author: n.author?.username ?? '', body: n.body })),
    };
  }

  async comment(repo: ForgeRepo, number: number, body: string, on?: 'issue' | 'pull'): Promise<void> {
    const project = GitLabClient.project(repo);
    let target = on;
    if (!target) {
      try {
        await this.api.MergeRequests.show(project, number);
        target = 'pull';
      } catch (err) {
        const e = gitlabError(`get merge request !${number}`, err, [this.token.token]);
        if (e.status !== 404) throw e;
        target = 'issue';
      }
    }
    if (target === 'pull') await this.call(`comment on merge request !${number}`, () => this.api.MergeRequestNotes.create(project, number, body));
    else await this.call(`comment on issue #${number}`, () => this.api.IssueNotes.create(project, number, body));
  }

  async hasWriteAccess(repo: ForgeRepo, username: string): Promise<boolean> {
    const users = (await this.call('find user', () => this.api.Users.all({ username, perPage: 1, maxPages: 1 }))) as unknown as { id: number; username: string }[];
    const user = users.find((u) => u.username.toLowerCase() === username.toLowerCase());
    if (!user) return false;
    try {
      const m = (await this.api.ProjectMembers.show(GitLabClient.project(repo), user.id, { includeInherited: true })) as unknown as { access_level: number };
      return m.access_level >= DEVELOPER;
    } catch (err) {
      const e = gitlabError('get project member', err, [this.token.token]);
      if (e.status === 404) return false;
      throw e;
    }
  }

  async branchHead(repo: ForgeRepo, branch: string): Promise<string> {
    try {
      const b = (await this.api.Branches.show(GitLabClient.project(repo), branch)) as unknown as { commit: { id: string } };
      return b.commit.id;
    } catch (err) {
      const e = gitlabError(`get branch ${branch}`, err, [this.token.token]);
      if (e.status === 404) return '';
      throw e;
    }
  }
}

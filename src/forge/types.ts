// The forge seam: what caic asks of GitHub and GitLab, and what webhooks tell the rest of caic.
import type { CIStatus, ForgeKind } from '../api/index.js';

/** A repository on a forge, as its origin URL names it. */
export interface ForgeRepo {
  kind: ForgeKind;
  /** Web base URL of the forge instance (https://github.com, a GHE host, https://gitlab.example.com). */
  baseUrl: string;
  /** GitHub owner; GitLab namespace path, groups and subgroups included ("group/sub"). */
  owner: string;
  repo: string;
}
/** The repository a webhook delivery names (no base URL: the route's forge and config give it). */
export type HookRepo = Pick<ForgeRepo, 'kind' | 'owner' | 'repo'>;
export const fullName = (r: Pick<ForgeRepo, 'owner' | 'repo'>): string => `${r.owner}/${r.repo}`;

export interface PullRequest {
  number: number;
  url: string;
  state: 'open' | 'closed' | 'merged';
  title: string;
  body: string;
  headBranch: string;
  headSha: string;
  baseBranch: string;
}

/** One failing check, with what a person (or the agent) needs to fix it. */
export interface CIFailure {
  name: string;
  url: string;
  /** The failing step's log, trimmed to its last 200 lines; empty when the forge has none. */
  log: string;
}

export interface Issue {
  number: number;
  url: string;
  title: string;
  body: string;
  author: string;
  comments: { author: string; body: string }[];
}

/** Which credential a client acts with; `masked` is what logs show (last 4 characters). */
export interface TokenChoice {
  token: string;
  source: 'oauth' | 'pat' | 'app' | 'gh' | 'glab';
  masked: string;
}

/** One forge API, authenticated with one token. Errors throw ForgeError. */
export interface ForgeClient {
  readonly kind: ForgeKind;
  readonly token: TokenChoice;
  /** The open (else the latest) pull request whose head is `branch` in the same repository. */
  findPullRequest(repo: ForgeRepo, branch: string): Promise<PullRequest | null>;
  getPullRequest(repo: ForgeRepo, number: number): Promise<PullRequest>;
  createPullRequest(repo: ForgeRepo, pr: { head: string; base: string; title: string; body: string }): Promise<PullRequest>;
  updatePullRequest(repo: ForgeRepo, number: number, pr: { title?: string; body?: string }): Promise<PullRequest>;
  /** Squash-merges; `merged: false` with the forge's reason when it refuses (not mergeable, …). */
  mergePullRequest(repo: ForgeRepo, number: number, commit: { title: string; message: string }): Promise<{ merged: boolean; message: string }>;
  /** GitHub check runs + commit statuses, GitLab pipelines (and their jobs), combined. */
  ciStatus(repo: ForgeRepo, sha: string): Promise<CIStatus>;
  /** The failing checks of `sha` with their trimmed logs (GitHub Actions jobs, GitLab jobs). */
  ciFailures(repo: ForgeRepo, sha: string): Promise<CIFailure[]>;
  getIssue(repo: ForgeRepo, number: number): Promise<Issue>;
  /**
   * Posts a comment. GitLab numbers issues and merge requests separately: pass `on` there (without
   * it a merge request of that number is taken first, else the issue). GitHub shares the numbers.
   */
  comment(repo: ForgeRepo, number: number, body: string, on?: 'issue' | 'pull'): Promise<void>;
  /** Whether `username` may push to the repository (write, maintain or admin; GitLab developer+). */
  hasWriteAccess(repo: ForgeRepo, username: string): Promise<boolean>;
  /** The head commit of `branch` on the forge; empty when the branch does not exist. */
  branchHead(repo: ForgeRepo, branch: string): Promise<string>;
}

export class ForgeError extends Error {
  constructor(
    message: string,
    /** The forge's HTTP status when it answered; 0 when it could not be reached. */
    readonly status: number,
  ) {
    super(message);
    this.name = 'ForgeError';
  }
}

/**
 * Gives the client for a repository: the token of the task's owner (OAuth login) first, then the
 * configured PAT (or GITHUB_TOKEN/GITLAB_TOKEN), then `gh auth token` / `glab auth token`. For
 * the bot (`owner` null, webhook origin) a GitHub App installation token comes before the PAT.
 * Null when no credential exists for that forge.
 */
export interface ForgeClients {
  /** The forge and owner/repo of a remote URL (https, ssh, scp-like forms); null if none matches. */
  repoOf(remoteURL: string): ForgeRepo | null;
  clientFor(repo: ForgeRepo, owner: { username: string; provider: string; accessToken: string } | null, purpose?: 'task' | 'bot'): Promise<ForgeClient | null>;
}

/**
 * What webhooks (and pollers) tell the task side of forges. The webhook module calls these after
 * verifying a delivery; the forge service implements them.
 */
export interface ForgeEvents {
  /** CI of `sha` changed (check suite/run, workflow run, status, pipeline): refresh and deliver. */
  ciChanged(repo: ForgeRepo, sha: string): void;
  /** A pull/merge request was opened, reopened or got new commits: link it to a task and (re)watch. */
  pullRequest(repo: ForgeRepo, pr: PullRequest, action: 'opened' | 'reopened' | 'synchronize' | 'closed'): void;
}

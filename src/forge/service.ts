// The task side of forges: sync as a pull/merge request, tasks started from an issue, CI watched on
// the PR head and handed back to the agent (the fix loop, merge on green), webhooks' news, and each
// repository's default-branch CI. Composed over TaskService and the forge clients.
import type { CIStatus, CreateTaskReq, SyncResp, Task as TaskDto, TaskForge } from '../api/index.js';
import type { Logger } from '../log/index.js';
import { TaskError, type Caller, type IssueRef, type RepoRegistry, type TaskForgeView, type TaskService } from '../tasks/index.js';
import { CIWatcher, isTerminal, type CIWatchOptions } from './ci-watch.js';
import { parseIssueSpec } from './issue-ref.js';
import { ciSummary, prBody } from './texts.js';
import { ForgeError, fullName, type ForgeClient, type ForgeClients, type ForgeEvents, type ForgeRepo, type PullRequest } from './types.js';

export interface ForgeServiceDeps {
  tasks: TaskService;
  repos: RepoRegistry;
  clients: ForgeClients;
  /** The signed-in user's forge identity (their OAuth token), for the task owner's client. */
  ownerIdentity: (ownerId: string) => { username: string; provider: string; accessToken: string } | null;
  /** The owner's preference settings (`autoFixOnCIFailure`, `autoMergeOnGreen`); '' is the no-login user. */
  settings: (ownerId: string) => Record<string, unknown>;
  /** `[forge] max_fix_attempts`. */
  maxFixAttempts: number;
  logger: Logger;
  watch?: CIWatchOptions;
  /** Between background refreshes of the repositories' default-branch CI (5 min). */
  repoCIMs?: number;
}

interface TaskWatch {
  sha: string;
  stop: () => void;
}

const MAX_TITLE = 256;

/** A forge failure as the API answers it: never a 500 for what a forge said. */
export function forgeFailure(err: unknown, what: string): TaskError {
  if (err instanceof TaskError) return err;
  if (err instanceof ForgeError) {
    if (err.status === 0) return new TaskError('SERVICE_UNAVAILABLE', `${what}: the forge cannot be reached (${err.message})`);
    if (err.status === 429) return new TaskError('RATE_LIMITED', `${what}: the forge's rate limit (${err.message})`);
    return new TaskError('CONFLICT', `${what}: the forge answered ${err.status} (${err.message})`, { forgeStatus: err.status });
  }
  return new TaskError('CONFLICT', `${what}: ${(err as Error).message}`);
}

export class ForgeService implements ForgeEvents {
  readonly watcher: CIWatcher;
  private readonly watches = new Map<string, TaskWatch>();
  /** Task+SHA whose final CI result was acted on: a webhook and a poll saying the same act once. */
  private readonly handled = new Set<string>();
  /** Fix loops under way (one per task). */
  private readonly fixing = new Map<string, AbortController>();
  private readonly repoCI = new Map<string, CIStatus>();
  private repoTimer: NodeJS.Timeout | null = null;
  private readonly stopping = new AbortController();
  /** Work started in the background (the fix loop, CI reactions): close waits for it. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly deps: ForgeServiceDeps) {
    this.watcher = new CIWatcher((repo, sha) => this.ciStatusOf(repo, sha), {
      onError: (repo, sha, err) => deps.logger.info({ repo: fullName(repo), sha, err: (err as Error).message }, 'CI status poll failed'),
      ...deps.watch,
    });
  }

  // ---- sync as a pull request -----------------------------------------------------------------

  /** POST /tasks/{id}/sync: pushes (the task service checks ownership), then with `pr` opens or updates the PR. */
  async sync(id: string, req: { target?: 'branch' | 'pr'; force?: boolean }, caller: Caller | null): Promise<SyncResp> {
    if (req.target === 'pr') {
      // A pull request that cannot be opened (no forge, no token) is refused before anything is
      // pushed; the caller's right to the task is checked first, so nothing is told to others.
      this.deps.tasks.get(id, caller);
      await this.target(this.view(id));
    }
    const resp = await this.deps.tasks.sync(id, req.force === true, caller);
    if (req.target !== 'pr' || resp.status === 'blocked') return resp;
    try {
      return { ...resp, forge: await this.openPullRequest(id, resp) };
    } catch (err) {
      const e = forgeFailure(err, 'opening the pull request failed');
      await this.deps.tasks.forgeLog(id, e.message);
      throw e;
    }
  }

  private async target(view: TaskForgeView): Promise<{ repo: ForgeRepo; client: ForgeClient }> {
    if (!view.repo) throw new TaskError('CONFLICT', 'this task has no repository');
    const info = this.deps.repos.get(view.repo);
    const repo = this.forgeOf(info);
    if (!repo) throw new TaskError('CONFLICT', `${view.repo}'s remote is not on GitHub or GitLab`);
    const client = await this.clientFor(view.owner, repo);
    if (!client) throw new TaskError('CONFLICT', `no ${repo.kind} token for ${fullName(repo)}: sign in with ${repo.kind}, or set [${repo.kind}] pat`);
    return { repo, client };
  }

  /** The forge repository a registry repository's remote names; null when none (or no repository). */
  private forgeOf(info: { remoteURL: string } | undefined): ForgeRepo | null {
    return info?.remoteURL ? this.deps.clients.repoOf(info.remoteURL) : null;
  }

  private async clientFor(owner: Caller | null, repo: ForgeRepo): Promise<ForgeClient | null> {
    const identity = owner ? this.deps.ownerIdentity(owner.id) : null;
    return this.deps.clients.clientFor(repo, identity);
  }

  private async openPullRequest(id: string, resp: SyncResp): Promise<TaskForge> {
    const view = this.view(id);
    const { repo, client } = await this.target(view);
    await this.deps.tasks.forgeLog(id, `${repo.kind} ${fullName(repo)}: using the ${client.token.source} token ${client.token.masked}`);
    const existing = await client.findPullRequest(repo, view.branch);
    if (resp.status === 'empty' && !existing && !(await client.branchHead(repo, view.branch))) {
      throw new TaskError('CONFLICT', `nothing to open a pull request with: ${view.branch} has no changes and was never pushed`);
    }
    const title = (view.title || view.branch).slice(0, MAX_TITLE);
    const body = prBody(view.result, resp.diffStat.length ? resp.diffStat : view.diffStat, view.issue);
    let pr: PullRequest;
    let verb: string;
    if (existing && existing.state === 'open') {
      pr = await client.updatePullRequest(repo, existing.number, { title, body });
      verb = 'updated';
    } else {
      pr = await client.createPullRequest(repo, { head: view.branch, base: view.baseBranch, title, body });
      verb = 'opened';
    }
    return this.link(id, repo, pr, `Pull request #${pr.number} ${verb}: ${pr.url}`);
  }

  /** Records the PR on the task (a card when `message`) and watches its head. */
  private async link(id: string, repo: ForgeRepo, pr: PullRequest, message: string): Promise<TaskForge> {
    const before = this.view(id).forge;
    const same = before && before.number === pr.number && before.owner === repo.owner && before.repo === repo.repo;
    const forge: TaskForge = {
      kind: repo.kind,
      owner: repo.owner,
      repo: repo.repo,
      number: pr.number,
      url: pr.url,
      state: pr.state,
      ci: this.watcher.cached(repo, pr.headSha) ?? (same && before.ci?.sha === pr.headSha ? before.ci : null),
      fixAttempts: same ? before.fixAttempts : 0,
    };
    await this.deps.tasks.recordForge(id, { forge, card: 'pr', message });
    if (pr.state === 'open' && pr.headSha) this.watchTask(id, repo, pr.headSha);
    else this.unwatchTask(id);
    return forge;
  }

  private view(id: string): TaskForgeView {
    const v = this.deps.tasks.forgeView(id);
    if (!v) throw new TaskError('NOT_FOUND', `no task ${id}`);
    return v;
  }

  // ---- start from an issue --------------------------------------------------------------------

  /** POST /tasks: with `issue`, its title, body and comments become the prompt (the request's text after them). */
  async create(req: CreateTaskReq, caller: Caller | null): Promise<TaskDto> {
    if (!req.issue) return this.deps.tasks.create(req, caller);
    const spec = parseIssueSpec(req.issue);
    if (typeof spec === 'string') throw new TaskError('BAD_REQUEST', `issue: ${spec}`);
    const repoName = req.repos[0]?.name ?? this.repoFor(spec);
    const info = this.deps.repos.get(repoName);
    const repo = this.forgeOf(info);
    if (!repo) throw new TaskError('BAD_REQUEST', `issue: ${repoName}'s remote is not on GitHub or GitLab`);
    if (spec.owner && (spec.owner.toLowerCase() !== repo.owner.toLowerCase() || spec.repo.toLowerCase() !== repo.repo.toLowerCase())) {
      throw new TaskError('BAD_REQUEST', `issue: ${spec.owner}/${spec.repo} is not ${repoName}'s repository (${fullName(repo)})`);
    }
    if (spec.host && spec.host !== new URL(repo.baseUrl).host.toLowerCase()) throw new TaskError('BAD_REQUEST', `issue: ${spec.host} is not ${repoName}'s forge`);
    const client = await this.clientFor(caller, repo);
    if (!client) throw new TaskError('BAD_REQUEST', `issue: no ${repo.kind} token to read ${fullName(repo)}#${spec.number}`);
    let issue;
    try {
      issue = await client.getIssue(repo, spec.number);
    } catch (err) {
      if (err instanceof ForgeError && err.status === 404) throw new TaskError('NOT_FOUND', `issue ${fullName(repo)}#${spec.number} does not exist (or the token cannot read it)`);
      throw forgeFailure(err, `reading issue ${fullName(repo)}#${spec.number} failed`);
    }
    const parts = [`Fix the following ${repo.kind === 'gitlab' ? 'GitLab' : 'GitHub'} issue: ${fullName(repo)}#${issue.number} ${issue.url}`, '', `# ${issue.title}`, '', issue.body.trim()];
    for (const c of issue.comments) parts.push('', `## Comment by ${c.author}`, '', c.body.trim());
    if (req.prompt.text.trim()) parts.push('', '---', '', req.prompt.text.trim());
    const text = parts.join('\n').slice(0, 200_000);
    const ref: IssueRef = { kind: repo.kind, owner: repo.owner, repo: repo.repo, number: issue.number, url: issue.url };
    return this.deps.tasks.create({ ...req, repos: req.repos.length ? req.repos : [{ name: repoName }], prompt: { ...req.prompt, text } }, caller, { issue: ref });
  }

  /** The registry repository of an "owner/repo#N" given without a repository. */
  private repoFor(spec: { owner: string; repo: string }): string {
    if (!spec.owner) throw new TaskError('BAD_REQUEST', 'issue: "#N" needs a repository in repos');
    const want = `${spec.owner}/${spec.repo}`.toLowerCase();
    const hit = this.deps.repos.list().find((r) => {
      const fr = this.forgeOf(r);
      return fr && fullName(fr).toLowerCase() === want;
    });
    if (!hit) throw new TaskError('BAD_REQUEST', `issue: no repository here has ${spec.owner}/${spec.repo} as its remote`);
    return hit.name;
  }

  // ---- CI -------------------------------------------------------------------------------------

  private async ciStatusOf(repo: ForgeRepo, sha: string): Promise<CIStatus> {
    const client = await this.deps.clients.clientFor(repo, null);
    if (!client) throw new Error(`no ${repo.kind} token for ${fullName(repo)}`);
    return client.ciStatus(repo, sha);
  }

  private watchTask(id: string, repo: ForgeRepo, sha: string): void {
    const w = this.watches.get(id);
    if (w?.sha === sha) return;
    w?.stop();
    const stop = this.watcher.watch(repo, sha, (status) => this.track(this.onStatus(id, repo, sha, status)));
    this.watches.set(id, { sha, stop });
  }

  private unwatchTask(id: string): void {
    this.watches.get(id)?.stop();
    this.watches.delete(id);
  }

  private track<T>(p: Promise<T>): void {
    const q = p.catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'forge work failed')).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  private async onStatus(id: string, repo: ForgeRepo, sha: string, status: CIStatus): Promise<void> {
    const view = this.deps.tasks.forgeView(id);
    if (!view?.forge || this.watches.get(id)?.sha !== sha) return;
    const forge: TaskForge = { ...view.forge, ci: status };
    const terminal = isTerminal(status);
    const key = `${id}@${sha}`;
    const first = terminal && !this.handled.has(key) && !(isTerminal(view.forge.ci) && view.forge.ci?.sha === sha);
    if (!terminal || !first) {
      await this.deps.tasks.recordForge(id, { forge });
      return;
    }
    this.handled.add(key);
    if (status.state === 'failure') await this.failed(id, repo, sha, forge, view);
    else await this.passed(id, repo, forge, view);
  }

  private async failed(id: string, repo: ForgeRepo, sha: string, forge: TaskForge, view: TaskForgeView): Promise<void> {
    const client = await this.clientFor(view.owner, repo);
    const failures = client ? await client.ciFailures(repo, sha).catch(() => []) : [];
    const settings = this.deps.settings(view.owner?.id ?? '');
    const autoFix = settings.autoFixOnCIFailure === true;
    const canFix = autoFix && forge.fixAttempts < this.deps.maxFixAttempts;
    const summary = ciSummary(forge, sha, failures, canFix);
    await this.deps.tasks.recordForge(id, { forge, card: 'ci', message: summary });
    const told = await this.deps.tasks.tellAgent(id, summary);
    if (!autoFix) return;
    if (!canFix) {
      await this.deps.tasks.forgeLog(id, `CI still fails after ${forge.fixAttempts} fix attempts (at most ${this.deps.maxFixAttempts}); the fix loop stops here`);
      return;
    }
    if (!told) {
      await this.deps.tasks.forgeLog(id, 'CI failed, but the agent cannot take input now (no running session); the fix loop does not run');
      return;
    }
    await this.fixLoop(id, { ...forge, fixAttempts: forge.fixAttempts + 1 });
  }

  /** The agent has the failure; when its turn ends its fix is pushed and the new head watched. */
  private async fixLoop(id: string, forge: TaskForge): Promise<void> {
    this.fixing.get(id)?.abort();
    const ctl = new AbortController();
    this.fixing.set(id, ctl);
    const signal = AbortSignal.any([ctl.signal, this.stopping.signal]);
    try {
      await this.deps.tasks.recordForge(id, { forge });
      await this.deps.tasks.forgeLog(id, `CI fix attempt ${forge.fixAttempts} of ${this.deps.maxFixAttempts}: the agent has the failure; its fix is pushed when its turn ends`);
      const state = await this.deps.tasks.waitTurnEnd(id, signal);
      if (state !== 'waiting') {
        await this.deps.tasks.forgeLog(id, `CI fix attempt ${forge.fixAttempts}: the agent's turn ended in ${state}; nothing pushed`);
        return;
      }
      const view = this.view(id);
      const resp = await this.deps.tasks.sync(id, false, view.owner);
      if (resp.status !== 'synced') {
        await this.deps.tasks.forgeLog(id, `CI fix attempt ${forge.fixAttempts}: ${resp.status === 'blocked' ? 'the safety scan blocked the push' : 'the agent changed nothing'}; the fix loop stops`);
        return;
      }
      await this.deps.tasks.forgeLog(id, `CI fix attempt ${forge.fixAttempts}: pushed ${view.branch}`);
      await this.openPullRequest(id, resp);
    } catch (err) {
      if (signal.aborted) return;
      await this.deps.tasks.forgeLog(id, `CI fix attempt ${forge.fixAttempts} failed: ${forgeFailure(err, 'push').message}`);
    } finally {
      if (this.fixing.get(id) === ctl) this.fixing.delete(id);
    }
  }

  private async passed(id: string, repo: ForgeRepo, forge: TaskForge, view: TaskForgeView): Promise<void> {
    await this.deps.tasks.recordForge(id, { forge, card: 'ci', message: `CI passed on ${forge.ci?.sha.slice(0, 10) ?? ''} for pull request #${forge.number}.` });
    const settings = this.deps.settings(view.owner?.id ?? '');
    let news = `CI passed on pull request #${forge.number} (${forge.url}).`;
    if (settings.autoMergeOnGreen === true) {
      let message: string;
      try {
        const client = await this.clientFor(view.owner, repo);
        if (!client) throw new Error(`no ${repo.kind} token`);
        const r = await client.mergePullRequest(repo, forge.number, { title: (view.title || view.branch).slice(0, MAX_TITLE), message: view.result.slice(0, 10_000) });
        message = r.merged ? `Pull request #${forge.number} squash-merged.` : `Pull request #${forge.number} was not merged: ${r.message}`;
        if (r.merged) {
          this.unwatchTask(id);
          await this.deps.tasks.recordForge(id, { forge: { ...forge, state: 'merged' }, card: 'merge', message });
        } else await this.deps.tasks.recordForge(id, { forge, card: 'merge', message });
      } catch (err) {
        message = `Merging pull request #${forge.number} failed: ${forgeFailure(err, 'merge').message}`;
        await this.deps.tasks.recordForge(id, { forge, card: 'merge', message });
      }
      news += ` ${message}`;
    }
    await this.deps.tasks.tellAgent(id, news);
  }

  // ---- webhooks' news (ForgeEvents) -----------------------------------------------------------

  ciChanged(repo: ForgeRepo, sha: string): void {
    this.track(this.watcher.refresh(repo, sha));
    for (const [name, ci] of this.repoCI) if (ci.sha === sha) this.track(this.refreshRepo(name, true));
  }

  pullRequest(repo: ForgeRepo, pr: PullRequest, action: 'opened' | 'reopened' | 'synchronize' | 'closed'): void {
    const task = this.taskOfBranch(repo, pr.headBranch);
    if (!task) return;
    const linked = task.forge?.number === pr.number && task.forge.owner === repo.owner && task.forge.repo === repo.repo;
    const message = action === 'closed' ? `Pull request #${pr.number} ${pr.state === 'merged' ? 'merged' : 'closed'}` : linked ? `Pull request #${pr.number} ${action === 'synchronize' ? 'has new commits' : action}` : `Pull request #${pr.number} linked: ${pr.url}`;
    this.track(this.link(task.id, repo, pr, message));
  }

  /** The newest task on `branch` of a repository whose remote is `repo`. */
  private taskOfBranch(repo: ForgeRepo, branch: string): TaskForgeView | null {
    const names = new Set(
      this.deps.repos
        .list()
        .filter((r) => {
          const fr = this.forgeOf(r);
          return fr && fr.kind === repo.kind && fullName(fr).toLowerCase() === fullName(repo).toLowerCase();
        })
        .map((r) => r.name),
    );
    const hits = this.deps.tasks.forgeViews().filter((v) => v.branch === branch && names.has(v.repo) && v.state !== 'failed');
    return hits.sort((a, b) => (a.id < b.id ? 1 : -1))[0] ?? null;
  }

  // ---- restart, repositories, shutdown --------------------------------------------------------

  /** After the task list is loaded: watch again the open pull requests whose CI was not final. */
  resume(): void {
    for (const v of this.deps.tasks.forgeViews()) {
      const f = v.forge;
      if (!f || f.state !== 'open' || isTerminal(f.ci)) continue;
      const info = this.deps.repos.list().find((r) => r.name === v.repo);
      const repo = this.forgeOf(info);
      if (!repo) continue;
      if (f.ci?.sha) this.watchTask(v.id, repo, f.ci.sha);
      // Opened just before the daemon stopped, before its CI was first read: the head commit is
      // the pull request's, asked of the forge.
      else this.track(this.watchHead(v.id, v.owner, repo, f.number));
    }
    this.startRepoCI();
  }

  private async watchHead(id: string, owner: Caller | null, repo: ForgeRepo, number: number): Promise<void> {
    const client = await this.clientFor(owner, repo);
    if (!client) return;
    const pr = await client.getPullRequest(repo, number);
    if (pr.state === 'open' && pr.headSha) this.watchTask(id, repo, pr.headSha);
  }

  /** A repository's default-branch CI as last learned in the background (no forge call). */
  repoStatus(name: string): CIStatus | null {
    return this.repoCI.get(name) ?? null;
  }

  /**
   * Every repository's default-branch CI, every 5 min: one repository after the other (a start
   * with many repositories is not a burst of forge calls), and a head whose CI was already final
   * costs one read (the branch head), not three.
   */
  private startRepoCI(): void {
    let running = false;
    const run = () => {
      if (running) return;
      running = true;
      this.track(
        (async () => {
          for (const r of this.deps.repos.list()) {
            if (this.stopping.signal.aborted) return;
            await this.refreshRepo(r.name, false).catch((err: unknown) => this.deps.logger.debug({ repo: r.name, err: (err as Error).message }, 'default-branch CI refresh failed'));
          }
        })().finally(() => (running = false)),
      );
    };
    run();
    this.repoTimer = setInterval(run, this.deps.repoCIMs ?? 5 * 60_000);
    this.repoTimer.unref();
  }

  /** `news`: a webhook said this commit's CI changed, so a final status is read again (a re-run). */
  private async refreshRepo(name: string, news: boolean): Promise<void> {
    const info = this.deps.repos.list().find((r) => r.name === name);
    const repo = this.forgeOf(info);
    if (!info || !repo) return;
    const client = await this.deps.clients.clientFor(repo, null);
    if (!client) return;
    const sha = await client.branchHead(repo, info.baseBranch);
    if (!sha) return;
    const known = this.repoCI.get(name);
    if (!news && known?.sha === sha && isTerminal(known)) return;
    this.repoCI.set(name, await client.ciStatus(repo, sha));
  }

  async close(): Promise<void> {
    this.stopping.abort();
    if (this.repoTimer) clearInterval(this.repoTimer);
    this.watcher.close();
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    await Promise.allSettled([...this.pending]);
  }
}

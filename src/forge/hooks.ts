// What a verified webhook delivery means to caic (one shape for GitHub and GitLab), and where each kind goes.
import type { Logger } from '../log/index.js';
import type { ManagedRepos } from './managed.js';
import { fullName, type ForgeEvents, type ForgeRepo, type HookRepo, type PullRequest } from './types.js';

/** Who caused a delivery, as the forge names them. */
export interface HookSender {
  login: string;
  /** The forge marks the account as a bot (GitHub `type: Bot`, GitLab `bot: true`). */
  isBot: boolean;
}

export type ForgeHook =
  /** An issue opened with, or given, the label `caic`. */
  | { type: 'issue'; repo: HookRepo; number: number; title: string; body: string; url: string; sender: HookSender }
  /** A new comment on an issue or a pull request that mentions @caic. */
  | {
      type: 'comment';
      repo: HookRepo;
      number: number;
      onPullRequest: boolean;
      title: string;
      body: string;
      url: string;
      comment: string;
      sender: HookSender;
    }
  | { type: 'pullRequest'; repo: HookRepo; action: 'opened' | 'reopened' | 'synchronize' | 'closed'; pr: PullRequest; fromFork: boolean; sender: HookSender }
  | { type: 'ci'; repo: HookRepo; sha: string }
  /** A GitHub App installation was created on `account`. */
  | { type: 'installation'; installationId: number; account: string; sender: HookSender };

/** `@caic` as a mention: not part of a longer name (`@caic-bot`), an e-mail address or a path. */
export function mentionsCaic(text: string): boolean {
  return /(?:^|[^\w@/.-])@caic(?![\w-]|\.\w)/i.test(text);
}

/** The bot's side: tasks from issues, comments and pull requests (src/forge/bot.ts). */
export interface HookBot {
  fromIssue(repo: ForgeRepo, name: string, hook: Extract<ForgeHook, { type: 'issue' }>): Promise<void>;
  fromComment(repo: ForgeRepo, name: string, hook: Extract<ForgeHook, { type: 'comment' }>): Promise<void>;
  pullRequestOpened(repo: ForgeRepo, name: string, hook: Extract<ForgeHook, { type: 'pullRequest' }>): Promise<void>;
}

/** Removes a GitHub App installation (the App's own credentials). */
export type Uninstall = (installationId: number) => Promise<void>;

export interface HookRouterDeps {
  managed: ManagedRepos;
  /** The task side of forges (pull request links, CI); read on every delivery, so it can be wired late. */
  events: () => ForgeEvents;
  bot: HookBot;
  /** `[github.app] allowed_owners`; empty: any account may install the App. */
  allowedOwners: readonly string[];
  uninstall: Uninstall | null;
  logger: Logger;
}

/**
 * Sends each delivery where it belongs. Repositories caic does not manage are ignored: nothing
 * of theirs can be linked, watched or worked on. Deliveries that may start work (issues,
 * comments, opened pull requests) are judged by the bot, which checks who sent them.
 */
export class HookRouter {
  constructor(private readonly deps: HookRouterDeps) {}

  async handle(hook: ForgeHook): Promise<void> {
    if (hook.type === 'installation') return this.installation(hook);
    const managed = this.deps.managed.find(hook.repo);
    if (!managed) {
      this.deps.logger.info({ forge: hook.repo.kind, repo: `${hook.repo.owner}/${hook.repo.repo}`, hook: hook.type }, 'webhook ignored: repository not managed by caic');
      return;
    }
    const { repo, name } = managed;
    switch (hook.type) {
      case 'ci':
        this.deps.logger.debug({ repo: fullName(repo), sha: hook.sha }, 'webhook: CI changed');
        this.deps.events().ciChanged(repo, hook.sha);
        return;
      case 'pullRequest':
        this.deps.logger.debug({ repo: fullName(repo), pr: hook.pr.number, action: hook.action }, 'webhook: pull request');
        this.deps.events().pullRequest(repo, hook.pr, hook.action);
        if (hook.action === 'opened') await this.deps.bot.pullRequestOpened(repo, name, hook);
        return;
      case 'issue':
        return this.deps.bot.fromIssue(repo, name, hook);
      case 'comment':
        return this.deps.bot.fromComment(repo, name, hook);
    }
  }

  private async installation(hook: Extract<ForgeHook, { type: 'installation' }>): Promise<void> {
    const { allowedOwners, uninstall, logger } = this.deps;
    if (allowedOwners.length === 0 || allowedOwners.some((o) => o.toLowerCase() === hook.account.toLowerCase())) {
      logger.info({ account: hook.account, installation: hook.installationId }, 'GitHub App installed');
      return;
    }
    if (!uninstall) {
      logger.warn({ account: hook.account, installation: hook.installationId }, 'GitHub App installed by an account not in allowed_owners, and caic has no App credentials to remove it');
      return;
    }
    logger.warn({ account: hook.account, installation: hook.installationId }, 'GitHub App installed by an account not in allowed_owners; removing the installation');
    await uninstall(hook.installationId);
  }
}

/** ForgeEvents that do nothing: what the webhooks call while no forge service is wired. */
export const NO_FORGE_EVENTS: ForgeEvents = { ciChanged: () => {}, pullRequest: () => {} };

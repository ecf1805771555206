// POST /webhooks/github: the signature checked over the raw bytes first, replays ignored, each event turned into a ForgeHook.
import { Webhooks } from '@octokit/webhooks';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ForgeHook, HookSender } from '../../forge/index.js';
import { mentionsCaic } from '../../forge/index.js';
import type { PullRequest } from '../../forge/index.js';
import { sendError } from '../errors.js';
import { registerWebhookRoute, type WebhookDeps } from './route.js';

/** GitHub caps a delivery at 25 MB; anything larger is not from GitHub. */
export const GITHUB_BODY_LIMIT = 25 * 1024 * 1024;
export const CAIC_LABEL = 'caic';

const Sender = z.object({ login: z.string(), type: z.string().optional() });
const Repository = z.object({ name: z.string(), owner: z.object({ login: z.string() }) });
const Sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/);
const Label = z.object({ name: z.string() });
const IssueObject = z.object({
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string().nullish(),
  html_url: z.string(),
  labels: z.array(Label).optional(),
  pull_request: z.unknown().optional(),
});
const IssuesEvent = z.object({ action: z.string(), issue: IssueObject, label: Label.optional(), repository: Repository, sender: Sender });
const CommentEvent = z.object({
  action: z.string(),
  issue: IssueObject,
  comment: z.object({ body: z.string(), html_url: z.string(), user: Sender.nullish() }),
  repository: Repository,
  sender: Sender,
});
const PullRequestEvent = z.object({
  action: z.string(),
  pull_request: z.object({
    number: z.number().int().positive(),
    html_url: z.string(),
    state: z.string(),
    merged: z.boolean().nullish(),
    title: z.string(),
    body: z.string().nullish(),
    head: z.object({ ref: z.string(), sha: Sha, repo: z.object({ full_name: z.string() }).nullish() }),
    base: z.object({ ref: z.string(), repo: z.object({ full_name: z.string() }) }),
  }),
  repository: Repository,
  sender: Sender,
});
const CheckSuiteEvent = z.object({ action: z.string(), check_suite: z.object({ head_sha: Sha }), repository: Repository });
const CheckRunEvent = z.object({ action: z.string(), check_run: z.object({ head_sha: Sha }), repository: Repository });
const WorkflowRunEvent = z.object({ action: z.string(), workflow_run: z.object({ head_sha: Sha }), repository: Repository });
const StatusEvent = z.object({ sha: Sha, state: z.string(), repository: Repository });
const InstallationEvent = z.object({ action: z.string(), installation: z.object({ id: z.number().int(), account: z.object({ login: z.string() }) }), sender: Sender });

const sender = (s: z.infer<typeof Sender>): HookSender => ({ login: s.login, isBot: s.type === 'Bot' });
const repoOf = (r: z.infer<typeof Repository>) => ({ kind: 'github' as const, owner: r.owner.login, repo: r.name });

/** Thrown for a signed payload whose fields are not what its event promises. */
export class PayloadError extends Error {}

function parse<T>(schema: z.ZodType<T>, payload: unknown, event: string): T {
  const r = schema.safeParse(payload);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new PayloadError(`not a valid ${event} event: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

/**
 * What a GitHub delivery means for caic; null when nothing (an action or event caic does not act
 * on). Pure: the route calls it once the signature holds and the body is JSON.
 */
export function githubHook(event: string, payload: unknown): ForgeHook | null {
  switch (event) {
    case 'issues': {
      const p = parse(IssuesEvent, payload, event);
      const labelled =
        (p.action === 'opened' && (p.issue.labels ?? []).some((l) => l.name === CAIC_LABEL)) || (p.action === 'labeled' && p.label?.name === CAIC_LABEL);
      if (!labelled || p.issue.pull_request !== undefined) return null;
      return { type: 'issue', repo: repoOf(p.repository), number: p.issue.number, title: p.issue.title, body: p.issue.body ?? '', url: p.issue.html_url, sender: sender(p.sender) };
    }
    case 'issue_comment': {
      const p = parse(CommentEvent, payload, event);
      if (p.action !== 'created' || !mentionsCaic(p.comment.body)) return null;
      return {
        type: 'comment',
        repo: repoOf(p.repository),
        number: p.issue.number,
        onPullRequest: p.issue.pull_request !== undefined && p.issue.pull_request !== null,
        title: p.issue.title,
        body: p.issue.body ?? '',
        url: p.comment.html_url,
        comment: p.comment.body,
        sender: sender(p.sender),
      };
    }
    case 'pull_request': {
      const p = parse(PullRequestEvent, payload, event);
      const action = p.action;
      if (action !== 'opened' && action !== 'reopened' && action !== 'synchronize' && action !== 'closed') return null;
      const pr = p.pull_request;
      const state: PullRequest['state'] = pr.merged ? 'merged' : pr.state === 'open' ? 'open' : 'closed';
      return {
        type: 'pullRequest',
        repo: repoOf(p.repository),
        action,
        pr: { number: pr.number, url: pr.html_url, state, title: pr.title, body: pr.body ?? '', headBranch: pr.head.ref, headSha: pr.head.sha, baseBranch: pr.base.ref },
        fromFork: (pr.head.repo?.full_name ?? '').toLowerCase() !== pr.base.repo.full_name.toLowerCase(),
        sender: sender(p.sender),
      };
    }
    case 'check_suite': {
      const p = parse(CheckSuiteEvent, payload, event);
      return p.action === 'completed' ? { type: 'ci', repo: repoOf(p.repository), sha: p.check_suite.head_sha } : null;
    }
    case 'check_run': {
      const p = parse(CheckRunEvent, payload, event);
      return p.action === 'completed' ? { type: 'ci', repo: repoOf(p.repository), sha: p.check_run.head_sha } : null;
    }
    case 'workflow_run': {
      const p = parse(WorkflowRunEvent, payload, event);
      return p.action === 'completed' ? { type: 'ci', repo: repoOf(p.repository), sha: p.workflow_run.head_sha } : null;
    }
    case 'status': {
      const p = parse(StatusEvent, payload, event);
      return p.state === 'pending' ? null : { type: 'ci', repo: repoOf(p.repository), sha: p.sha };
    }
    case 'installation': {
      const p = parse(InstallationEvent, payload, event);
      return p.action === 'created' ? { type: 'installation', installationId: p.installation.id, account: p.installation.account.login, sender: sender(p.sender) } : null;
    }
    default:
      return null;
  }
}

/** Events this route reads; any other is acknowledged with 204 and nothing more. */
export const GITHUB_EVENTS = new Set(['issues', 'issue_comment', 'pull_request', 'check_suite', 'check_run', 'workflow_run', 'status', 'installation', 'ping']);

/** Registers POST /webhooks/github (only when `[github.app] webhook_secret` is set). */
export function githubWebhookRoute(app: FastifyInstance, secret: string, deps: WebhookDeps): void {
  const webhooks = new Webhooks({ secret });
  registerWebhookRoute(app, {
    path: '/webhooks/github',
    forge: 'github',
    bodyLimit: GITHUB_BODY_LIMIT,
    deps,
    // Before anything reads the body as JSON: the signature over the exact bytes received.
    authenticate: async (req, reply, raw) => {
      const signature = req.headers['x-hub-signature-256'];
      if (typeof signature !== 'string' || signature === '') {
        sendError(reply, 'UNAUTHORIZED', 'missing X-Hub-Signature-256');
        return null;
      }
      const text = utf8(raw);
      const ok = text !== null && text !== '' && (await webhooks.verify(text, signature).catch(() => false));
      if (!ok) {
        sendError(reply, 'UNAUTHORIZED', 'X-Hub-Signature-256 does not match the body');
        return null;
      }
      return text;
    },
    event: (req) => header(req.headers['x-github-event']),
    delivery: (req) => req.headers['x-github-delivery'],
    known: (event) => GITHUB_EVENTS.has(event),
    toHook: githubHook,
  });
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** The body as text; null when it is not UTF-8 (then it cannot match a signature GitHub computed over JSON). */
function utf8(raw: Buffer): string | null {
  try {
    return decoder.decode(raw);
  } catch {
    return null;
  }
}

export function header(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

// POST /webhooks/gitlab: X-Gitlab-Token compared in constant time, replays ignored, pipeline/note/issue/merge request hooks turned into ForgeHooks.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ForgeHook, HookRepo, HookSender } from '../../forge/index.js';
import { mentionsCaic } from '../../forge/index.js';
import type { PullRequest } from '../../forge/index.js';
import { sendError } from '../errors.js';
import { CAIC_LABEL, header, PayloadError } from './github.js';
import { registerWebhookRoute, type WebhookDeps } from './route.js';

export const GITLAB_BODY_LIMIT = 10 * 1024 * 1024;
/** Pipeline states after which nothing more will happen to the pipeline. */
const TERMINAL = new Set(['success', 'failed', 'canceled', 'skipped']);

const Project = z.object({ path_with_namespace: z.string().regex(/^[^/]+(\/[^/]+)+$/) });
const User = z.object({ username: z.string(), bot: z.boolean().optional() });
const Sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/);
const Label = z.object({ title: z.string() });
const PipelineHook = z.object({ object_attributes: z.object({ status: z.string(), sha: Sha }), project: Project });
const NoteHook = z.object({
  object_attributes: z.object({ note: z.string(), noteable_type: z.string(), url: z.string(), action: z.string().optional() }),
  user: User,
  project: Project,
  issue: z.object({ iid: z.number().int().positive(), title: z.string(), description: z.string().nullish(), url: z.string() }).nullish(),
  merge_request: z.object({ iid: z.number().int().positive(), title: z.string(), description: z.string().nullish(), url: z.string() }).nullish(),
});
const IssueHook = z.object({
  object_attributes: z.object({ iid: z.number().int().positive(), title: z.string(), description: z.string().nullish(), url: z.string(), action: z.string().optional() }),
  labels: z.array(Label).nullish(),
  changes: z.object({ labels: z.object({ previous: z.array(Label).nullish(), current: z.array(Label).nullish() }).nullish() }).nullish(),
  user: User,
  project: Project,
});
const MergeRequestHook = z.object({
  object_attributes: z.object({
    iid: z.number().int().positive(),
    title: z.string(),
    description: z.string().nullish(),
    url: z.string(),
    state: z.string(),
    action: z.string().optional(),
    source_branch: z.string(),
    target_branch: z.string(),
    source_project_id: z.number().int(),
    target_project_id: z.number().int(),
    last_commit: z.object({ id: Sha }),
    oldrev: z.string().optional(),
  }),
  user: User,
  project: Project,
});

function parse<T>(schema: z.ZodType<T>, payload: unknown, event: string): T {
  const r = schema.safeParse(payload);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new PayloadError(`not a valid ${event}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

function repoOf(p: z.infer<typeof Project>): HookRepo {
  const at = p.path_with_namespace.lastIndexOf('/');
  return { kind: 'gitlab', owner: p.path_with_namespace.slice(0, at), repo: p.path_with_namespace.slice(at + 1) };
}
/** GitLab's project and group access tokens act as bot users named project_<id>_bot…/group_<id>_bot…. */
const sender = (u: z.infer<typeof User>): HookSender => ({ login: u.username, isBot: u.bot === true || /^(project|group)_\d+_bot/.test(u.username) });
const hasCaic = (labels: readonly { title: string }[] | null | undefined) => (labels ?? []).some((l) => l.title === CAIC_LABEL);

/** What a GitLab delivery means for caic; null when nothing. Pure. */
export function gitlabHook(event: string, payload: unknown): ForgeHook | null {
  switch (event) {
    case 'Pipeline Hook': {
      const p = parse(PipelineHook, payload, event);
      return TERMINAL.has(p.object_attributes.status) ? { type: 'ci', repo: repoOf(p.project), sha: p.object_attributes.sha } : null;
    }
    case 'Note Hook': {
      const p = parse(NoteHook, payload, event);
      const a = p.object_attributes;
      // Older GitLab sends no action on notes (only new ones); newer says create or update.
      if ((a.action !== undefined && a.action !== 'create') || !mentionsCaic(a.note)) return null;
      const target = a.noteable_type === 'Issue' ? p.issue : a.noteable_type === 'MergeRequest' ? p.merge_request : null;
      if (!target) return null;
      return {
        type: 'comment',
        repo: repoOf(p.project),
        number: target.iid,
        onPullRequest: a.noteable_type === 'MergeRequest',
        title: target.title,
        body: target.description ?? '',
        url: a.url,
        comment: a.note,
        sender: sender(p.user),
      };
    }
    case 'Issue Hook': {
      const p = parse(IssueHook, payload, event);
      const a = p.object_attributes;
      const changed = p.changes?.labels;
      const labelled = (a.action === 'open' && hasCaic(p.labels)) || (a.action === 'update' && changed != null && hasCaic(changed.current) && !hasCaic(changed.previous));
      if (!labelled) return null;
      return { type: 'issue', repo: repoOf(p.project), number: a.iid, title: a.title, body: a.description ?? '', url: a.url, sender: sender(p.user) };
    }
    case 'Merge Request Hook': {
      const p = parse(MergeRequestHook, payload, event);
      const a = p.object_attributes;
      const action =
        a.action === 'open' ? 'opened' : a.action === 'reopen' ? 'reopened' : a.action === 'update' && a.oldrev ? 'synchronize' : a.action === 'close' || a.action === 'merge' ? 'closed' : null;
      if (!action) return null;
      const state: PullRequest['state'] = a.state === 'merged' ? 'merged' : a.state === 'opened' ? 'open' : 'closed';
      return {
        type: 'pullRequest',
        repo: repoOf(p.project),
        action,
        pr: { number: a.iid, url: a.url, state, title: a.title, body: a.description ?? '', headBranch: a.source_branch, headSha: a.last_commit.id, baseBranch: a.target_branch },
        fromFork: a.source_project_id !== a.target_project_id,
        sender: sender(p.user),
      };
    }
    default:
      return null;
  }
}

export const GITLAB_EVENTS = new Set(['Pipeline Hook', 'Note Hook', 'Issue Hook', 'Merge Request Hook']);

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Registers POST /webhooks/gitlab (only when `[gitlab] webhook_secret` is set). */
export function gitlabWebhookRoute(app: FastifyInstance, secret: string, deps: WebhookDeps): void {
  // Digests of equal length: the comparison takes the same time whatever the token's length.
  const expected = digest(secret);
  registerWebhookRoute(app, {
    path: '/webhooks/gitlab',
    forge: 'gitlab',
    bodyLimit: GITLAB_BODY_LIMIT,
    deps,
    authenticate: async (req, reply, raw) => {
      const token = header(req.headers['x-gitlab-token']);
      if (!token || !timingSafeEqual(digest(token), expected)) {
        sendError(reply, 'UNAUTHORIZED', token ? 'X-Gitlab-Token does not match' : 'missing X-Gitlab-Token');
        return null;
      }
      return raw.toString('utf8');
    },
    event: (req) => header(req.headers['x-gitlab-event']),
    delivery: (req) => req.headers['x-gitlab-event-uuid'],
    known: (event) => GITLAB_EVENTS.has(event),
    toHook: gitlabHook,
  });
}

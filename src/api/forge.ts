// Wire types of forges (GitHub, GitLab): a task's pull/merge request and CI status.
import { z } from 'zod';

export const ForgeKind = z.enum(['github', 'gitlab']).meta({ id: 'ForgeKind' });
export type ForgeKind = z.infer<typeof ForgeKind>;

export const CICheckState = z.enum(['pending', 'success', 'failure', 'neutral', 'skipped', 'cancelled']);
export const CICheck = z
  .object({
    name: z.string(),
    state: CICheckState,
    url: z.string().describe('Where a person reads this check (its page on the forge); empty when unknown.'),
  })
  .meta({ id: 'CICheck' });
export type CICheck = z.infer<typeof CICheck>;

export const CIStatus = z
  .object({
    state: z.enum(['none', 'pending', 'success', 'failure']).describe('none: no check reported for this commit (yet).'),
    sha: z.string(),
    checks: z.array(CICheck),
    updatedAt: z.string().describe('When caic last learned of this status (ISO-8601).'),
  })
  .meta({ id: 'CIStatus' });
export type CIStatus = z.infer<typeof CIStatus>;

export const TaskForge = z
  .object({
    kind: ForgeKind,
    owner: z.string().describe('GitHub owner, or the GitLab namespace path (groups/subgroups).'),
    repo: z.string(),
    number: z.number().int().describe('Pull request number (GitHub) or merge request iid (GitLab).'),
    url: z.string(),
    state: z.enum(['open', 'closed', 'merged']),
    ci: CIStatus.nullable().describe('CI of the pull request head commit; null before the first check.'),
    fixAttempts: z.number().int().describe('CI fix attempts made by the fix loop for this pull request.'),
  })
  .meta({ id: 'TaskForge' });
export type TaskForge = z.infer<typeof TaskForge>;

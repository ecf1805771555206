// Forge bits of the UI: the pull request badge with its CI state, and a CI state dot for repositories.
import type { CIStatus, TaskForge } from '../../../src/api/index.js';

const CI_LABEL: Record<CIStatus['state'], string> = { none: 'no CI reported', pending: 'CI running', success: 'CI passed', failure: 'CI failed' };

export function ciLabel(ci: CIStatus | null): string {
  return ci ? CI_LABEL[ci.state] : 'CI not known yet';
}

/** A dot in the CI state's colour (pending, success, failure; grey when unknown). */
export function CIDot({ ci, testId }: { ci: CIStatus | null; testId?: string }) {
  const state = ci?.state ?? 'none';
  return <span className={`ci-dot ci-${state}`} role="img" aria-label={ciLabel(ci)} title={ciLabel(ci)} data-testid={testId} data-ci={state} />;
}

/** "PR #12" (MR on GitLab) with its CI state, linking to the pull request. */
export function PrBadge({ forge }: { forge: TaskForge }) {
  const kind = forge.kind === 'gitlab' ? 'MR !' : 'PR #';
  const state = forge.state === 'open' ? '' : ` ${forge.state}`;
  const attempts = forge.fixAttempts ? `, ${forge.fixAttempts} fix attempt${forge.fixAttempts === 1 ? '' : 's'}` : '';
  return (
    <a
      className={`pr-badge pr-${forge.state}`}
      href={forge.url}
      target="_blank"
      rel="noreferrer noopener"
      data-testid="pr-badge"
      data-ci={forge.ci?.state ?? 'none'}
      title={`${forge.owner}/${forge.repo} ${kind}${forge.number}${state}: ${ciLabel(forge.ci)}${attempts}`}
      onClick={(e) => e.stopPropagation()}
    >
      <CIDot ci={forge.ci} />
      {kind}
      {forge.number}
      {state}
    </a>
  );
}

// Public surface of src/forge: the task side of forges (PRs, CI, the fix loop) and the forge seam.
export { ForgeService, forgeFailure, type ForgeServiceDeps } from './service.js';
export { CIWatcher, ciKey, isTerminal, type CIWatchOptions, type CIWatchTimers } from './ci-watch.js';
export { parseIssueSpec, type IssueSpec } from './issue-ref.js';
export { ciSummary, prBody } from './texts.js';
export * from './types.js';

// Public surface of src/tasks: the task service, repositories, the safety scan.
export { TaskService, type Caller, type ForgeNote, type TaskForgeView, type TaskServiceDeps } from './service.js';
export type { IssueRef } from './records.js';
export { RepoRegistry, type RepoInfo } from './repos.js';
export { TaskError } from './errors.js';
export { TitleModel, resolveTitleModel, titleFromPrompt, TITLE_DEFAULTS, type TitleModelConfig } from './titles.js';
export { commitMessage, commitAuthor, FALLBACK_IDENTITY, type GitIdentity } from './commit.js';
export { aggregateUsage, type UsageDay } from './usage.js';
export { scan, addedLines, LARGE_BINARY_BYTES } from './safety.js';
export { Transcript, HOST_RECORDS, replayLog, replayFilter } from './transcript.js';
export { logPath, logDir, readLogBatches, decodeLine, escapeRelayLine } from './log.js';
export { workspaceOpen, type TaskWorkspace } from './workspace.js';
export { Hygiene, planHygiene, checkFreeDisk, doctorReport, tasksFromLogs, type PlannedAction, type TaskView, type HygieneDeps } from './hygiene.js';
export { ResourceMonitor, DISK_USAGE_COMMAND } from './limits.js';
export { parseHeader } from './header.js';
export { listeningPorts, parseListeners, LIST_LISTENERS_COMMAND, MAX_PORTS, SSH_PORT, type ListeningPort } from './ports.js';

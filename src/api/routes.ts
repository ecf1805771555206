// The route table: every HTTP route's method, path, access level and zod schemas, used by the
// Fastify server, the OpenAPI document (android-api/openapi.json) and, later, the web client.
import { z } from 'zod';
import { AuthCallbackQuery, AuthProviderParams, AuthStartQuery, StatusResp, UserResp } from './auth.js';
import { EventMessage } from './events.js';
import {
  CloneRepoReq,
  CompactReq,
  CreateTaskReq,
  DiffQuery,
  DiffResp,
  HarnessInfo,
  InputReq,
  Preferences,
  Repo,
  RepoBranchesResp,
  RepoQuery,
  RestartReq,
  SyncReq,
  SyncResp,
  Task,
  TaskIdParams,
  TaskListEvent,
  ToolInputResp,
  ToolParams,
  UpdatePreferencesReq,
  UsageResp,
} from './tasks.js';
import type { ErrorCode } from './errors.js';
import { HealthResp, ReadyResp, ServerConfigResp } from './server.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteDef {
  readonly method: HttpMethod;
  /** Fastify path syntax (`:param`). */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  /** `user` routes need a session when login is configured; `public` ones never do. */
  readonly access: 'public' | 'user';
  readonly params?: z.ZodObject;
  readonly querystring?: z.ZodObject;
  readonly body?: z.ZodType;
  /** JSON body of the 200 answer; absent when the route answers with a redirect. */
  readonly response?: z.ZodType;
  /** Answers 302 with a Location header. */
  readonly redirect?: boolean;
  /** A server-sent event stream whose `data:` lines hold this schema. */
  readonly sse?: z.ZodType;
  /** Error codes worth documenting beyond the ones every route can return. */
  readonly errors?: readonly ErrorCode[];
}

export const routes = {
  healthz: {
    method: 'GET',
    path: '/healthz',
    summary: 'Liveness: 200 while the process serves requests.',
    tag: 'server',
    access: 'public',
    response: HealthResp,
  },
  readyz: {
    method: 'GET',
    path: '/readyz',
    summary: 'Readiness: configuration loaded and dependencies reachable (503 otherwise).',
    tag: 'server',
    access: 'public',
    response: ReadyResp,
  },
  serverConfig: {
    method: 'GET',
    path: '/api/v1/server/config',
    summary: 'Version, login providers and capabilities; public so clients can render a login page.',
    tag: 'server',
    access: 'public',
    response: ServerConfigResp,
  },
  authStart: {
    method: 'GET',
    path: '/api/v1/auth/:provider/start',
    summary: 'Begin OAuth login: sets the state cookie and redirects to the provider.',
    tag: 'auth',
    access: 'public',
    params: AuthProviderParams,
    querystring: AuthStartQuery,
    redirect: true,
    errors: ['NOT_FOUND'],
  },
  authCallback: {
    method: 'GET',
    path: '/api/v1/auth/:provider/callback',
    summary: 'OAuth callback: checks state, exchanges the code, issues the session, redirects to / or caic://auth.',
    tag: 'auth',
    access: 'public',
    params: AuthProviderParams,
    querystring: AuthCallbackQuery,
    redirect: true,
    errors: ['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND'],
  },
  authMe: {
    method: 'GET',
    path: '/api/v1/auth/me',
    summary: 'The signed-in user (cookie or bearer token); 401 for a rejected token, 404 without one.',
    tag: 'auth',
    access: 'public',
    response: UserResp,
    errors: ['UNAUTHORIZED', 'NOT_FOUND'],
  },
  authLogout: {
    method: 'POST',
    path: '/api/v1/auth/logout',
    summary: 'Clear the session cookie. Tokens are stateless; nothing is revoked server-side.',
    tag: 'auth',
    access: 'public',
    response: StatusResp,
  },
  listTasks: {
    method: 'GET',
    path: '/api/v1/tasks',
    summary: 'Tasks visible to the caller, oldest first.',
    tag: 'tasks',
    access: 'user',
    response: z.array(Task),
  },
  createTask: {
    method: 'POST',
    path: '/api/v1/tasks',
    summary: 'Start a task: branch, container, agent. Answers at once with the task in state pending.',
    tag: 'tasks',
    access: 'user',
    body: CreateTaskReq,
    response: Task,
    errors: ['NOT_FOUND'],
  },
  taskListEvents: {
    method: 'GET',
    path: '/api/v1/tasks/events',
    summary: 'Server-sent events: a snapshot of the task list, then upsert/patch/delete.',
    tag: 'tasks',
    access: 'user',
    sse: TaskListEvent,
  },
  getTask: {
    method: 'GET',
    path: '/api/v1/tasks/:id',
    summary: 'One task.',
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    response: Task,
    errors: ['NOT_FOUND'],
  },
  taskEvents: {
    method: 'GET',
    path: '/api/v1/tasks/:id/events',
    summary: 'Server-sent events of one task: its history, `event: ready`, then live events. Send Last-Event-ID to resume.',
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    sse: EventMessage,
    errors: ['NOT_FOUND'],
  },
  taskInput: {
    method: 'POST',
    path: '/api/v1/tasks/:id/input',
    summary: 'Send a message to the agent. 409 when the task has no live agent session.',
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    body: InputReq,
    response: StatusResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskRestart: {
    method: 'POST',
    path: '/api/v1/tasks/:id/restart',
    summary: 'New agent session with a prompt; without one, the plan the agent wrote is executed.',
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    body: RestartReq,
    response: StatusResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskClearContext: {
    method: 'POST',
    path: '/api/v1/tasks/:id/clear-context',
    summary: 'New agent session without a prompt; the task waits for input.',
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    response: StatusResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskCompact: {
    method: 'POST',
    path: '/api/v1/tasks/:id/compact',
    summary: "Ask the agent to compact its context (harnesses that support it).",
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    body: CompactReq,
    response: StatusResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskStop: {
    method: 'POST',
    path: '/api/v1/tasks/:id/stop',
    summary: 'End the agent gracefully and stop the container (files are kept).',
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    response: StatusResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskRevive: {
    method: 'POST',
    path: '/api/v1/tasks/:id/revive',
    summary: 'Start a stopped task again; the agent resumes its session.',
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    response: StatusResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskPurge: {
    method: 'POST',
    path: '/api/v1/tasks/:id/purge',
    summary: 'End the agent and remove the container. The log and host branches stay.',
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    response: StatusResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskSync: {
    method: 'POST',
    path: '/api/v1/tasks/:id/sync',
    summary: "Fetch the agent's work, scan it for secrets and large binaries, push the task branch to origin.",
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    body: SyncReq,
    response: SyncResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskDiff: {
    method: 'GET',
    path: '/api/v1/tasks/:id/diff',
    summary: 'Unified diff of the task branch against its base, uncommitted work included.',
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    querystring: DiffQuery,
    response: DiffResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskToolInput: {
    method: 'GET',
    path: '/api/v1/tasks/:id/tool/:toolUseId',
    summary: 'Full input of a tool use whose event carried inputTruncated.',
    tag: 'tasks',
    access: 'user',
    params: ToolParams,
    response: ToolInputResp,
    errors: ['NOT_FOUND'],
  },
  listRepos: {
    method: 'GET',
    path: '/api/v1/server/repos',
    summary: 'Git repositories under [core] root.',
    tag: 'repos',
    access: 'user',
    response: z.array(Repo),
  },
  cloneRepo: {
    method: 'POST',
    path: '/api/v1/server/repos',
    summary: 'Clone a repository under the root (the path must stay inside it and not exist).',
    tag: 'repos',
    access: 'user',
    body: CloneRepoReq,
    response: Repo,
    errors: ['CONFLICT'],
  },
  repoBranches: {
    method: 'GET',
    path: '/api/v1/server/repos/branches',
    summary: 'Local and remote branches of a repository.',
    tag: 'repos',
    access: 'user',
    querystring: RepoQuery,
    response: RepoBranchesResp,
    errors: ['NOT_FOUND'],
  },
  harnesses: {
    method: 'GET',
    path: '/api/v1/server/harnesses',
    summary: 'Coding agents this server can run, with their models and capabilities.',
    tag: 'server',
    access: 'user',
    response: z.array(HarnessInfo),
  },
  getPreferences: {
    method: 'GET',
    path: '/api/v1/server/preferences',
    summary: "The caller's preferences: recent repositories with their last base branch, harness and model.",
    tag: 'server',
    access: 'user',
    response: Preferences,
  },
  setPreferences: {
    method: 'POST',
    path: '/api/v1/server/preferences',
    summary: "Replace the caller's settings block.",
    tag: 'server',
    access: 'user',
    body: UpdatePreferencesReq,
    response: Preferences,
  },
  usage: {
    method: 'GET',
    path: '/api/v1/usage',
    summary: 'Quota usage of the agent providers.',
    tag: 'server',
    access: 'user',
    response: UsageResp,
  },
} as const satisfies Record<string, RouteDef>;

export type RouteName = keyof typeof routes;

// The route table: every HTTP route's method, path, access level and zod schemas, used by the
// Fastify server, the OpenAPI document (android-api/openapi.json) and, later, the web client.
import { z } from 'zod';
import { AuthCallbackQuery, AuthProviderParams, AuthStartQuery, AuthTokenReq, AuthTokenResp, LogoutEverywhereResp, StatusResp, UserResp } from './auth.js';
import { EventMessage, SseReady } from './events.js';
import { GrantIdParams, OAuthGrantsResp } from './oauth.js';
import { AddReviewCommentReq, EditReviewCommentReq, ForkReq, RestartFromReq, ReviewComment, ReviewCommentParams, ReviewCommentsResp, SendReviewResp } from './review.js';
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
  RenameTaskReq,
  RepoQuery,
  RestartReq,
  SyncReq,
  SudoPasswordResp,
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
import { DoctorResp } from './hygiene.js';
import { PreviewOpenResp, PreviewPortParams, PreviewsResp } from './preview.js';
import { AnswerApprovalReq, AnswerApprovalResp, ApprovalParams, ApprovalsResp } from './approvals.js';
import { DeleteSecretResp, SecretMeta, SecretNameParams, SecretsResp, SetSecretReq } from './secrets.js';
import { PushKeyResp, PushSubscribeReq, PushSubscription, PushSubscriptionsResp, PushTestResp, PushUnsubscribeReq, PushUnsubscribeResp } from './push.js';
import { TerminalClientMessage, TerminalQuery, TerminalServerMessage } from './terminal.js';
import { VoiceRtcCloseResp, VoiceRtcOfferReq, VoiceRtcOfferResp, VoiceSessionParams, VoiceTokenResp, VoiceToolCallReq, VoiceToolCallResp, VoiceToolsResp } from './voice.js';

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
  /** The 200 answer holds a secret (a token, a password): `Cache-Control: no-store`, set by the server. */
  readonly noStore?: boolean;
  /** Answers 302 with a Location header. */
  readonly redirect?: boolean;
  /** Other statuses whose body is the `response` schema too (a failing readiness probe). */
  readonly responseAlso?: readonly number[];
  /** Errors are an HTML page for a browser (`Accept: text/html`), the JSON envelope otherwise. */
  readonly errorPages?: boolean;
  /** The `WWW-Authenticate` challenge of its 401 answer (a route that takes a bearer of its own kind). */
  readonly challenge?: string;
  /** Browsers on another origin may call it: an OPTIONS preflight answers 204 with these methods. */
  readonly cors?: { readonly methods: string; readonly headers: string };
  /** A server-sent event stream whose unnamed events' `data:` lines hold this schema. */
  readonly sse?: z.ZodType;
  /** The stream's named events (`event: <name>`) and the schema of their data. */
  readonly sseEvents?: Readonly<Record<string, z.ZodType>>;
  /** Upgrades to a WebSocket (101) whose JSON text frames hold these schemas (binary frames: raw bytes). */
  readonly websocket?: { readonly client: z.ZodType; readonly server: z.ZodType };
  /** Error codes worth documenting beyond the ones every route can return. */
  readonly errors?: readonly ErrorCode[];
}

/** The voice gateway's routes are called by a page of the caic host's origin, on another origin. */
const VOICE_RTC_CORS = { methods: 'POST, OPTIONS', headers: 'authorization, content-type' } as const;
/** A voice token, not a caic session, is what these routes want. */
const VOICE_RTC_CHALLENGE = 'Bearer realm="voice-gateway"';

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
    responseAlso: [503],
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
    errorPages: true,
    errors: ['BAD_REQUEST', 'NOT_FOUND'],
  },
  authCallback: {
    method: 'GET',
    path: '/api/v1/auth/:provider/callback',
    summary: 'OAuth callback: checks state, exchanges the code, issues the session, redirects to / or caic://auth?code=.',
    tag: 'auth',
    access: 'public',
    params: AuthProviderParams,
    querystring: AuthCallbackQuery,
    redirect: true,
    errorPages: true,
    errors: ['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND'],
  },
  authToken: {
    method: 'POST',
    path: '/api/v1/auth/token',
    summary: 'The app redeems the one-time code of caic://auth?code= with its PKCE code_verifier for a session token.',
    tag: 'auth',
    access: 'public',
    body: AuthTokenReq,
    response: AuthTokenResp,
    noStore: true,
    errors: ['BAD_REQUEST', 'NOT_FOUND'],
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
    summary:
      'Sign out: ends the session of the token sent (cookie or bearer) server-side, so it no longer verifies even if replayed, ' +
      'and clears the cookie. With a paired device\'s access token, unpairs that device.',
    tag: 'auth',
    access: 'public',
    response: StatusResp,
  },
  authLogoutEverywhere: {
    method: 'POST',
    path: '/api/v1/auth/logout-everywhere',
    summary: "Sign out everywhere: ends every session of the caller (every browser, every app session token) and unpairs the caller's devices.",
    tag: 'auth',
    access: 'user',
    response: LogoutEverywhereResp,
    errors: ['NOT_FOUND'],
  },
  oauthGrants: {
    method: 'GET',
    path: '/api/v1/oauth/grants',
    summary: "Connected apps: the caller's OAuth grants (MCP clients), with their scopes and when they were last used.",
    tag: 'oauth',
    access: 'user',
    response: OAuthGrantsResp,
    errors: ['NOT_FOUND'],
  },
  oauthGrantRevoke: {
    method: 'DELETE',
    path: '/api/v1/oauth/grants/:id',
    summary: 'Revoke a grant: its refresh and access tokens stop working at once.',
    tag: 'oauth',
    access: 'user',
    params: GrantIdParams,
    response: StatusResp,
    errors: ['NOT_FOUND'],
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
    // SERVICE_UNAVAILABLE: Docker unreachable, or its data disk below [limits] min_free_disk.
    errors: ['NOT_FOUND', 'CONFLICT', 'SERVICE_UNAVAILABLE'],
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
    sseEvents: { ready: SseReady },
    errors: ['NOT_FOUND'],
  },
  renameTask: {
    method: 'PATCH',
    path: '/api/v1/tasks/:id',
    summary: "Rename a task (its title); the new title replaces the generated one.",
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    body: RenameTaskReq,
    response: Task,
    errors: ['NOT_FOUND', 'CONFLICT'],
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
  taskInterrupt: {
    method: 'POST',
    path: '/api/v1/tasks/:id/interrupt',
    summary: "Stop the agent's current turn without stopping the task; the agent then waits for input.",
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
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
    summary: 'Unified diff of the task branch against its base, uncommitted work included; without a running container, the branch as its last sync pushed it (409 when it was never synced).',
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
  taskSudoPassword: {
    method: 'GET',
    path: '/api/v1/tasks/:id/sudo-password',
    summary: "The sudo password of a task created with sudo (its owner only; 404 for a task without sudo or without a container).",
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    response: SudoPasswordResp,
    noStore: true,
    errors: ['NOT_FOUND'],
  },
  // ---- review (issue 14): inline review comments on the diff; restart or fork from a message ----
  reviewList: {
    method: 'GET',
    path: '/api/v1/tasks/:id/review',
    summary: "The task's review comments not sent yet (drafted on its diff; they stay until sent or deleted).",
    tag: 'review',
    access: 'user',
    params: TaskIdParams,
    response: ReviewCommentsResp,
    errors: ['NOT_FOUND'],
  },
  reviewAdd: {
    method: 'POST',
    path: '/api/v1/tasks/:id/review',
    summary: 'Add a comment on lines of a file of the diff (a file of the task\'s diff; at most 50 unsent comments, 500 lines each).',
    tag: 'review',
    access: 'user',
    params: TaskIdParams,
    body: AddReviewCommentReq,
    response: ReviewComment,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  reviewEdit: {
    method: 'PATCH',
    path: '/api/v1/tasks/:id/review/:commentId',
    summary: 'Change the text of an unsent comment.',
    tag: 'review',
    access: 'user',
    params: ReviewCommentParams,
    body: EditReviewCommentReq,
    response: ReviewComment,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  reviewDelete: {
    method: 'DELETE',
    path: '/api/v1/tasks/:id/review/:commentId',
    summary: 'Delete an unsent comment.',
    tag: 'review',
    access: 'user',
    params: ReviewCommentParams,
    response: StatusResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  reviewSend: {
    method: 'POST',
    path: '/api/v1/tasks/:id/review/send',
    summary: 'Send every unsent comment to the agent as one input (file, lines, quoted lines, comment); the transcript shows it as a review. 409 when the task cannot take input or has no comments.',
    tag: 'review',
    access: 'user',
    params: TaskIdParams,
    response: SendReviewResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskRestartFrom: {
    method: 'POST',
    path: '/api/v1/tasks/:id/restart-from',
    summary:
      'Edit and restart from a user message: the branch goes back to the commit it had when that message was sent (uncommitted work is stashed), ' +
      'and a new agent session starts with the earlier conversation summarised and the edited message.',
    tag: 'review',
    access: 'user',
    params: TaskIdParams,
    body: RestartFromReq,
    response: StatusResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskFork: {
    method: 'POST',
    path: '/api/v1/tasks/:id/fork',
    summary:
      "Fork from a user message: a new task on a new branch created at the commit the task had once that message's turn ended, " +
      'with the conversation up to it summarised before the new prompt.',
    tag: 'review',
    access: 'user',
    params: TaskIdParams,
    body: ForkReq,
    response: Task,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  // ---- end of review ----
  // ---- tool approval (issue 15, approval workstream): requests that wait for a person, and answers ----
  taskApprovals: {
    method: 'GET',
    path: '/api/v1/tasks/:id/approvals',
    summary: "The task's tool calls that wait for a person (permission mode ask or rules), oldest first.",
    tag: 'approvals',
    access: 'user',
    params: TaskIdParams,
    response: ApprovalsResp,
    errors: ['NOT_FOUND'],
  },
  answerApproval: {
    method: 'POST',
    path: '/api/v1/tasks/:id/approvals/:requestId',
    summary:
      'Answer a tool call that waits: allowOnce (this call), allowTask (this and every later call of the tool in this task) or deny (the agent is told `message`). ' +
      '404 when the task has no such request; 409 when it was settled already (answered, timed out, withdrawn) or the agent cannot be reached right now.',
    tag: 'approvals',
    access: 'user',
    params: ApprovalParams,
    body: AnswerApprovalReq,
    response: AnswerApprovalResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  listApprovals: {
    method: 'GET',
    path: '/api/v1/approvals',
    summary: "Every tool call that waits for the caller, across the caller's tasks.",
    tag: 'approvals',
    access: 'user',
    response: ApprovalsResp,
    errors: ['UNAUTHORIZED'],
  },
  // ---- end of tool approval ----
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
  rescanRepos: {
    method: 'POST',
    path: '/api/v1/server/repos/scan',
    summary: 'Look for repositories under the root again now (the daemon also rescans by itself).',
    tag: 'repos',
    access: 'user',
    response: z.array(Repo),
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
  // terminal (issue 14): a PTY shell in a live task's container over its SSH connection.
  taskTerminal: {
    method: 'GET',
    path: '/api/v1/tasks/:id/terminal',
    summary:
      "WebSocket upgrade: an interactive shell (as `user`) in the live task's container. Binary frames are terminal bytes both ways; JSON text frames are control messages (resize; ready, exit, closing). A browser's upgrade must come from this server's origin; without an Origin header only a bearer token is accepted. Closes after `[terminal] idle_timeout_seconds` without input and when the task stops.",
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    querystring: TerminalQuery,
    websocket: { client: TerminalClientMessage, server: TerminalServerMessage },
    errors: ['FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED'],
  },
  harnesses: {
    method: 'GET',
    path: '/api/v1/server/harnesses',
    summary: 'Coding agents this server knows, whether each can run here (installed in the image, credentials) and how to fix it.',
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
    summary: "The caller's agent cost, tokens and time per day and per week.",
    tag: 'server',
    access: 'user',
    response: UsageResp,
  },
  voiceToken: {
    method: 'GET',
    path: '/api/v1/voice/token',
    summary: 'A short-lived Ed25519-signed token for the voice gateway (embedded or standalone) and where that gateway is; 409 with the reason when voice is off.',
    tag: 'voice',
    access: 'user',
    response: VoiceTokenResp,
    noStore: true,
    errors: ['UNAUTHORIZED', 'CONFLICT'],
  },
  voiceRtcOffer: {
    method: 'POST',
    path: '/api/v1/voice/rtc/offer',
    summary: 'Opens a voice session: SDP offer in, SDP answer out (ICE gathered first). Authenticated by the voice token (Authorization: Bearer), not by a session.',
    tag: 'voice',
    access: 'public',
    body: VoiceRtcOfferReq,
    response: VoiceRtcOfferResp,
    // NOT_FOUND: this caic runs no voice gateway (the standalone one, or voice off).
    errors: ['UNAUTHORIZED', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED', 'SERVICE_UNAVAILABLE'],
    cors: VOICE_RTC_CORS,
    challenge: VOICE_RTC_CHALLENGE,
  },
  voiceRtcClose: {
    method: 'POST',
    path: '/api/v1/voice/rtc/:sessionId/close',
    summary: 'Ends a voice session (only with a voice token of the user who opened it).',
    tag: 'voice',
    access: 'public',
    params: VoiceSessionParams,
    response: VoiceRtcCloseResp,
    errors: ['UNAUTHORIZED', 'NOT_FOUND'],
    cors: VOICE_RTC_CORS,
    challenge: VOICE_RTC_CHALLENGE,
  },
  voiceTools: {
    method: 'GET',
    path: '/api/v1/voice/tools',
    summary: "The tools a voice client offers its model (the MCP server's, as JSON Schema); the client runs them with voiceToolCall.",
    tag: 'voice',
    access: 'user',
    response: VoiceToolsResp,
  },
  voiceToolCall: {
    method: 'POST',
    path: '/api/v1/voice/tools/call',
    summary: "Runs one of the voice tools as the caller (the model's tool call, executed by the client with its own session).",
    tag: 'voice',
    access: 'user',
    body: VoiceToolCallReq,
    response: VoiceToolCallResp,
    errors: ['UNAUTHORIZED', 'NOT_FOUND', 'BAD_REQUEST'],
  },
  pushKey: {
    method: 'GET',
    path: '/api/v1/push/key',
    summary: "The server's VAPID public key, for PushManager.subscribe (made on first use).",
    tag: 'push',
    access: 'user',
    response: PushKeyResp,
  },
  pushList: {
    method: 'GET',
    path: '/api/v1/push/subscriptions',
    summary: "The caller's Web Push subscriptions.",
    tag: 'push',
    access: 'user',
    response: PushSubscriptionsResp,
  },
  pushSubscribe: {
    method: 'POST',
    path: '/api/v1/push/subscriptions',
    summary: "Adds a browser's PushSubscription for the caller (public https endpoints only; a few per user, the oldest goes). The caller's tasks that ask, have a plan, finish, fail or fail CI are pushed to it.",
    tag: 'push',
    access: 'user',
    body: PushSubscribeReq,
    response: PushSubscription,
    errors: ['UNAUTHORIZED', 'BAD_REQUEST'],
  },
  pushUnsubscribe: {
    method: 'POST',
    path: '/api/v1/push/subscriptions/delete',
    summary: "Removes one of the caller's subscriptions, by endpoint or id.",
    tag: 'push',
    access: 'user',
    body: PushUnsubscribeReq,
    response: PushUnsubscribeResp,
    errors: ['UNAUTHORIZED', 'BAD_REQUEST'],
  },
  pushTest: {
    method: 'POST',
    path: '/api/v1/push/test',
    summary: "Sends a test notification to the caller's subscriptions.",
    tag: 'push',
    access: 'user',
    response: PushTestResp,
  },
  // --- preview (issue 14: app previews of a task's dev servers) ---
  taskPreviews: {
    method: 'GET',
    path: '/api/v1/tasks/:id/previews',
    summary: "TCP ports the task's container listens on (loopback or wildcard, sshd left out), each with its preview origin. Read over the task's SSH connection, at most every few seconds.",
    tag: 'tasks',
    access: 'user',
    params: TaskIdParams,
    response: PreviewsResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  taskPreviewOpen: {
    method: 'POST',
    path: '/api/v1/tasks/:id/previews/:port/open',
    summary: "A one-time link (60 s) to a port's preview: on the preview's own host it trades itself for a cookie of that host alone. The task's owner only, while the task runs.",
    tag: 'tasks',
    access: 'user',
    params: PreviewPortParams,
    response: PreviewOpenResp,
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  // ---- secrets (the vault) ----
  listSecrets: {
    method: 'GET',
    path: '/api/v1/secrets',
    summary: "The caller's secrets: names and dates only, never values.",
    tag: 'secrets',
    access: 'user',
    response: SecretsResp,
    errors: ['UNAUTHORIZED', 'CONFLICT'],
  },
  setSecret: {
    method: 'PUT',
    path: '/api/v1/secrets/:name',
    summary: 'Sets (or rotates) one of the caller\'s secrets; stored encrypted, the value is never returned. Tasks select secrets by name at creation and find them in ~/.env.',
    tag: 'secrets',
    access: 'user',
    params: SecretNameParams,
    body: SetSecretReq,
    response: SecretMeta,
    errors: ['UNAUTHORIZED', 'BAD_REQUEST', 'CONFLICT'],
  },
  deleteSecret: {
    method: 'DELETE',
    path: '/api/v1/secrets/:name',
    summary: "Deletes one of the caller's secrets (tasks already running keep the value they were given).",
    tag: 'secrets',
    access: 'user',
    params: SecretNameParams,
    response: DeleteSecretResp,
    errors: ['UNAUTHORIZED', 'BAD_REQUEST', 'NOT_FOUND', 'CONFLICT'],
  },
  // ---- hygiene (resource limits and clean-up) ----
  serverDoctor: {
    method: 'GET',
    path: '/api/v1/server/doctor',
    summary:
      "The container engine's health as `caic doctor` shows it: engine, images, Docker's data disk, this daemon's containers and what clean-up would remove now. With login on, container and task details are the caller's own; other users' are counted only.",
    tag: 'server',
    access: 'user',
    response: DoctorResp,
    errors: ['UNAUTHORIZED'],
  },
} as const satisfies Record<string, RouteDef>;

export type RouteName = keyof typeof routes;

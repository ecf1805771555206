// One MCP server per client session: instructions, scope-filtered tools, resources and subscriptions.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ErrorCode as RpcCode,
  ListToolsRequestSchema,
  McpError,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_USER } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { TaskError } from '../tasks/index.js';
import { LOCAL_ACCOUNT, type McpScope } from '../api/index.js';
import { insufficientScopeChallenge, type AuditSink, type Principal, type ResourceUrls } from './auth.js';
import { callTool, domainError, toolsFor } from './call.js';
import { toolSchema } from './json-schema.js';
import { cutText, LIST_CAP_BYTES, tasksPage } from './tasks-view.js';
import { TOOLS, type McpServices } from './tools.js';

/** Machine codes of failures, in `_meta` of an `isError` result. */
export const ERROR_META = 'xyz.caic/error';
export const TRUNCATED_META = 'xyz.caic/truncated';
/** Where a step-up challenge goes (as in the reference server). */
export const WWW_AUTHENTICATE_META = 'mcp/www_authenticate';

/** Tool descriptors are the same for everyone; only which ones a caller sees differs. */
const DESCRIPTORS: ReadonlyMap<string, Tool> = new Map(
  TOOLS.map((t) => [
    t.name,
    {
      name: t.name,
      title: t.title,
      description: `${t.description} (scope ${t.scope})`,
      inputSchema: toolSchema(t.args, 'input'),
      outputSchema: toolSchema(t.result, 'output'),
      annotations: { title: t.title, ...t.annotations },
    },
  ]),
);

export interface SessionDeps {
  services: McpServices;
  version: string;
  logger: Logger;
  audit?: AuditSink;
  /** The resource URLs as this session's client reached us (for step-up challenges). */
  urls: ResourceUrls;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** The principal the HTTP layer attached to the request (AuthInfo.extra). */
function principalOf(extra: Extra, fallback: Principal): Principal {
  return (extra.authInfo?.extra?.principal as Principal | undefined) ?? fallback;
}

const TASK_STATES_TEXT = `States: pending/branching/provisioning/starting = the container and agent are being set up; running = the agent works; waiting = it finished its turn and waits for you; asking = it asked a question (task_answer_question); has_plan = it wrote a plan and waits for approval (task_restart executes it); stopped = container stopped (task_revive); purged = removed; failed = could not start or broke.`;

function instructions(deps: SessionDeps, principal: Principal): string {
  const prefs = deps.services.preferences.get(principal.caller?.id ?? DEFAULT_USER);
  const repo = prefs.repositories[0];
  const defaults = repo
    ? `Your default repository is ${repo.name} (base branch ${repo.baseBranch}) with the ${repo.harness} agent${repo.model ? ` (${repo.model})` : ''}.`
    : prefs.harness
      ? `Your default agent is ${prefs.harness}.`
      : 'No defaults yet: task_create uses the only repository if there is one, and Claude Code.';
  return [
    'caic runs coding agents (Claude Code, Codex, Gemini CLI, OpenCode) each in its own container on a new git branch of a repository on this server.',
    'A task is one agent working on one branch. Start one with task_create; follow it with tasks_list and task_get_detail; talk to it with task_send_message and task_answer_question; read its work with task_diff and agent_last_message; push it with task_push_branch_to_remote.',
    'Refer to tasks by the short taskNumber tasks_list shows (or their id).',
    TASK_STATES_TEXT,
    'Subscribe to caic://tasks/{id} to hear when a task changes state, asks, or finishes.',
    defaults,
  ].join('\n');
}

/** A failure as the client sees it: a tool result with isError and the code in _meta. */
function failure(code: string, message: string, extraMeta: Record<string, unknown> = {}, structured?: unknown): CallToolResult {
  return {
    content: [{ type: 'text', text: message }],
    isError: true,
    ...(structured !== undefined ? { structuredContent: structured as Record<string, unknown> } : {}),
    _meta: { [ERROR_META]: code, ...extraMeta },
  };
}

export interface McpSession {
  server: McpServer;
  /** URIs this session asked to hear about. */
  subscriptions: Set<string>;
  close(): void;
}

export function createSession(deps: SessionDeps, owner: Principal): McpSession {
  const { services, logger } = deps;
  const server = new McpServer(
    { name: 'caic', title: 'caic: coding agents in containers', version: deps.version },
    { capabilities: { tools: { listChanged: false }, resources: { subscribe: true, listChanged: true } }, instructions: instructions(deps, owner) },
  );
  const subscriptions = new Set<string>();
  const audit = (record: Record<string, unknown>) => deps.audit?.append({ ts: new Date().toISOString(), ...record });
  // Named as the authorization server's records name them: `user` is the account id.
  const who = (p: Principal) => ({ user: p.caller?.id ?? LOCAL_ACCOUNT, username: p.caller?.username ?? '', client: p.clientId, via: p.via });

  // ---- tools ----
  const allowed = (p: Principal, scope: McpScope) => p.scopes.has(scope);
  server.server.setRequestHandler(ListToolsRequestSchema, (_req, extra) => {
    const p = principalOf(extra, owner);
    return { tools: toolsFor(p).map((t) => DESCRIPTORS.get(t.name)!) };
  });
  server.server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const p = principalOf(extra, owner);
    const out = await callTool({ services, logger, ...(deps.audit ? { audit: deps.audit } : {}) }, p, req.params.name, req.params.arguments ?? {});
    switch (out.kind) {
      case 'unknown':
        throw new McpError(RpcCode.InvalidParams, `unknown tool ${JSON.stringify(req.params.name.slice(0, 100))}`);
      case 'invalid':
        throw new McpError(RpcCode.InvalidParams, out.message);
      case 'denied':
        return failure('INSUFFICIENT_SCOPE', `${out.tool} needs the ${out.scope} scope, which this connection was not granted; reconnect and allow it.`, {
          [WWW_AUTHENTICATE_META]: insufficientScopeChallenge(deps.urls, p.scopes, out.scope),
        });
      case 'ran': {
        const meta = out.truncated ? { [TRUNCATED_META]: true } : {};
        if (!out.ok) return failure(out.code, out.text, meta, out.result);
        const text = cutText(out.text);
        return {
          content: [{ type: 'text', text: text.text }],
          structuredContent: out.result as Record<string, unknown>,
          ...(out.truncated || text.truncated ? { _meta: { [TRUNCATED_META]: true } } : {}),
        } satisfies CallToolResult;
      }
    }
  });

  // ---- resources ----
  const json = (uri: string, value: unknown) => ({ contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value) }] });
  /** Reads need a scope too; a refusal is a JSON-RPC error naming it (resources have no isError). */
  const guard = <T>(extra: Extra, uri: string, scope: McpScope, read: (p: Principal) => Promise<T> | T): Promise<T> => {
    const p = principalOf(extra, owner);
    const started = performance.now();
    if (!allowed(p, scope)) {
      audit({ event: 'mcp.resource', ...who(p), uri, decision: 'deny', result: 'INSUFFICIENT_SCOPE', scope, ms: 0 });
      return Promise.reject(new McpError(RpcCode.InvalidRequest, `reading ${uri} needs the ${scope} scope`, { [WWW_AUTHENTICATE_META]: insufficientScopeChallenge(deps.urls, p.scopes, scope) }));
    }
    return Promise.resolve()
      .then(() => read(p))
      .then(
        (v) => (audit({ event: 'mcp.resource', ...who(p), uri, decision: 'allow', result: 'OK', ms: Math.round(performance.now() - started) }), v),
        (err: unknown) => {
          const e = domainError(err, logger);
          audit({ event: 'mcp.resource', ...who(p), uri, decision: 'allow', result: e.code, ms: Math.round(performance.now() - started) });
          throw new McpError(e.code === 'NOT_FOUND' ? -32002 : RpcCode.InternalError, e.message);
        },
      );
  };
  server.registerResource('tasks', 'caic://tasks', { title: 'Your tasks', description: 'Your tasks, active first (as tasks_list).', mimeType: 'application/json' }, (uri, extra) =>
    guard(extra, uri.href, 'caic:tasks.read', (p) => json(uri.href, tasksPage(services.service.list(p.caller), undefined, Number.MAX_SAFE_INTEGER))),
  );
  server.registerResource(
    'task',
    new ResourceTemplate('caic://tasks/{id}', {
      list: (extra) => {
        const p = principalOf(extra, owner);
        if (!allowed(p, 'caic:tasks.read')) return { resources: [] };
        const all = services.service.list(p.caller);
        return { resources: all.slice(-200).map((t) => ({ uri: `caic://tasks/${t.id}`, name: t.title.slice(0, 100) || t.id, mimeType: 'application/json' })) };
      },
    }),
    { title: 'A task', description: 'One task in detail (as task_get_detail).', mimeType: 'application/json' },
    (uri, vars, extra) =>
      guard(extra, uri.href, 'caic:tasks.read', (p) => {
        const id = String(vars.id);
        const all = services.service.list(p.caller);
        const i = all.findIndex((t) => t.id === id);
        if (i < 0) throw new TaskError('NOT_FOUND', `no task ${id.slice(0, 40)}`);
        const t = all[i]!;
        return json(uri.href, { ...t, taskNumber: i + 1, result: cutText(t.result).text, initialPrompt: cutText(t.initialPrompt).text, planContent: cutText(t.planContent).text });
      }),
  );
  server.registerResource('repos', 'caic://repos', { title: 'Repositories', description: 'Repositories tasks can use.', mimeType: 'application/json' }, (uri, extra) =>
    guard(extra, uri.href, 'caic:mcp.read', () => {
      const repos = [];
      let bytes = 0;
      for (const { name, baseBranch, remote, remoteURL, forge } of services.repos.list()) {
        const r = { name, baseBranch, remote, remoteURL, forge };
        bytes += JSON.stringify(r).length;
        if (bytes > LIST_CAP_BYTES) break;
        repos.push(r);
      }
      return json(uri.href, { repos });
    }),
  );
  server.registerResource('usage', 'caic://usage', { title: 'Usage', description: 'Cost, tokens and time per day and week.', mimeType: 'application/json' }, (uri, extra) =>
    guard(extra, uri.href, 'caic:mcp.read', async (p) => json(uri.href, await services.service.usage(p.caller))),
  );

  // ---- subscriptions ----
  const subscribable = (uri: string): McpScope | null =>
    uri === 'caic://tasks' || /^caic:\/\/tasks\/[0-9a-z]{10,40}$/.test(uri) ? 'caic:tasks.read' : uri === 'caic://usage' || uri === 'caic://repos' ? 'caic:mcp.read' : null;
  server.server.setRequestHandler(SubscribeRequestSchema, (req, extra) => {
    const p = principalOf(extra, owner);
    const scope = subscribable(req.params.uri);
    if (!scope) throw new McpError(RpcCode.InvalidParams, 'unknown resource');
    if (!allowed(p, scope)) throw new McpError(RpcCode.InvalidRequest, `subscribing to ${req.params.uri} needs the ${scope} scope`);
    if (subscriptions.size >= 1000) throw new McpError(RpcCode.InvalidRequest, 'too many subscriptions');
    subscriptions.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, (req) => {
    subscriptions.delete(req.params.uri);
    return {};
  });

  // The task service's change events (not polling): a new task changes the list; a state change,
  // a question, a result or new cost changes the task, the list and the usage.
  const { unsubscribe } = services.service.subscribeList(owner.caller, (event) => {
    if (!server.isConnected()) return;
    const send = (uri: string) => {
      if (subscriptions.has(uri)) server.server.sendResourceUpdated({ uri }).catch(() => undefined);
    };
    if (event.type === 'upsert' || event.type === 'delete') {
      server.sendResourceListChanged();
      send('caic://tasks');
      if (event.type === 'upsert') send(`caic://tasks/${event.task.id}`);
    } else if (event.type === 'patch') {
      send(`caic://tasks/${event.id}`);
      if (['state', 'title', 'error', 'result', 'diffStat'].some((k) => k in event.fields)) send('caic://tasks');
      if ('costUSD' in event.fields || 'numTurns' in event.fields) send('caic://usage');
    }
  });
  return {
    server,
    subscriptions,
    close() {
      unsubscribe();
      void server.close().catch(() => undefined);
    },
  };
}


// Codex `app-server` JSON-RPC (notifications and responses, "jsonrpc" header omitted) → common events.
// Shapes as codex 0.171 emits them (test/fixtures/agents/codex.jsonl is a recording).
import type { EventBody, Usage } from '../../api/index.js';
import type { AgentParser } from '../types.js';
import { asObject, MAX_ERROR_LINE, num, parseLine, str, type Json } from '../util.js';

const REQUEST_IDS = { initialize: 1, thread: 2 } as const;
export const FIRST_PROMPT_ID = 100;

const zero = (): Usage => ({ inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 });
const PLAN_STATUS: Record<string, string> = { pending: 'pending', inProgress: 'in_progress', completed: 'completed' };

/** Notifications that carry nothing to show or act on. */
const IGNORED = new Set(['item/commandExecution/outputDelta', 'item/reasoning/summaryPartAdded', 'item/reasoning/textDelta', 'item/plan/delta', 'turn/diff/updated', 'account/rateLimits/updated', 'remoteControl/status/changed', 'thread/readState/changed', 'serverRequest/resolved', 'mcpServer/startupStatus/updated', 'skills/changed', 'item/fileChange/outputDelta', 'item/fileChange/patchUpdated', 'item/commandExecution/terminalInteraction', 'hook/started', 'hook/completed']);

export class CodexParser implements AgentParser {
  threadId = '';
  /** The turn in progress ('' between turns): what turn/interrupt names. */
  turnId = '';
  /** The thread's name once Codex gives it one (`thread/name/updated`): a title for the task. */
  title = '';
  private nextId = FIRST_PROMPT_ID;
  private turns = 0;
  private lastText = '';
  private turnUsage = zero();
  private initSent = false;
  private model: string;
  /** Approval requests the app server waits on: our request id → its JSON-RPC id (number or string). */
  private readonly approvals = new Map<string, string | number>();
  /** File changes by item id (from item/started), shown with an approval request that names only the item. */
  private readonly changes = new Map<string, { name: string; input: Json }>();

  constructor(
    model: string,
    private readonly contextWindow: number,
  ) {
    this.model = model;
  }

  get sessionId(): string {
    return this.threadId;
  }

  get ready(): boolean {
    return this.threadId !== '';
  }

  /** JSON-RPC request ids for prompts, after the handshake's. */
  requestId(): number {
    return this.nextId++;
  }

  parse(line: string): EventBody[] {
    const parsed = parseLine(line);
    if (!parsed.ok) return [{ kind: 'error', message: parsed.message, line: line.slice(0, MAX_ERROR_LINE) }];
    const msg = parsed.value;
    if (msg.method === undefined && msg.id !== undefined) return this.response(msg);
    const method = str(msg.method, 'unknown');
    const params = asObject(msg.params) ?? {};
    if (msg.id !== undefined && (method === 'item/commandExecution/requestApproval' || method === 'item/fileChange/requestApproval')) return this.approvalRequest(msg.id, method, params);
    if (method === 'serverRequest/resolved') {
      // The app server settled a request itself (the turn was interrupted): one that waits on us is withdrawn.
      const id = this.requestKey(params.requestId);
      if (!id || !this.approvals.has(id)) return [];
      this.approvals.delete(id);
      return [{ kind: 'approvalResolved', requestId: id, decision: 'deny', by: 'agent', user: '', message: 'withdrawn by the agent' }];
    }
    if (IGNORED.has(method)) return [];
    switch (method) {
      case 'thread/started':
        return this.thread(asObject(params.thread), str(asObject(params.thread)?.model));
      case 'turn/started':
        this.turnId = str(asObject(params.turn)?.id);
        this.lastText = '';
        this.turnUsage = zero();
        return [];
      case 'item/started':
        return this.itemStarted(asObject(params.item) ?? {});
      case 'item/completed':
        return this.itemCompleted(asObject(params.item) ?? {});
      case 'item/agentMessage/delta':
        return [{ kind: 'textDelta', text: str(params.delta) }];
      case 'item/reasoning/summaryTextDelta':
        return [];
      case 'turn/plan/updated': {
        const plan = Array.isArray(params.plan) ? params.plan : [];
        return [{ kind: 'todo', todos: plan.map((s) => ({ content: str(asObject(s)?.step), status: PLAN_STATUS[str(asObject(s)?.status)] ?? 'pending' })) }];
      }
      case 'thread/tokenUsage/updated': {
        const tokenUsage = asObject(params.tokenUsage);
        const last = asObject(tokenUsage?.last) ?? {};
        // inputTokens counts the cached ones too; ours are disjoint.
        const usage = {
          inputTokens: Math.max(0, num(last.inputTokens) - num(last.cachedInputTokens)),
          outputTokens: num(last.outputTokens),
          cacheCreationInputTokens: num(last.cacheWriteInputTokens),
          cacheReadInputTokens: num(last.cachedInputTokens),
        };
        for (const k of Object.keys(usage) as (keyof Usage)[]) this.turnUsage[k] += usage[k];
        return [{ kind: 'usage', usage, contextWindow: num(tokenUsage?.modelContextWindow, this.contextWindow) }];
      }
      case 'turn/completed': {
        const turn = asObject(params.turn) ?? {};
        const status = str(turn.status, 'completed');
        this.turns++;
        this.turnId = '';
        const error = str(asObject(turn.error)?.message);
        return [
          {
            kind: 'result',
            subtype: status,
            // An interrupt is what the person asked for, not a failure.
            isError: status !== 'completed' && status !== 'interrupted',
            result: error || this.lastText,
            durationMs: num(turn.durationMs),
            numTurns: this.turns,
            costUSD: 0,
            usage: { ...this.turnUsage },
          },
        ];
      }
      case 'thread/name/updated':
        // A cleared name (null) keeps the last one: the task keeps a title.
        this.title = str(params.threadName) || this.title;
        return [];
      case 'error': {
        const err = asObject(params.error);
        const message = [str(err?.message, 'codex reported an error'), str(err?.additionalDetails)].filter(Boolean).join(': ');
        return params.willRetry === true ? [{ kind: 'system', subtype: 'retrying', detail: { message } }] : [{ kind: 'error', message }];
      }
      case 'model/rerouted': {
        this.model = str(params.toModel, this.model);
        return [{ kind: 'system', subtype: 'model_rerouted', detail: params }];
      }
      case 'thread/status/changed': {
        const type = str(asObject(params.status)?.type);
        return type ? [{ kind: 'system', subtype: `thread_${type}` }] : [];
      }
      default:
        return [{ kind: 'system', subtype: method, detail: params }];
    }
  }

  private requestKey(id: unknown): string {
    return typeof id === 'number' || (typeof id === 'string' && id) ? `codex-${String(id)}` : '';
  }

  /**
   * The app server asks before a command or a file change (approval policy "untrusted"): an
   * approval event with the call as the transcript shows it (a Bash command, the file changes).
   */
  private approvalRequest(rpcId: unknown, method: string, params: Json): EventBody[] {
    const requestId = this.requestKey(rpcId);
    if (!requestId) return [];
    this.approvals.set(requestId, rpcId as string | number);
    const itemId = str(params.itemId);
    const reason = str(params.reason);
    if (method === 'item/commandExecution/requestApproval') {
      return [{ kind: 'approval', requestId, toolUseId: itemId, tool: 'Bash', input: { command: unwrapShell(str(params.command)), cwd: params.cwd ?? '' }, reason, expiresAt: '' }];
    }
    const change = this.changes.get(itemId) ?? { name: 'Edit', input: { changes: [] } };
    return [{ kind: 'approval', requestId, toolUseId: itemId, tool: change.name, input: change.input, reason, expiresAt: '' }];
  }

  /** The JSON-RPC answer to an approval request, or null when the app server does not wait on it. */
  approvalAnswer(requestId: string, allow: boolean, always: boolean): string | null {
    const rpcId = this.approvals.get(requestId);
    if (rpcId === undefined) return null;
    this.approvals.delete(requestId);
    // "decline" lets the turn go on without the call (Codex takes no message with it).
    return `${JSON.stringify({ id: rpcId, result: { decision: allow ? (always ? 'acceptForSession' : 'accept') : 'decline' } })}\n`;
  }

  private response(msg: Json): EventBody[] {
    const error = asObject(msg.error);
    if (error) return [{ kind: 'error', message: `codex: ${str(error.message, 'request failed')}` }];
    const result = asObject(msg.result);
    // A turn/start answer names the turn before its turn/started notification does.
    const turnId = str(asObject(result?.turn)?.id);
    if (turnId && str(asObject(result?.turn)?.status) === 'inProgress') this.turnId = turnId;
    return this.thread(asObject(result?.thread), str(result?.model));
  }

  private thread(thread: Json | undefined, model: string): EventBody[] {
    const id = str(thread?.id);
    if (!id) return [];
    this.threadId = id;
    if (model) this.model = model;
    if (this.initSent) return [];
    this.initSent = true;
    return [{ kind: 'init', sessionId: id, model: this.model, agentVersion: str(thread?.cliVersion), tools: [], cwd: str(thread?.cwd) }];
  }

  private itemStarted(item: Json): EventBody[] {
    const id = str(item.id);
    switch (item.type) {
      case 'commandExecution':
        return [{ kind: 'toolUse', toolUseId: id, name: 'Bash', input: { command: unwrapShell(str(item.command)), cwd: item.cwd }, inputTruncated: false }];
      case 'fileChange': {
        const changes = Array.isArray(item.changes) ? item.changes : [];
        const allAdds = changes.length > 0 && changes.every((c) => asObject(asObject(c)?.kind)?.type === 'add');
        const first = str(asObject(changes[0])?.path);
        // A rule's pattern matches the first file's path.
        const input = { ...(first ? { file_path: first } : {}), changes };
        this.changes.set(id, { name: allAdds ? 'Write' : 'Edit', input });
        return [{ kind: 'toolUse', toolUseId: id, name: allAdds ? 'Write' : 'Edit', input, inputTruncated: false }];
      }
      case 'mcpToolCall':
        return [{ kind: 'toolUse', toolUseId: id, name: `mcp__${str(item.server)}__${str(item.tool)}`, input: item.arguments ?? {}, inputTruncated: false }];
      case 'dynamicToolCall':
        return [{ kind: 'toolUse', toolUseId: id, name: str(item.tool, 'tool'), input: item.arguments ?? {}, inputTruncated: false }];
      case 'collabAgentToolCall':
        return [{ kind: 'toolUse', toolUseId: id, name: 'Task', input: { prompt: item.prompt, tool: item.tool }, inputTruncated: false }];
      case 'webSearch':
        return [{ kind: 'toolUse', toolUseId: id, name: 'WebSearch', input: { query: item.query }, inputTruncated: false }];
      case 'imageView':
        return [{ kind: 'toolUse', toolUseId: id, name: 'Read', input: { file_path: item.path }, inputTruncated: false }];
      default:
        return [];
    }
  }

  private itemCompleted(item: Json): EventBody[] {
    const id = str(item.id);
    const status = str(item.status);
    const failed = status === 'failed' || status === 'declined';
    switch (item.type) {
      case 'agentMessage':
        this.lastText = str(item.text);
        return this.lastText ? [{ kind: 'text', text: this.lastText }] : [];
      case 'reasoning': {
        const list = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
        const parts = [...list(item.summary), ...list(item.content)];
        const text = parts.map((p) => (typeof p === 'string' ? p : str(asObject(p)?.text))).filter(Boolean).join('\n');
        return text ? [{ kind: 'thinking', text }] : [];
      }
      case 'plan':
        return str(item.text) ? [{ kind: 'thinking', text: str(item.text) }] : [];
      case 'commandExecution':
        return [
          {
            kind: 'toolResult',
            toolUseId: id,
            content: str(item.aggregatedOutput),
            isError: failed || (typeof item.exitCode === 'number' && item.exitCode !== 0),
            durationMs: num(item.durationMs),
          },
        ];
      case 'mcpToolCall': {
        const err = str(asObject(item.error)?.message);
        const content = err || (Array.isArray(asObject(item.result)?.content) ? (asObject(item.result)!.content as unknown[]).map((c) => str(asObject(c)?.text)).filter(Boolean).join('\n') : status);
        return [{ kind: 'toolResult', toolUseId: id, content, isError: failed || Boolean(err), durationMs: num(item.durationMs) }];
      }
      case 'fileChange':
        this.changes.delete(id);
        return [{ kind: 'toolResult', toolUseId: id, content: status || 'completed', isError: failed || item.success === false, durationMs: num(item.durationMs) }];
      case 'dynamicToolCall':
      case 'collabAgentToolCall':
      case 'webSearch':
      case 'imageView':
        return [{ kind: 'toolResult', toolUseId: id, content: status || 'completed', isError: failed || item.success === false, durationMs: num(item.durationMs) }];
      case 'userMessage':
        // The prompt is already in the transcript: caic records what it sends (caic_user_input).
        return [];
      case 'contextCompaction':
        return [{ kind: 'system', subtype: 'compact_boundary' }];
      default:
        return [];
    }
  }
}

/** Codex runs each command as `/bin/bash -lc "<command>"`; the command is what the agent wrote. */
export function unwrapShell(command: string): string {
  const m = /^\/bin\/(?:ba)?sh -l?c "((?:[^"\\]|\\.)*)"$/.exec(command);
  return m ? m[1]!.replace(/\\(["\\$`])/g, '$1') : command;
}

export { REQUEST_IDS };

// Agent Client Protocol (JSON-RPC 2.0 over stdio) → common events, for OpenCode (`opencode acp`) and
// Gemini CLI (`gemini --acp`). Shapes as opencode 1.18 and gemini-cli 0.61 emit them
// (test/fixtures/agents/{opencode,gemini}.jsonl are recordings). The parser also drives the
// handshake: each step's answer queues the next request (drain()).
import type { EventBody, PermissionMode, Usage } from '../../api/index.js';
import type { AgentParser } from '../types.js';
import { asObject, flattenContent, MAX_ERROR_LINE, num, parseLine, str, type Json } from '../util.js';

export const ACP_IDS = { initialize: 1, session: 2, model: 3 } as const;
export const FIRST_PROMPT_ID = 100;

export interface AcpDialect {
  /** Names the tool of a tool_call in Claude's vocabulary (the UI renders those), or null to fall back on its kind. */
  toolName(update: Json): string | null;
  /** Sets the model after session/new through the session's "model" config option (else the command line set it). */
  modelOption: boolean;
}

/** ACP tool kinds, as a fallback for tools a dialect does not name. */
const KIND_TOOLS: Record<string, string> = { edit: 'Edit', execute: 'Bash', read: 'Read', search: 'Grep', fetch: 'WebFetch', delete: 'Bash', move: 'Bash', think: 'Task' };
const STOP_SUBTYPES: Record<string, string> = { end_turn: 'success', cancelled: 'interrupted' };
const TODO_STATUS = new Set(['pending', 'in_progress', 'completed']);
const zero = (): Usage => ({ inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 });
const rpc = (o: Record<string, unknown>) => `${JSON.stringify({ jsonrpc: '2.0', ...o })}\n`;

/** Claude's input keys for the common camelCase ones (the UI reads file_path, old_string, ...). */
function claudeInput(raw: Json): Json {
  const out: Json = {};
  // OpenCode's permission requests say `filepath`.
  for (const [k, v] of Object.entries(raw)) out[k === 'filepath' ? 'file_path' : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  return out;
}

export class AcpParser implements AgentParser {
  sessionId = '';
  private modelSet: boolean;
  /** Where the live session starts (set by the handshake; a parser replaying a log never sends). */
  private start_: { cwd: string; resumeSessionId?: string } = { cwd: '' };
  private outbox: string[] = [];
  private nextId = FIRST_PROMPT_ID;
  private turns = 0;
  private text = '';
  private thought = '';
  private lastText = '';
  private cost = 0;
  /** Tool calls announced without input (OpenCode's `pending`): shown once their input is known. */
  private readonly held = new Map<string, Json>();
  private readonly shown = new Set<string>();
  /** Permission requests the agent waits on (tool approval): our request id → its JSON-RPC id and options. */
  private readonly permissions = new Map<string, { rpcId: unknown; options: Json[] }>();

  constructor(
    private readonly dialect: AcpDialect,
    private readonly opts: { model: string; contextWindow: number; permissionMode?: PermissionMode },
  ) {
    this.modelSet = !dialect.modelOption || !opts.model;
  }

  /** The task asks a person before tools run (mode ask or rules): permission requests become approvals. */
  private get asks(): boolean {
    return this.opts.permissionMode !== undefined && this.opts.permissionMode !== 'bypass';
  }

  /**
   * The answer to a permission request, queued on the outbox (returns '' then), or null when the
   * agent does not wait on it. ACP's options carry no message: a denial is "reject".
   */
  approvalAnswer(requestId: string, allow: boolean, always: boolean): string | null {
    const p = this.permissions.get(requestId);
    if (!p) return null;
    this.permissions.delete(requestId);
    const of = (kind: string) => p.options.find((o) => o.kind === kind);
    const pick = allow ? (always ? of('allow_always') ?? of('allow_once') : of('allow_once') ?? of('allow_always')) : of('reject_once') ?? of('reject_always');
    this.outbox.push(rpc({ id: p.rpcId, result: { outcome: pick ? { outcome: 'selected', optionId: pick.optionId } : { outcome: 'cancelled' } } }));
    return '';
  }

  /** After session/cancel ACP wants every pending permission request answered "cancelled". */
  cancelPermissions(): string {
    const lines = [...this.permissions.values()].map((p) => rpc({ id: p.rpcId, result: { outcome: { outcome: 'cancelled' } } }));
    this.permissions.clear();
    return lines.join('');
  }

  start(o: { cwd: string; resumeSessionId?: string }): void {
    this.start_ = { cwd: o.cwd, ...(o.resumeSessionId ? { resumeSessionId: o.resumeSessionId } : {}) };
  }

  /** The session answered (new or loaded). */
  private open = false;

  get ready(): boolean {
    return this.open && this.modelSet && this.promptSessionId !== '';
  }

  /** The session prompts go to: session/load may answer without repeating its id. */
  get promptSessionId(): string {
    return this.sessionId || this.start_.resumeSessionId || '';
  }

  drain(): string[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  /** The handshake's first step; the rest follows from the answers. */
  static initialize(): string {
    return rpc({
      id: ACP_IDS.initialize,
      method: 'initialize',
      params: { protocolVersion: 1, clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false }, clientInfo: { name: 'caic', title: 'caic', version: '1' } },
    });
  }

  /** JSON-RPC ids for prompts, after the handshake's. */
  requestId(): number {
    return this.nextId++;
  }

  parse(line: string): EventBody[] {
    const parsed = parseLine(line);
    if (!parsed.ok) return [{ kind: 'error', message: parsed.message, line: line.slice(0, MAX_ERROR_LINE) }];
    const msg = parsed.value;
    const method = typeof msg.method === 'string' ? msg.method : undefined;
    if (method !== undefined && msg.id !== undefined && msg.id !== null) return this.request(msg.id, method, asObject(msg.params) ?? {});
    if (method === undefined) return msg.id === undefined ? [{ kind: 'system', subtype: 'unknown', detail: msg }] : this.response(msg);
    if (method !== 'session/update') return [{ kind: 'system', subtype: method, detail: msg.params }];
    // Updates before the session answer are session/load replaying the conversation: caic has it
    // already. (A new session sends none before its answer.) Decided from the stream alone, so a
    // log replays to the same events.
    if (!this.open) return [];
    return this.update(asObject(asObject(msg.params)?.update) ?? {});
  }

  /**
   * The agent asks us something: permissions go to tool approval when the task asks a person, else
   * they are granted (caic runs agents unattended); the rest we do not offer.
   */
  private request(id: unknown, method: string, params: Json): EventBody[] {
    if (method === 'session/request_permission' && this.asks && (typeof id === 'number' || typeof id === 'string')) {
      const requestId = `acp-${String(id)}`;
      const options = (Array.isArray(params.options) ? params.options : []).map((o) => asObject(o) ?? {});
      this.permissions.set(requestId, { rpcId: id, options });
      const call = asObject(params.toolCall) ?? {};
      const name = this.dialect.toolName(call) ?? KIND_TOOLS[str(call.kind)] ?? (str(call.title) || 'tool');
      return [{ kind: 'approval', requestId, toolUseId: str(call.toolCallId), tool: name, input: this.inputOf(name, call), reason: str(call.title), expiresAt: '' }];
    }
    if (method === 'session/request_permission') {
      const options = (Array.isArray(params.options) ? params.options : []).map((o) => asObject(o) ?? {});
      // Once, not always: some agents refuse "always" outside a trusted folder.
      const pick = options.find((o) => o.kind === 'allow_once') ?? options.find((o) => o.kind === 'allow_always') ?? options[0];
      this.outbox.push(rpc({ id, result: pick ? { outcome: { outcome: 'selected', optionId: pick.optionId } } : { outcome: { outcome: 'cancelled' } } }));
      return [{ kind: 'system', subtype: 'permission_granted', detail: { tool: str(asObject(params.toolCall)?.title), option: str(pick?.optionId) } }];
    }
    this.outbox.push(rpc({ id, error: { code: -32601, message: `caic does not offer ${method}` } }));
    return [{ kind: 'system', subtype: 'request_refused', detail: { method } }];
  }

  private response(msg: Json): EventBody[] {
    const id = num(msg.id, -1);
    const error = asObject(msg.error);
    const result = asObject(msg.result) ?? {};
    if (id >= FIRST_PROMPT_ID) return [...this.flush(), this.result(result, error)];
    if (error) {
      // A failed step leaves the agent without a session; say why (the prompt waits, then fails).
      const message = [str(error.message, 'request failed'), str(asObject(error.data)?.message ?? error.data)].filter(Boolean).join(': ');
      if (id === ACP_IDS.model) this.modelSet = true;
      return [{ kind: 'error', message: `${id === ACP_IDS.model ? 'setting the model' : id === ACP_IDS.session ? 'starting the session' : 'initialize'} failed: ${message}` }];
    }
    switch (id) {
      case ACP_IDS.initialize: {
        const { resumeSessionId, cwd } = this.start_;
        this.outbox.push(
          rpc({ id: ACP_IDS.session, method: resumeSessionId ? 'session/load' : 'session/new', params: { ...(resumeSessionId ? { sessionId: resumeSessionId } : {}), cwd, mcpServers: [] } }),
        );
        const agent = asObject(result.agentInfo);
        this.agentVersion = str(agent?.version);
        return [];
      }
      case ACP_IDS.session: {
        this.open = true;
        // Only what the agent said: a log must replay to the same events without the start options.
        this.sessionId = str(result.sessionId);
        const options = Array.isArray(result.configOptions) ? result.configOptions.map((o) => asObject(o) ?? {}) : [];
        const current = str(options.find((o) => o.id === 'model')?.currentValue) || str(asObject(result.models)?.currentModelId);
        if (!this.modelSet && current !== this.opts.model) {
          this.outbox.push(rpc({ id: ACP_IDS.model, method: 'session/set_config_option', params: { sessionId: this.promptSessionId, configId: 'model', value: this.opts.model } }));
        } else this.modelSet = true;
        const mode = str(asObject(result.modes)?.currentModeId);
        return [{ kind: 'init', sessionId: this.sessionId, model: this.opts.model || current, agentVersion: this.agentVersion, tools: [], cwd: '' }, ...(mode ? [{ kind: 'system' as const, subtype: 'mode', detail: { mode } }] : [])];
      }
      case ACP_IDS.model:
        this.modelSet = true;
        return [];
      default:
        return [];
    }
  }

  private agentVersion = '';

  private result(result: Json, error: Json | undefined): EventBody {
    this.turns++;
    const usage = zero();
    const u = asObject(result.usage);
    const quota = asObject(asObject(asObject(result._meta)?.quota)?.token_count);
    if (u) {
      usage.inputTokens = num(u.inputTokens);
      usage.outputTokens = num(u.outputTokens);
      usage.cacheReadInputTokens = num(u.cachedReadTokens);
      usage.cacheCreationInputTokens = num(u.cachedWriteTokens);
    } else if (quota) {
      usage.inputTokens = num(quota.input_tokens);
      usage.outputTokens = num(quota.output_tokens);
    }
    const text = this.lastText;
    this.lastText = '';
    if (error) {
      const message = [str(error.message, 'the prompt failed'), str(asObject(error.data)?.message ?? error.data)].filter(Boolean).join(': ');
      return { kind: 'result', subtype: 'error', isError: true, result: message, durationMs: 0, numTurns: this.turns, costUSD: this.cost, usage };
    }
    const stop = str(result.stopReason, 'end_turn');
    return {
      kind: 'result',
      subtype: STOP_SUBTYPES[stop] ?? stop,
      isError: stop === 'refusal',
      result: text,
      durationMs: 0,
      numTurns: this.turns,
      costUSD: this.cost,
      usage,
    };
  }

  /** Streamed text and thoughts become whole blocks when something else comes (or the turn ends). */
  private flush(): EventBody[] {
    const out: EventBody[] = [];
    if (this.thought) out.push({ kind: 'thinking', text: this.thought });
    if (this.text) {
      out.push({ kind: 'text', text: this.text });
      this.lastText = this.text;
    }
    this.text = this.thought = '';
    return out;
  }

  private update(u: Json): EventBody[] {
    const kind = str(u.sessionUpdate);
    const content = asObject(u.content);
    switch (kind) {
      case 'agent_message_chunk': {
        const t = content?.type === 'text' ? str(content.text) : '';
        if (!t) return [];
        const out = this.thought ? this.flushThought() : [];
        this.text += t;
        return [...out, { kind: 'textDelta', text: t }];
      }
      case 'agent_thought_chunk': {
        const out = this.text ? this.flush() : [];
        this.thought += content?.type === 'text' ? str(content.text) : '';
        return out;
      }
      case 'tool_call':
        return [...this.flush(), ...this.toolCall(u)];
      case 'tool_call_update':
        return [...this.flush(), ...this.toolUpdate(u)];
      case 'plan': {
        const entries = (Array.isArray(u.entries) ? u.entries : []).map((e) => asObject(e) ?? {});
        return [...this.flush(), { kind: 'todo', todos: entries.map((e) => ({ content: str(e.content), status: TODO_STATUS.has(str(e.status)) ? str(e.status) : 'pending' })) }];
      }
      case 'usage_update': {
        const cost = asObject(u.cost);
        if (cost && str(cost.currency, 'USD') === 'USD') this.cost = num(cost.amount, this.cost);
        return [{ kind: 'usage', usage: { ...zero(), inputTokens: num(u.used) }, contextWindow: num(u.size, this.opts.contextWindow) }];
      }
      case 'current_mode_update':
        return [{ kind: 'system', subtype: 'mode', detail: { mode: str(u.currentModeId) } }];
      // Echoes and menus: the prompt is recorded by caic; commands and options are not shown.
      case 'user_message_chunk':
      case 'available_commands_update':
      case 'config_option_update':
      case 'session_info_update':
        return [];
      default:
        return [{ kind: 'system', subtype: kind || 'session_update', detail: u }];
    }
  }

  private flushThought(): EventBody[] {
    const out: EventBody[] = [{ kind: 'thinking', text: this.thought }];
    this.thought = '';
    return out;
  }

  private toolCall(u: Json): EventBody[] {
    const id = str(u.toolCallId);
    const raw = asObject(u.rawInput);
    // OpenCode announces a call before its input is known: wait for the update that has it.
    if (str(u.status) === 'pending' && (!raw || Object.keys(raw).length === 0)) {
      this.held.set(id, u);
      return [];
    }
    return this.showTool(id, u);
  }

  private showTool(id: string, u: Json): EventBody[] {
    if (this.shown.has(id)) return [];
    this.shown.add(id);
    const first = this.held.get(id) ?? u;
    this.held.delete(id);
    const name = this.dialect.toolName(first) ?? KIND_TOOLS[str(first.kind)] ?? (str(first.title) || 'tool');
    return [{ kind: 'toolUse', toolUseId: id, name, input: this.inputOf(name, u), inputTruncated: false }];
  }

  /** The tool's input as Claude names its keys; agents that send none (Gemini) get it from the call's title and locations. */
  private inputOf(name: string, u: Json): Json {
    const raw = asObject(u.rawInput);
    if (raw && Object.keys(raw).length) return claudeInput(raw);
    const path = str(asObject(Array.isArray(u.locations) ? u.locations[0] : undefined)?.path);
    const title = str(u.title);
    if (name === 'Bash') return { command: title };
    return { ...(path ? { file_path: path } : {}), ...(title ? { description: title } : {}) };
  }

  private toolUpdate(u: Json): EventBody[] {
    const id = str(u.toolCallId);
    const status = str(u.status);
    const out: EventBody[] = [];
    const raw = asObject(u.rawInput);
    if (!this.shown.has(id) && (status !== 'pending' || (raw && Object.keys(raw).length))) out.push(...this.showTool(id, u));
    if (status === 'completed' || status === 'failed') {
      if (!this.shown.has(id)) out.push(...this.showTool(id, u));
      out.push({ kind: 'toolResult', toolUseId: id, content: this.outputOf(u), isError: status === 'failed', durationMs: 0 });
    }
    return out;
  }

  private outputOf(u: Json): string {
    const parts: string[] = [];
    for (const c of Array.isArray(u.content) ? u.content : []) {
      const o = asObject(c) ?? {};
      if (o.type === 'content') parts.push(flattenContent([o.content]));
      else if (o.type === 'diff') parts.push(`${str(o.path)}: ${o.oldText ? 'edited' : 'written'}`);
      else if (o.type === 'terminal') parts.push(`[terminal ${str(o.terminalId)}]`);
    }
    const text = parts.filter(Boolean).join('\n');
    if (text) return text;
    const rawOut = asObject(u.rawOutput);
    return str(rawOut?.output) || str(rawOut?.error) || str(u.status);
  }
}

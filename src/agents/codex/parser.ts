// Codex `app-server` JSON-RPC (notifications and responses, "jsonrpc" header omitted) → common events.
import type { EventBody } from '../../api/index.js';
import type { AgentParser } from '../types.js';
import { asObject, MAX_ERROR_LINE, num, parseLine, str, type Json } from '../util.js';

const REQUEST_IDS = { initialize: 1, thread: 2 } as const;
export const FIRST_PROMPT_ID = 100;

export class CodexParser implements AgentParser {
  threadId = '';
  /** The thread's name once Codex gives it one (`thread/name/updated`): a title for the task. */
  title = '';
  private nextId = FIRST_PROMPT_ID;
  private turns = 0;
  private lastText = '';
  private turnUsage = { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };
  private initSent = false;

  constructor(
    private readonly model: string,
    private readonly contextWindow: number,
  ) {}

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
    const params = asObject(msg.params) ?? {};
    switch (msg.method) {
      case 'thread/started':
        return this.thread(asObject(params.thread));
      case 'turn/started':
        this.lastText = '';
        this.turnUsage = { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };
        return [];
      case 'item/started':
        return this.itemStarted(asObject(params.item) ?? {});
      case 'item/completed':
        return this.itemCompleted(asObject(params.item) ?? {});
      case 'item/agentMessage/delta':
        return [{ kind: 'textDelta', text: str(params.delta) }];
      case 'item/commandExecution/outputDelta':
      case 'item/reasoning/summaryTextDelta':
        return [];
      case 'thread/tokenUsage/updated': {
        const last = asObject(asObject(params.tokenUsage)?.last) ?? {};
        const usage = {
          inputTokens: num(last.inputTokens) - num(last.cachedInputTokens),
          outputTokens: num(last.outputTokens),
          cacheCreationInputTokens: 0,
          cacheReadInputTokens: num(last.cachedInputTokens),
        };
        for (const k of Object.keys(usage) as (keyof typeof usage)[]) this.turnUsage[k] += usage[k];
        const window = num(asObject(params.tokenUsage)?.modelContextWindow, this.contextWindow);
        return [{ kind: 'usage', usage, contextWindow: window }];
      }
      case 'turn/completed': {
        const turn = asObject(params.turn) ?? {};
        const status = str(turn.status, 'completed');
        this.turns++;
        const error = str(asObject(turn.error)?.message);
        return [
          {
            kind: 'result',
            subtype: status,
            isError: status !== 'completed',
            result: error || this.lastText,
            durationMs: 0,
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
        const message = str(asObject(params.error)?.message, 'codex reported an error');
        return params.willRetry === true ? [{ kind: 'system', subtype: 'retrying', detail: params }] : [{ kind: 'error', message }];
      }
      default:
        return [{ kind: 'system', subtype: str(msg.method, 'unknown'), detail: params }];
    }
  }

  private response(msg: Json): EventBody[] {
    const error = asObject(msg.error);
    if (error) return [{ kind: 'error', message: `codex: ${str(error.message, 'request failed')}` }];
    return this.thread(asObject(asObject(msg.result)?.thread));
  }

  private thread(thread: Json | undefined): EventBody[] {
    const id = str(thread?.id);
    if (!id) return [];
    this.threadId = id;
    if (this.initSent) return [];
    this.initSent = true;
    return [{ kind: 'init', sessionId: id, model: str(thread?.model, this.model), agentVersion: '', tools: [], cwd: str(thread?.cwd) }];
  }

  private itemStarted(item: Json): EventBody[] {
    const id = str(item.id);
    switch (item.type) {
      case 'commandExecution':
        return [{ kind: 'toolUse', toolUseId: id, name: 'Bash', input: { command: item.command, cwd: item.cwd }, inputTruncated: false }];
      case 'fileChange': {
        const changes = Array.isArray(item.changes) ? item.changes : [];
        const allAdds = changes.length > 0 && changes.every((c) => asObject(c)?.kind === 'add' || asObject(asObject(c)?.kind)?.type === 'add');
        return [{ kind: 'toolUse', toolUseId: id, name: allAdds ? 'Write' : 'Edit', input: { changes }, inputTruncated: false }];
      }
      case 'mcpToolCall':
        return [{ kind: 'toolUse', toolUseId: id, name: `mcp__${str(item.server)}__${str(item.tool)}`, input: item.arguments ?? {}, inputTruncated: false }];
      case 'webSearch':
        return [{ kind: 'toolUse', toolUseId: id, name: 'WebSearch', input: { query: item.query }, inputTruncated: false }];
      default:
        return [];
    }
  }

  private itemCompleted(item: Json): EventBody[] {
    const id = str(item.id);
    switch (item.type) {
      case 'agentMessage':
        this.lastText = str(item.text);
        return [{ kind: 'text', text: this.lastText }];
      case 'reasoning': {
        const summary = Array.isArray(item.summary) ? item.summary.filter((s): s is string => typeof s === 'string').join('\n') : str(item.text);
        return summary ? [{ kind: 'thinking', text: summary }] : [];
      }
      case 'commandExecution':
        return [
          {
            kind: 'toolResult',
            toolUseId: id,
            content: str(item.aggregatedOutput),
            isError: item.status === 'failed' || (typeof item.exitCode === 'number' && item.exitCode !== 0),
            durationMs: num(item.durationMs),
          },
        ];
      case 'fileChange':
      case 'mcpToolCall':
      case 'webSearch':
        return [{ kind: 'toolResult', toolUseId: id, content: str(item.status, 'completed'), isError: item.status === 'failed', durationMs: 0 }];
      case 'userMessage': {
        const content = Array.isArray(item.content) ? item.content : [];
        const text = content.map((c) => str(asObject(c)?.text)).filter(Boolean).join('\n');
        const images = content.filter((c) => asObject(c)?.type === 'image' || asObject(c)?.type === 'localImage').length;
        return [{ kind: 'userInput', text, images }];
      }
      case 'contextCompaction':
        return [{ kind: 'system', subtype: 'compact_boundary' }];
      default:
        return [];
    }
  }
}

export { REQUEST_IDS };

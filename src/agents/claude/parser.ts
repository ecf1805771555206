// Claude Code stream-json → common events (also used for the fake agent, which speaks it).
import type { EventBody } from '../../api/index.js';
import type { AgentParser, DeltaPiece } from '../types.js';
import { asObject, flattenContent, MAX_ERROR_LINE, num, parseLine, str, type Json } from '../util.js';

const IGNORED_SYSTEM = new Set(['status', 'progress', 'turn_duration', 'hook_response']);
/** What Claude Code records as the user's turn when one was interrupted (also `… for tool use]`). */
const INTERRUPTED = /^\[Request interrupted by user[^\]]*\]$/;

function usageOf(u: unknown) {
  const o = asObject(u) ?? {};
  return {
    inputTokens: num(o.input_tokens),
    outputTokens: num(o.output_tokens),
    cacheCreationInputTokens: num(o.cache_creation_input_tokens),
    cacheReadInputTokens: num(o.cache_read_input_tokens),
  };
}

/**
 * Most lines of a Claude Code log are text deltas, always serialised with this key order. Reading
 * just their text literal replays history several times faster than parsing the whole line; any
 * other shape takes the full path, so the result is the same either way.
 */
const TEXT_DELTA = /^\{"type":"stream_event","event":\{"type":"content_block_delta","index":\d+,"delta":\{"type":"text_delta","text":("(?:[^"\\]|\\.)*")\}\},"session_id":"([^"\\]*)","parent_tool_use_id":(?:null|"[^"\\]*"),"uuid":"[^"\\]*"\}$/;

const NON_ASCII = /[\u0080-\u00ff]/;
/** A string literal with no escapes (and no raw control characters, which JSON forbids) is its text. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NEEDS_PARSE = /[\\\u0000-\u001f]/;

/** The field of each streamed delta kind that carries its text. */
const DELTA_TEXT_FIELD: Record<string, string> = { text_delta: 'text', thinking_delta: 'thinking', input_json_delta: 'partial_json' };

/** A stream-json content_block_delta line (text, thinking or a tool's input as it streams), for Harness.deltaPiece. */
export function claudeDeltaPiece(line: Buffer): DeltaPiece | null {
  if (!line.includes('"content_block_delta"')) return null;
  const msg = parseLine(line.toString('utf8'));
  if (!msg.ok) return null;
  const event = asObject(msg.value.event);
  const delta = asObject(event?.delta);
  const field = DELTA_TEXT_FIELD[str(delta?.type)];
  if (msg.value.type !== 'stream_event' || event?.type !== 'content_block_delta' || !delta || !field || typeof delta[field] !== 'string') return null;
  return {
    text: delta[field],
    replace: (text) => {
      delta[field] = text;
      return Buffer.from(JSON.stringify(msg.value));
    },
  };
}

export class ClaudeParser implements AgentParser {
  sessionId = '';
  readonly ready = true;

  constructor(private readonly contextWindow: number) {}

  parse(line: string): EventBody[] {
    return this.textDelta(line, false) ?? this.full(line);
  }

  parseBinary(line: string): EventBody[] | null {
    return this.textDelta(line, true);
  }

  /** A text delta in Claude Code's key order: only its text literal is parsed. */
  private textDelta(line: string, binary: boolean): EventBody[] | null {
    const m = TEXT_DELTA.exec(line);
    if (!m) return null;
    let literal = m[1]!;
    if (binary && NON_ASCII.test(literal)) literal = Buffer.from(literal, 'latin1').toString('utf8');
    let text: string;
    if (!NEEDS_PARSE.test(literal)) text = literal.slice(1, -1);
    else {
      try {
        text = JSON.parse(literal) as string;
      } catch {
        return null; // an invalid escape: the full path reports the line
      }
    }
    const sid = m[2]!;
    if (sid) this.sessionId = binary && NON_ASCII.test(sid) ? Buffer.from(sid, 'latin1').toString('utf8') : sid;
    return [{ kind: 'textDelta', text }];
  }

  private full(line: string): EventBody[] {
    const parsed = parseLine(line);
    if (!parsed.ok) return [{ kind: 'error', message: parsed.message, line: line.slice(0, MAX_ERROR_LINE) }];
    const msg = parsed.value;
    if (typeof msg.session_id === 'string' && msg.session_id) this.sessionId = msg.session_id;
    switch (msg.type) {
      case 'system':
        return this.system(msg);
      case 'assistant':
        return this.assistant(msg);
      case 'user':
        return this.user(msg);
      case 'result': {
        // An interrupt ends the turn as an error_during_execution whose terminal reason says so.
        const interrupted = str(msg.terminal_reason).startsWith('aborted');
        return [
          {
            kind: 'result',
            subtype: interrupted ? 'interrupted' : str(msg.subtype, 'success'),
            isError: !interrupted && msg.is_error === true,
            result: str(msg.result),
            durationMs: num(msg.duration_ms),
            numTurns: num(msg.num_turns),
            costUSD: num(msg.total_cost_usd),
            usage: usageOf(msg.usage),
          },
        ];
      }
      case 'control_request':
        // Our own request, logged with the rest of stdin; Claude Code's answer and its marker say the rest.
        return [];
      case 'control_response':
        return [];
      case 'stream_event': {
        const ev = asObject(msg.event);
        const delta = asObject(ev?.delta);
        if (ev?.type === 'content_block_delta' && delta?.type === 'text_delta') return [{ kind: 'textDelta', text: str(delta.text) }];
        return [];
      }
      case 'rate_limit_event':
        return [{ kind: 'rateLimit', info: msg.rate_limit_info ?? msg }];
      default:
        return [{ kind: 'system', subtype: str(msg.type, 'unknown'), detail: msg }];
    }
  }

  private system(msg: Json): EventBody[] {
    const subtype = str(msg.subtype);
    if (subtype === 'init') {
      return [
        {
          kind: 'init',
          sessionId: str(msg.session_id),
          model: str(msg.model),
          agentVersion: str(msg.claude_code_version),
          tools: Array.isArray(msg.tools) ? msg.tools.filter((t): t is string => typeof t === 'string') : [],
          cwd: str(msg.cwd),
        },
      ];
    }
    if (subtype === 'task_started') return [{ kind: 'subagentStart', taskId: str(msg.task_id), description: str(msg.description) }];
    if (subtype === 'task_notification') return [{ kind: 'subagentEnd', taskId: str(msg.task_id), status: str(msg.status) }];
    if (IGNORED_SYSTEM.has(subtype)) return [];
    return [{ kind: 'system', subtype: subtype || 'system', detail: msg }];
  }

  private assistant(msg: Json): EventBody[] {
    const message = asObject(msg.message) ?? {};
    const out: EventBody[] = [];
    for (const block of Array.isArray(message.content) ? message.content : []) {
      const b = asObject(block);
      if (!b) continue;
      if (b.type === 'text' && str(b.text)) out.push({ kind: 'text', text: str(b.text) });
      else if (b.type === 'thinking' && str(b.thinking)) out.push({ kind: 'thinking', text: str(b.thinking) });
      else if (b.type === 'tool_use') {
        const toolUseId = str(b.id);
        const name = str(b.name);
        const input = b.input ?? {};
        out.push({ kind: 'toolUse', toolUseId, name, input, inputTruncated: false });
        const inp = asObject(input);
        if (name === 'AskUserQuestion' && Array.isArray(inp?.questions)) {
          out.push({
            kind: 'ask',
            toolUseId,
            questions: inp.questions.map((q) => {
              const o = asObject(q) ?? {};
              return {
                question: str(o.question),
                ...(typeof o.header === 'string' ? { header: o.header } : {}),
                options: (Array.isArray(o.options) ? o.options : []).map((opt) => {
                  const p = asObject(opt) ?? {};
                  return { label: str(p.label), ...(typeof p.description === 'string' ? { description: p.description } : {}) };
                }),
                multiSelect: o.multiSelect === true,
              };
            }),
          });
        } else if (name === 'TodoWrite' && Array.isArray(inp?.todos)) {
          out.push({
            kind: 'todo',
            todos: inp.todos.map((t) => {
              const o = asObject(t) ?? {};
              return { content: str(o.content), status: str(o.status), ...(typeof o.activeForm === 'string' ? { activeForm: o.activeForm } : {}) };
            }),
          });
        }
      }
    }
    if (message.usage) out.push({ kind: 'usage', usage: usageOf(message.usage), contextWindow: this.contextWindow });
    return out;
  }

  private user(msg: Json): EventBody[] {
    const content = asObject(msg.message)?.content;
    if (typeof content === 'string') return INTERRUPTED.test(content) ? [{ kind: 'system', subtype: 'interrupted' }] : [{ kind: 'userInput', text: content, images: 0 }];
    const out: EventBody[] = [];
    let text = '';
    let images = 0;
    for (const block of Array.isArray(content) ? content : []) {
      const b = asObject(block);
      if (!b) continue;
      if (b.type === 'tool_result') {
        out.push({ kind: 'toolResult', toolUseId: str(b.tool_use_id), content: flattenContent(b.content), isError: b.is_error === true, durationMs: 0 });
      } else if (b.type === 'text') text += (text ? '\n' : '') + str(b.text);
      else if (b.type === 'image') images++;
    }
    // Not the person's words.
    if (INTERRUPTED.test(text) && !images) out.push({ kind: 'system', subtype: 'interrupted' });
    // Claude Code marks its own synthetic user messages; they are not the person's words.
    else if ((text || images) && msg.isSynthetic !== true) out.push({ kind: 'userInput', text, images });
    return out;
  }
}

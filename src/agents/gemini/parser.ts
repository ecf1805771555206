// Gemini CLI `--output-format stream-json` → common events; tool names mapped to Claude's vocabulary.
import type { EventBody } from '../../api/index.js';
import type { AgentParser } from '../types.js';
import { MAX_ERROR_LINE, asObject, num, parseLine, str } from '../util.js';

export const GEMINI_TOOL_NAMES: Record<string, string> = {
  read_file: 'Read',
  read_many_files: 'Read',
  write_file: 'Write',
  replace: 'Edit',
  run_shell_command: 'Bash',
  search_file_content: 'Grep',
  grep: 'Grep',
  glob: 'Glob',
  web_fetch: 'WebFetch',
  google_web_search: 'WebSearch',
  ask_user: 'AskUserQuestion',
  write_todos: 'TodoWrite',
  list_directory: 'ListDirectory',
};

export class GeminiParser implements AgentParser {
  sessionId = '';
  readonly ready = true;
  private turns = 0;
  private text = '';

  constructor(private readonly contextWindow: number) {}

  parse(line: string): EventBody[] {
    const parsed = parseLine(line);
    if (!parsed.ok) return [{ kind: 'error', message: parsed.message, line: line.slice(0, MAX_ERROR_LINE) }];
    const msg = parsed.value;
    switch (msg.type) {
      case 'init':
        this.sessionId = str(msg.session_id);
        return [{ kind: 'init', sessionId: this.sessionId, model: str(msg.model), agentVersion: '', tools: [], cwd: '' }];
      case 'message': {
        const content = str(msg.content);
        if (msg.role === 'user') return [{ kind: 'userInput', text: content, images: 0 }];
        if (msg.delta === true) {
          this.text += content;
          return [{ kind: 'textDelta', text: content }];
        }
        this.text = content;
        return [{ kind: 'text', text: content }];
      }
      case 'tool_use': {
        const raw = str(msg.tool_name);
        return [{ kind: 'toolUse', toolUseId: str(msg.tool_id), name: GEMINI_TOOL_NAMES[raw] ?? raw, input: msg.parameters ?? {}, inputTruncated: false }];
      }
      case 'tool_result':
        return [
          {
            kind: 'toolResult',
            toolUseId: str(msg.tool_id),
            content: str(msg.output) || str(asObject(msg.error)?.message),
            isError: msg.status === 'error',
            durationMs: 0,
          },
        ];
      case 'error':
        return [{ kind: 'error', message: str(msg.message, 'gemini reported an error') }];
      case 'result': {
        const stats = asObject(msg.stats) ?? {};
        this.turns++;
        const text = this.text;
        this.text = '';
        const isError = msg.status !== 'success';
        return [
          { kind: 'usage', usage: { inputTokens: num(stats.input_tokens), outputTokens: num(stats.output_tokens), cacheCreationInputTokens: 0, cacheReadInputTokens: num(stats.cached) }, contextWindow: this.contextWindow },
          {
            kind: 'result',
            subtype: str(msg.status, 'success'),
            isError,
            result: isError ? str(asObject(msg.error)?.message, text) : text,
            durationMs: num(stats.duration_ms),
            numTurns: this.turns,
            costUSD: 0,
            usage: { inputTokens: num(stats.input_tokens), outputTokens: num(stats.output_tokens), cacheCreationInputTokens: 0, cacheReadInputTokens: num(stats.cached) },
          },
        ];
      }
      default:
        return [{ kind: 'system', subtype: str(msg.type, 'unknown'), detail: msg }];
    }
  }
}

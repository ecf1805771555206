// Gemini CLI: `gemini --acp`, the Agent Client Protocol over stdio. (Its `-p` stream-json mode runs
// one prompt and exits; ACP keeps the session and can cancel a turn.)
import { acpHarness } from '../acp/harness.js';
import { str } from '../util.js';

export const GEMINI_TOOL_NAMES: Record<string, string> = {
  read_file: 'Read',
  read_many_files: 'Read',
  write_file: 'Write',
  replace: 'Edit',
  run_shell_command: 'Bash',
  search_file_content: 'Grep',
  grep_search: 'Grep',
  grep: 'Grep',
  glob: 'Glob',
  web_fetch: 'WebFetch',
  google_web_search: 'WebSearch',
  ask_user: 'AskUserQuestion',
  write_todos: 'TodoWrite',
  list_directory: 'ListDirectory',
};

export const geminiHarness = acpHarness({
  name: 'gemini',
  // What gemini-cli 0.61 offers in a session; `auto` lets it route between them.
  models: ['auto', 'gemini-2.5-pro', 'gemini-3.8-flash', 'gemini-3.5-flash-lite'],
  defaultModel: 'auto',
  supportsImages: true,
  credentials: { anyOf: ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_GENAI_USE_VERTEXAI'], fix: 'set GEMINI_API_KEY in [harness.gemini.env]' },
  contextWindow: () => 1_000_000,
  // --skip-trust: a fresh container's checkout is not a folder the CLI has seen; without it, yolo
  // (approve every tool, as caic runs agents) is refused there. With tool approval it runs in its
  // default mode: it asks (session/request_permission) before edits, shell commands and fetches.
  argv: (o) => ['gemini', '--acp', ...(!o.permissionMode || o.permissionMode === 'bypass' ? ['--yolo'] : []), '--skip-trust', ...(o.model && o.model !== 'auto' ? ['--model', o.model] : [])],
  dialect: {
    // Call ids start with the tool's name: `write_file__write_file_1796004860939_0`.
    toolName: (u) => GEMINI_TOOL_NAMES[str(u.toolCallId).split('__')[0] ?? ''] ?? null,
    modelOption: false,
  },
});

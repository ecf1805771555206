// OpenCode: `opencode acp`, the Agent Client Protocol over stdio (spec §4.4).
import { acpHarness } from '../acp/harness.js';
import { asObject, str } from '../util.js';

/** OpenCode's tool names (the title of a new tool call) in Claude's vocabulary. */
export const OPENCODE_TOOL_NAMES: Record<string, string> = {
  bash: 'Bash',
  read: 'Read',
  write: 'Write',
  edit: 'Edit',
  multiedit: 'Edit',
  patch: 'Edit',
  glob: 'Glob',
  grep: 'Grep',
  list: 'ListDirectory',
  webfetch: 'WebFetch',
  websearch: 'WebSearch',
  todowrite: 'TodoWrite',
  todoread: 'TodoRead',
  task: 'Task',
  skill: 'Skill',
};

export const opencodeHarness = acpHarness({
  name: 'opencode',
  // Provider/model ids as opencode 1.18 lists them; the provider's key must be in [harness.opencode.env].
  models: [
    'anthropic/claude-sonnet-4-5',
    'anthropic/claude-sonnet-4-6',
    'anthropic/claude-sonnet-5',
    'anthropic/claude-opus-5-5',
    'anthropic/claude-haiku-4-5',
    'openai/gpt-5.5',
    'google/gemini-2.5-pro',
    'opencode/big-pickle',
  ],
  defaultModel: 'anthropic/claude-sonnet-4-5',
  supportsImages: true,
  credentials: {
    anyOf: ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'GOOGLE_GENERATIVE_AI_API_KEY', 'OPENROUTER_API_KEY', 'OPENCODE_API_KEY', 'OPENCODE_AUTH_CONTENT'],
    fix: "set the model provider's API key (e.g. ANTHROPIC_API_KEY) in [harness.opencode.env]",
  },
  contextWindow: () => 200_000,
  // OpenCode allows every tool unless its permission config says "ask" (OPENCODE_PERMISSION, JSON,
  // merged over its config): with tool approval it asks before edits, shell commands and fetches.
  argv: (o) => [...(!o.permissionMode || o.permissionMode === 'bypass' ? [] : ['env', `OPENCODE_PERMISSION=${JSON.stringify({ edit: 'ask', bash: 'ask', webfetch: 'ask' })}`]), 'opencode', 'acp'],
  dialect: {
    toolName: (u) => OPENCODE_TOOL_NAMES[str(asObject(u)?.title)] ?? null,
    // `opencode acp` takes no model flag: the session's "model" option sets it.
    modelOption: true,
  },
});

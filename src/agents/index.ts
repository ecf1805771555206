// Public surface of src/agents: the harness registry, the relay commands and deployable assets.
import type { HarnessName } from '../api/index.js';
import { claudeHarness } from './claude/harness.js';
import { codexHarness } from './codex/harness.js';
import { fakeHarness } from './fake/harness.js';
import { geminiHarness } from './gemini/harness.js';
import type { Harness } from './types.js';

export type { Harness, AgentParser, StartOptions, AssetPaths } from './types.js';
export { parseLine, type ParsedLine } from './util.js';
export { ClaudeParser } from './claude/parser.js';
export { CodexParser } from './codex/parser.js';
export { GeminiParser, GEMINI_TOOL_NAMES } from './gemini/parser.js';
export { claudeUserMessage } from './claude/harness.js';
export * from './assets.js';

export const HARNESSES: ReadonlyMap<HarnessName, Harness> = new Map<HarnessName, Harness>([
  ['claude', claudeHarness],
  ['codex', codexHarness],
  ['gemini', geminiHarness],
  ['fake', fakeHarness],
]);

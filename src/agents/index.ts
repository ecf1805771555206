// Public surface of src/agents: the harness registry, the relay commands and deployable assets.
import type { HarnessName } from '../api/index.js';
import { claudeHarness } from './claude/harness.js';
import { codexHarness } from './codex/harness.js';
import { fakeHarness } from './fake/harness.js';
import { geminiHarness } from './gemini/harness.js';
import { opencodeHarness } from './opencode/harness.js';
import type { Harness } from './types.js';

export type { Harness, AgentParser, StartOptions, AssetPaths, CredentialSpec, DeltaPiece } from './types.js';
export { parseLine, type ParsedLine } from './util.js';
export { ClaudeParser } from './claude/parser.js';
export { CodexParser, unwrapShell } from './codex/parser.js';
export { AcpParser } from './acp/parser.js';
export { GEMINI_TOOL_NAMES } from './gemini/harness.js';
export { OPENCODE_TOOL_NAMES } from './opencode/harness.js';
export { claudeUserMessage, claudeInterrupt } from './claude/harness.js';
export * from './assets.js';
export { HarnessReadiness, harnessInfo, imageEventConcerns, type ImageAgents, type ReadinessDeps } from './readiness.js';

export const HARNESSES: ReadonlyMap<HarnessName, Harness> = new Map<HarnessName, Harness>([
  ['claude', claudeHarness],
  ['codex', codexHarness],
  ['gemini', geminiHarness],
  ['opencode', opencodeHarness],
  ['fake', fakeHarness],
]);

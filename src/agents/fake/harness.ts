// The fake harness: the scripted agent (fake-agent.ts) deployed into the container, Claude's wire format.
import { claudeInterrupt, claudeUserMessage } from '../claude/harness.js';
import { claudeDeltaPiece, ClaudeParser } from '../claude/parser.js';
import type { Harness } from '../types.js';

export const fakeHarness: Harness = {
  name: 'fake',
  models: ['fake-model'],
  defaultModel: 'fake-model',
  supportsImages: true,
  supportsCompact: true,
  supportsInterrupt: true,
  readyTimeoutMs: 30_000,
  credentials: null,
  contextWindow: () => 200_000,
  argv: (o, assets) => ['node', assets.fakeAgent, '--model', o.model, ...(o.resumeSessionId ? ['--resume', o.resumeSessionId] : [])],
  logStdin: true,
  handshake: () => [],
  encodePrompt: (prompt) => claudeUserMessage(prompt),
  encodeCompact: (instructions) => claudeUserMessage({ text: `/compact ${instructions ?? ''}`.trim() }),
  encodeInterrupt: () => claudeInterrupt(),
  newParser: () => new ClaudeParser(200_000),
  deltaPiece: claudeDeltaPiece,
};

// The images the real-client tests run (npm run env:docker builds them) and the CLI versions in them.
import type { AgentCli } from '../../src/containers/index.js';

/** The agent image plus one agent CLI each, for the real-client tests. */
export const CLAUDE_TEST_IMAGE = 'caic-agent-claude:latest';
export const CODEX_TEST_IMAGE = 'caic-agent-codex:latest';
export const GEMINI_TEST_IMAGE = 'caic-agent-gemini:latest';
export const OPENCODE_TEST_IMAGE = 'caic-agent-opencode:latest';

/**
 * The CLI versions the tests run, pinned: the fixtures in test/fixtures/agents were recorded from
 * them, and a new release must not change the suite without a look at what it emits.
 */
export const TEST_AGENTS: Record<AgentCli, { image: string; version: string }> = {
  claude: { image: CLAUDE_TEST_IMAGE, version: '2.1.332' },
  codex: { image: CODEX_TEST_IMAGE, version: '0.171.0' },
  gemini: { image: GEMINI_TEST_IMAGE, version: '0.61.0' },
  opencode: { image: OPENCODE_TEST_IMAGE, version: '1.18.33' },
};


// The real Claude Code CLI in a task container, talking to a stub of the Anthropic Messages API that
// runs in the same container on 127.0.0.1. The transcript must show the whole loop and the diff the
// file; a stream-json interrupt ends a running turn without stopping the task.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLAUDE_STANDIN, REAL_AGENT_TIMEOUT_MS, startRealAgent, writeThenInterrupt, type RealAgentOptions } from '../helpers/real-agent.js';
import { TEST_AGENTS } from '../tools/test-images.js';

const options: RealAgentOptions & { tool: string } = {
  ...CLAUDE_STANDIN,
  file: 'CLAUDE_WAS_HERE.md',
  tool: 'Write',
};

test('harness = claude: init, toolUse, toolResult, text, result; the file is in the diff; interrupt ends the turn', { timeout: REAL_AGENT_TIMEOUT_MS }, async () => {
  await using run = await startRealAgent(options);
  const events = await writeThenInterrupt(run, options);
  const init = events.find((e) => e.kind === 'init');
  assert.ok(init?.kind === 'init' && init.agentVersion === TEST_AGENTS.claude.version, JSON.stringify(init));
  assert.ok(events.some((e) => e.kind === 'system' && e.subtype === 'interrupted'), "Claude Code's interrupt marker, not a user message");
  assert.ok(!events.some((e) => e.kind === 'userInput' && e.text.startsWith('[Request interrupted')));
  const requests = await run.requests();
  assert.match(requests, /"url":"\/v1\/messages/, 'Claude Code called the stub');
});

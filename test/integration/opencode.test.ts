// The real OpenCode CLI (`opencode acp`, from npm) in a task container, its Anthropic provider pointed
// at the Messages API stub in the same container: the transcript shows the whole loop, the diff has
// the file, and an interrupt (ACP session/cancel) ends a running turn without stopping the task.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REAL_AGENT_PODMAN_SKIP, REAL_AGENT_TIMEOUT_MS, startRealAgent, writeThenInterrupt, type RealAgentOptions } from '../helpers/real-agent.js';
import { OPENCODE_TEST_IMAGE, TEST_AGENTS } from '../tools/test-images.js';

const options: RealAgentOptions & { tool: string } = {
  harness: 'opencode',
  model: 'anthropic/claude-sonnet-4-5',
  image: OPENCODE_TEST_IMAGE,
  // No internet here: OpenCode's model catalogue stays the one it ships.
  env: { ANTHROPIC_API_KEY: 'sk-ant-test-opencode-0123456789', ANTHROPIC_BASE_URL: 'http://127.0.0.1:8765/v1', OPENCODE_DISABLE_MODELS_FETCH: '1', OPENCODE_DISABLE_AUTOUPDATE: '1' },
  stub: { script: 'anthropic-stub.mjs', env: { STUB_FILE: '/home/user/src/proj/OPENCODE_WAS_HERE.md' } },
  file: 'OPENCODE_WAS_HERE.md',
  tool: 'Write',
};

test('harness = opencode: init, Write, result, the file in the diff; interrupt ends the turn', { timeout: REAL_AGENT_TIMEOUT_MS, skip: REAL_AGENT_PODMAN_SKIP }, async () => {
  await using run = await startRealAgent(options);
  const events = await writeThenInterrupt(run, options);
  const init = events.find((e) => e.kind === 'init');
  assert.ok(init?.kind === 'init' && init.agentVersion === TEST_AGENTS.opencode.version && init.sessionId.startsWith('ses_'), JSON.stringify(init));
  const write = events.find((e) => e.kind === 'toolUse');
  assert.deepEqual(write?.kind === 'toolUse' && write.input, { file_path: '/home/user/src/proj/OPENCODE_WAS_HERE.md', content: '# OpenCode was here\n' });
  const requests = await run.requests();
  assert.match(requests, /"model":"claude-sonnet-4-5"/, 'the model set over ACP reached the provider');
  assert.ok(!events.some((e) => e.kind === 'error'), JSON.stringify(events.filter((e) => e.kind === 'error')));
});

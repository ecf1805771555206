// The real Codex CLI (`codex app-server`, from npm) in a task container against a stub of the OpenAI
// Responses API in the same container: the transcript shows the whole loop, the diff has the file,
// and an interrupt ends a running turn without stopping the task.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REAL_AGENT_PODMAN_SKIP, REAL_AGENT_TIMEOUT_MS, startRealAgent, writeThenInterrupt, type RealAgentOptions } from '../helpers/real-agent.js';
import { CODEX_TEST_IMAGE, TEST_AGENTS } from '../tools/test-images.js';

const KEY = 'sk-test-codex-0123456789abcdef';
const options: RealAgentOptions & { tool: string } = {
  harness: 'codex',
  image: CODEX_TEST_IMAGE,
  // Neither is read by the app server itself: the harness logs in with the key and passes the URL.
  env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: 'http://127.0.0.1:8766/v1' },
  stub: { script: 'openai-stub.mjs' },
  file: 'CODEX_WAS_HERE.md',
  tool: 'Bash',
};

test('harness = codex: init, Bash, result, the file in the diff; interrupt ends the turn', { timeout: REAL_AGENT_TIMEOUT_MS, skip: REAL_AGENT_PODMAN_SKIP }, async () => {
  await using run = await startRealAgent(options);
  const events = await writeThenInterrupt(run, options);
  const init = events.find((e) => e.kind === 'init');
  assert.ok(init?.kind === 'init' && init.agentVersion === TEST_AGENTS.codex.version && init.sessionId, JSON.stringify(init));
  const bash = events.find((e) => e.kind === 'toolUse');
  assert.ok(bash?.kind === 'toolUse' && /printf '# Codex was here\\n' > CODEX_WAS_HERE\.md/.test(String((bash.input as { command: string }).command)), JSON.stringify(bash));
  const requests = await run.requests();
  assert.match(requests, /"method":"POST","url":"\/v1\/responses"/, 'Codex called the stub');
  assert.match(requests, new RegExp(`"auth":"Bearer ${KEY}"`), 'with the key from [harness.codex.env]');
  assert.ok(!events.some((e) => e.kind === 'error'), JSON.stringify(events.filter((e) => e.kind === 'error')));
});

// The real Gemini CLI (`gemini --acp`, from npm) in a task container against a stub of the Gemini API
// in the same container: the transcript shows the whole loop, the diff has the file, and an
// interrupt (ACP session/cancel) ends a running turn without stopping the task.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REAL_AGENT_PODMAN_SKIP, REAL_AGENT_TIMEOUT_MS, startRealAgent, writeThenInterrupt, type RealAgentOptions } from '../helpers/real-agent.js';
import { GEMINI_TEST_IMAGE, TEST_AGENTS } from '../tools/test-images.js';

const KEY = 'gk-test-gemini-0123456789abcdef';
const options: RealAgentOptions & { tool: string } = {
  harness: 'gemini',
  image: GEMINI_TEST_IMAGE,
  env: { GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: 'http://127.0.0.1:8767' },
  stub: { script: 'gemini-stub.mjs' },
  file: 'GEMINI_WAS_HERE.md',
  tool: 'Write',
};

test('harness = gemini: init, Write, result, the file in the diff; interrupt ends the turn', { timeout: REAL_AGENT_TIMEOUT_MS, skip: REAL_AGENT_PODMAN_SKIP }, async () => {
  await using run = await startRealAgent(options);
  const events = await writeThenInterrupt(run, options);
  const init = events.find((e) => e.kind === 'init');
  assert.ok(init?.kind === 'init' && init.agentVersion === TEST_AGENTS.gemini.version && init.sessionId, JSON.stringify(init));
  const requests = await run.requests();
  assert.match(requests, /:streamGenerateContent/, 'Gemini CLI called the stub');
  assert.match(requests, new RegExp(`"key":"${KEY}"`), 'with the key from [harness.gemini.env]');
  assert.ok(!events.some((e) => e.kind === 'error'), JSON.stringify(events.filter((e) => e.kind === 'error')));
});

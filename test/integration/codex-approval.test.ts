// Tool approval with the real Codex CLI (`codex app-server`, approval policy "untrusted") against the
// OpenAI stand-in in the container: its command approval request waits for a person; deny → the
// command does not run and the model is told it was declined; allow → it runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REAL_AGENT_PODMAN_SKIP, REAL_AGENT_TIMEOUT_MS, approvalProbes, startRealAgent, type RealAgentOptions } from '../helpers/real-agent.js';
import { CODEX_TEST_IMAGE } from '../tools/test-images.js';

const options: RealAgentOptions = {
  harness: 'codex',
  image: CODEX_TEST_IMAGE,
  env: { OPENAI_API_KEY: 'sk-test-codex-0123456789abcdef', OPENAI_BASE_URL: 'http://127.0.0.1:8766/v1' },
  stub: { script: 'openai-stub.mjs' },
  file: 'CODEX_WAS_HERE.md',
  permissions: { mode: 'ask' },
  fixture: 'codex-approval',
};

test('codex: a command waits for approval; deny → not run, the model is told; allow → it runs', { timeout: REAL_AGENT_TIMEOUT_MS, skip: REAL_AGENT_PODMAN_SKIP }, async () => {
  await using run = await startRealAgent(options);
  const { env, task } = run;
  const { pendingOne, turns, file } = approvalProbes(run, options.file, 'the command approval request');

  const first = await pendingOne();
  assert.equal(first.tool, 'Bash');
  assert.match(String((first.input as { command: string }).command), /printf '# Codex was here\\n' > CODEX_WAS_HERE\.md/);
  assert.equal(await file(), 'none', 'nothing ran before the answer');
  const denied = await env.api('POST', `/api/v1/tasks/${task.id}/approvals/${first.requestId}`, { decision: 'deny', message: 'not yet' });
  assert.equal(denied.status, 200, denied.body);
  await turns(1);
  assert.equal(await file(), 'none');
  const outputs = (await run.requests()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { toolOutput?: string }).filter((l) => l.toolOutput !== undefined);
  assert.ok(outputs.length >= 1, 'the model got the call back');
  assert.match(outputs.at(-1)!.toolOutput!, /reject|declin|denied/i, outputs.at(-1)!.toolOutput);

  assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text: 'Write it now.' } })).status, 200);
  const second = await pendingOne();
  const allowed = await env.api('POST', `/api/v1/tasks/${task.id}/approvals/${second.requestId}`, { decision: 'allowOnce' });
  assert.equal(allowed.status, 200, allowed.body);
  await turns(2);
  assert.equal(await file(), '# Codex was here');
});

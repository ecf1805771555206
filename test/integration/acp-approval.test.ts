// Tool approval with the real ACP agents (Gemini CLI without --yolo, OpenCode with its permissions
// set to "ask") against their model stand-ins in the container: the write waits for a person
// (session/request_permission); reject → the file is not written; allow → it is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REAL_AGENT_PODMAN_SKIP, REAL_AGENT_TIMEOUT_MS, approvalProbes, startRealAgent, type RealAgentOptions } from '../helpers/real-agent.js';
import { GEMINI_TEST_IMAGE, OPENCODE_TEST_IMAGE } from '../tools/test-images.js';

// OpenCode asks under its "edit" permission, which covers writes.
const agents: (RealAgentOptions & { tool: string })[] = [
  {
    harness: 'gemini',
    image: GEMINI_TEST_IMAGE,
    env: { GEMINI_API_KEY: 'gk-test-gemini-0123456789abcdef', GOOGLE_GEMINI_BASE_URL: 'http://127.0.0.1:8767' },
    stub: { script: 'gemini-stub.mjs' },
    file: 'GEMINI_WAS_HERE.md',
    permissions: { mode: 'ask' },
    fixture: 'gemini-approval',
    tool: 'Write',
  },
  {
    harness: 'opencode',
    model: 'anthropic/claude-sonnet-4-5',
    image: OPENCODE_TEST_IMAGE,
    env: { ANTHROPIC_API_KEY: 'sk-ant-test-opencode-0123456789', ANTHROPIC_BASE_URL: 'http://127.0.0.1:8765/v1', OPENCODE_DISABLE_MODELS_FETCH: '1', OPENCODE_DISABLE_AUTOUPDATE: '1' },
    stub: { script: 'anthropic-stub.mjs', env: { STUB_FILE: '/home/user/src/proj/OPENCODE_WAS_HERE.md' } },
    file: 'OPENCODE_WAS_HERE.md',
    permissions: { mode: 'ask' },
    fixture: 'opencode-approval',
    tool: 'Edit',
  },
];

for (const options of agents) {
  test(`${options.harness}: a write waits for approval; reject → not written; allow → written`, { timeout: REAL_AGENT_TIMEOUT_MS, skip: REAL_AGENT_PODMAN_SKIP }, async () => {
    await using run = await startRealAgent(options);
    const { env, task } = run;
    const { pendingOne, turns, file } = approvalProbes(run, options.file, 'the permission request');

    const first = await pendingOne();
    assert.equal(first.tool, options.tool, JSON.stringify(first));
    assert.equal((first.input as { file_path?: string }).file_path, `/home/user/src/proj/${options.file}`, JSON.stringify(first));
    assert.equal(await file(), 'none', 'nothing written before the answer');
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/approvals/${first.requestId}`, { decision: 'deny' })).status, 200);
    await turns(1);
    assert.equal(await file(), 'none');

    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text: 'STUB_AGAIN: write it now.' } })).status, 200);
    const second = await pendingOne();
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/approvals/${second.requestId}`, { decision: 'allowOnce' })).status, 200);
    await turns(2);
    assert.match(await file(), /was here/);
  });
}

// The real Claude Code CLI in a task container, talking to a stub of the Anthropic Messages API that
// runs in the same container on 127.0.0.1. The transcript must show the whole loop and the diff the file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EventMessage, Task } from '../../src/api/index.js';
import { DockerRuntime } from '../../src/containers/index.js';
import { SseClient } from '../helpers/sse.js';
import { taskEnv } from '../helpers/task-env.js';
import { CLAUDE_TEST_IMAGE } from '../tools/env-docker.js';

const STUB = readFileSync(fileURLToPath(new URL('../../../test/fixtures/anthropic-stub.mjs', import.meta.url)), 'utf8');

// Its own budget: up to 90 s for the container and 120 s for Claude Code's answer on a loaded machine.
test('harness = claude: init, toolUse, toolResult, text, result; the file is in the diff', { timeout: 300_000 }, async () => {
  await using env = await taskEnv({
    extraConfig: [
      // The key below is for the stub in the container: no title requests from the host.
      '[titles]',
      'provider = "off"',
      '[harness.claude.env]',
      'ANTHROPIC_BASE_URL = "http://127.0.0.1:8765"',
      'ANTHROPIC_API_KEY = "sk-ant-test-0000000000000000"',
      'DISABLE_TELEMETRY = "1"',
      'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1"',
      'DISABLE_AUTOUPDATER = "1"',
      '',
    ].join('\n'),
    image: CLAUDE_TEST_IMAGE,
  });
  const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'claude', model: 'sonnet', prompt: { text: 'Write CLAUDE_WAS_HERE.md.' } });
  assert.equal(created.status, 200, created.body);
  const task = created.json<Task>();

  // Start the API stub in the container as soon as it exists (Claude Code retries until it answers).
  const rt = await DockerRuntime.open({ configDir: env.d.configDir });
  try {
    // A deadline, not a count of tries: on a loaded machine each listing can take a while.
    let handle;
    for (const deadline = Date.now() + 90_000; !handle && Date.now() < deadline; ) {
      handle = (await rt.list()).find((c) => c.taskId === task.id && c.state === 'running');
      if (handle) break;
      const t = (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>();
      assert.notEqual(t.state, 'failed', `the task failed before its container ran: ${t.error}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(handle, 'container appeared within 90 s');
    await rt.writeFile(handle, '/tmp/anthropic-stub.mjs', STUB, 0o644);
    await rt.exec(handle, 'setsid nohup node /tmp/anthropic-stub.mjs >/tmp/stub.out 2>&1 < /dev/null &');

    const stream = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`);
    try {
      await stream.waitFor((ev) => ev.some((e) => (e.data as EventMessage | undefined)?.kind === 'result'), 120_000, 'a result from Claude Code');
      const events = stream.messages<EventMessage>();
      const kinds = events.map((e) => e.kind);
      for (const k of ['init', 'toolUse', 'toolResult', 'text', 'result'] as const) assert.ok(kinds.includes(k), `${k} in ${kinds.join(',')}`);
      const init = events.find((e) => e.kind === 'init');
      assert.ok(init?.kind === 'init' && /\d+\.\d+\.\d+/.test(init.agentVersion), JSON.stringify(init));
      const use = events.find((e) => e.kind === 'toolUse');
      assert.ok(use?.kind === 'toolUse' && use.name === 'Write');
      const toolResult = events.find((e) => e.kind === 'toolResult');
      assert.ok(toolResult?.kind === 'toolResult' && !toolResult.isError, JSON.stringify(toolResult));
      const result = events.find((e) => e.kind === 'result');
      assert.ok(result?.kind === 'result' && !result.isError && /CLAUDE_WAS_HERE/.test(result.result), JSON.stringify(result));
      const requests = (await rt.exec(handle, 'cat /tmp/anthropic-stub.jsonl')).stdout;
      assert.match(requests, /"url":"\/v1\/messages/, 'Claude Code called the stub');
      const diff = (await env.api('GET', `/api/v1/tasks/${task.id}/diff`)).json<{ files: { path: string }[]; diff: string }>();
      assert.deepEqual(diff.files.map((f) => f.path), ['CLAUDE_WAS_HERE.md']);
      assert.match(diff.diff, /\+# Claude was here/);
    } finally {
      stream.close();
    }
  } finally {
    rt.close();
  }
});

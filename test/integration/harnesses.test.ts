// Agent readiness and interrupt through HTTP, against real Docker: GET /api/v1/server/harnesses reads
// the configured image (labels, else one probe per image id) and the configured credentials, follows
// image changes without a restart, and POST /api/v1/tasks refuses an agent that cannot run before
// anything starts. Interrupt stops the fake agent's turn and leaves the task and its container up.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { EventMessage, HarnessInfo, Task } from '../../src/api/index.js';
import { buildTar, DEFAULT_IMAGE } from '../../src/containers/index.js';
import { SseClient } from '../helpers/sse.js';
import { engineDocker, engineRuntime } from '../helpers/engine.js';
import { taskEnv } from '../helpers/task-env.js';
import { CLAUDE_TEST_IMAGE, TEST_AGENTS } from '../tools/test-images.js';

type Envelope = { error: { code: string; message: string }; details?: Record<string, unknown> };
const docker = engineDocker();
const suffix = randomBytes(4).toString('hex');
/** Images this file makes; removed at the end (tags only where they point at shared images). */
const made: string[] = [];
after(async () => {
  for (const ref of made) await docker.getImage(ref).remove({ noprune: false }).catch(() => undefined);
});

const byName = (list: HarnessInfo[]) => Object.fromEntries(list.map((h) => [h.name, h]));

/** Polls until `pred` holds (image events reach the daemon asynchronously), with a deadline. */
async function eventually<T>(get: () => Promise<T>, pred: (v: T) => boolean, what: string, ms = 30_000): Promise<T> {
  let last: T;
  for (const deadline = Date.now() + ms; ; ) {
    last = await get();
    if (pred(last)) return last;
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('readiness', () => {
  test('the default image has no agent CLI: every agent but fake says why and how to fix it; a task with one is refused at once', async () => {
    await using env = await taskEnv();
    const list = (await env.api('GET', '/api/v1/server/harnesses')).json<HarnessInfo[]>();
    assert.deepEqual(list.map((h) => h.name), ['claude', 'codex', 'fake', 'gemini', 'opencode']);
    const h = byName(list);
    assert.deepEqual({ ...h.fake, models: undefined }, { ...h.fake, models: undefined, installed: true, credentials: true, ready: true, reason: '', fix: '' });
    for (const h of list) assert.equal(h.supportsInterrupt, true, h.name);
    assert.deepEqual([h.claude!.installed, h.claude!.credentials, h.claude!.ready], [false, false, false]);
    assert.match(h.claude!.reason, new RegExp(`Claude Code is not installed in the image ${DEFAULT_IMAGE}`));
    assert.match(h.claude!.fix, /^caic image build --claude-code; then set ANTHROPIC_API_KEY/);
    assert.match(h.codex!.fix, /^caic image build --codex; then set OPENAI_API_KEY in \[harness\.codex\.env\]$/);
    assert.match(h.gemini!.fix, /caic image build --gemini; then set GEMINI_API_KEY/);
    assert.match(h.opencode!.fix, /caic image build --opencode; then set the model provider's API key/);

    const refused = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'claude', prompt: { text: 'hello' } });
    assert.equal(refused.status, 409, refused.body);
    const body = refused.json<Envelope>();
    assert.equal(body.error.code, 'CONFLICT');
    assert.match(body.error.message, /^claude cannot run: Claude Code is not installed in the image .*Fix: caic image build --claude-code; then set ANTHROPIC_API_KEY .*\[harness\.claude\.env\]$/);
    assert.deepEqual(body.details, { harness: 'claude', installed: false, credentials: false, reason: h.claude!.reason, fix: h.claude!.fix });
    assert.deepEqual((await env.api('GET', '/api/v1/tasks')).json<Task[]>(), [], 'nothing was started');
    // Bad input is still a 400 before readiness is asked.
    assert.equal((await env.api('POST', '/api/v1/tasks', { repos: [], harness: 'claude', model: 'gpt-99', prompt: { text: 'x' } })).status, 400);

    // Cached: one look at the image (and one probe inside it) for all these requests.
    await env.api('GET', '/api/v1/server/harnesses');
    assert.equal(env.d.logs.find('looking at the agent image').length, 1, 'no Docker call per request');
    assert.equal(env.d.logs.find('probed the image for agent CLIs').length, 1);
  });

  test('installed, then credentials: the labels of `caic image build` and [harness.<name>.env]', async () => {
    {
      await using env = await taskEnv({ image: CLAUDE_TEST_IMAGE });
      const claude = byName((await env.api('GET', '/api/v1/server/harnesses')).json<HarnessInfo[]>()).claude!;
      assert.deepEqual([claude.installed, claude.version, claude.credentials, claude.ready], [true, TEST_AGENTS.claude.version, false, false]);
      assert.match(claude.reason, /^no credentials for Claude Code \(none of ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN/);
      assert.equal(claude.fix, 'set ANTHROPIC_API_KEY (or CLAUDE_CODE_OAUTH_TOKEN from `claude setup-token`) in [harness.claude.env]');
      const refused = await env.api('POST', '/api/v1/tasks', { repos: [], harness: 'claude', prompt: { text: 'hello' } });
      assert.equal(refused.status, 409);
      assert.match(refused.json<Envelope>().error.message, /Fix: set ANTHROPIC_API_KEY/);
    }
    await using env = await taskEnv({ image: CLAUDE_TEST_IMAGE, extraConfig: '[harness.claude.env]\nCLAUDE_CODE_OAUTH_TOKEN = "sk-ant-oat01-test-0000"\n' });
    const claude = byName((await env.api('GET', '/api/v1/server/harnesses')).json<HarnessInfo[]>()).claude!;
    assert.deepEqual([claude.installed, claude.credentials, claude.ready, claude.reason, claude.fix], [true, true, true, '', '']);
    assert.ok(!(await env.api('GET', '/api/v1/server/harnesses')).body.includes('sk-ant-oat01'), 'the secret is not in the answer');
  });

  test('an image that changes while the daemon runs: built, tagged, removed', async () => {
    const image = `caic-test-ready-${suffix}:latest`;
    made.push(image);
    await using env = await taskEnv({ image, extraConfig: '[harness.claude.env]\nANTHROPIC_API_KEY = "sk-ant-test-0000"\n' });
    const claude = async () => byName((await env.api('GET', '/api/v1/server/harnesses')).json<HarnessInfo[]>()).claude!;
    const missing = await claude();
    assert.deepEqual([missing.installed, missing.reason], [false, `the image ${image} does not exist`]);
    assert.equal(missing.fix, `caic image build --tag ${image} --claude-code`, 'a rebuild names the image');
    await docker.getImage(CLAUDE_TEST_IMAGE).tag({ repo: `caic-test-ready-${suffix}`, tag: 'latest' });
    const found = await eventually(claude, (c) => c.ready, 'claude ready once the image has it');
    assert.equal(found.version, TEST_AGENTS.claude.version);
    await docker.getImage(image).remove();
    await eventually(claude, (c) => !c.installed, 'claude gone with the image');
  });

  test('an image without labels (a Dockerfile of ones own) is probed for the CLIs it has', async () => {
    const image = `caic-test-probe-${suffix}:latest`;
    made.push(image);
    const context = await buildTar([
      { path: 'Dockerfile', content: `FROM ${DEFAULT_IMAGE}\nCOPY codex /usr/local/bin/codex\n`, mode: 0o644 },
      { path: 'codex', content: '#!/bin/sh\necho "codex-cli 9.9.9"\n', mode: 0o755 },
    ]);
    const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: image, rm: true, forcerm: true });
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
    await using env = await taskEnv({ image, extraConfig: '[harness.codex.env]\nOPENAI_API_KEY = "sk-test-0000"\n' });
    const h = byName((await env.api('GET', '/api/v1/server/harnesses')).json<HarnessInfo[]>());
    assert.deepEqual([h.codex!.installed, h.codex!.version, h.codex!.ready], [true, '9.9.9', true]);
    assert.deepEqual([h.claude!.installed, h.gemini!.installed, h.opencode!.installed], [false, false, false]);
  });
});

describe('interrupt', () => {
  test('the fake agent: the running turn ends, the task waits, the container runs on; idle and stopped tasks', async () => {
    await using env = await taskEnv();
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_LONG 100000 20' } });
    assert.equal(created.status, 200, created.body);
    const task = created.json<Task>();
    const stream = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`);
    try {
      const events = () => stream.messages<EventMessage>();
      await stream.waitFor(() => events().some((e) => e.kind === 'textDelta'), 90_000, 'the long turn streaming');
      const r = await env.api('POST', `/api/v1/tasks/${task.id}/interrupt`);
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json(), { status: 'interrupted' });
      await stream.waitFor(() => events().some((e) => e.kind === 'result'), 30_000, 'the turn to end');
      const result = events().find((e) => e.kind === 'result');
      assert.ok(result?.kind === 'result' && result.subtype === 'interrupted' && !result.isError, JSON.stringify(result));
      assert.ok(events().some((e) => e.kind === 'system' && e.subtype === 'interrupted'));
      assert.ok(events().some((e) => e.kind === 'log' && e.phase === 'interrupt'));
      const t = (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>();
      assert.equal(t.state, 'waiting');
      const rt = await engineRuntime(env.d.configDir);
      try {
        assert.equal((await rt.list()).find((c) => c.taskId === task.id)?.state, 'running', 'the container was not stopped');
      } finally {
        rt.close();
      }
      // Nothing runs now: nothing to stop. The same agent session takes the next prompt.
      assert.deepEqual((await env.api('POST', `/api/v1/tasks/${task.id}/interrupt`)).json(), { status: 'idle' });
      assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text: 'hello again' } })).status, 200);
      await stream.waitFor(() => events().filter((e) => e.kind === 'result').length === 2, 60_000, 'the next turn');
      assert.equal(events().filter((e) => e.kind === 'system' && e.subtype === 'session_start').length, 1, 'one agent session throughout');
      assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/stop`)).status, 200);
      const stopped = await env.api('POST', `/api/v1/tasks/${task.id}/interrupt`);
      assert.equal(stopped.status, 409, stopped.body);
      assert.equal(stopped.json<Envelope>().details?.state, 'stopped');
      assert.equal((await env.api('POST', '/api/v1/tasks/0123456789abcdefghjkmnpqrs/interrupt')).status, 404);
    } finally {
      stream.close();
    }
  });
});

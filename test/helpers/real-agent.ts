// One real agent CLI in a task container, talking to a local stand-in of its model API that runs in
// the same container on 127.0.0.1 (test/fixtures/*-stub.mjs): the production code differs only by a
// base URL in [harness.<name>.env]. The scenario every real-CLI test shares: a first turn that
// writes a file, then a slow second turn that an interrupt stops. With CAIC_RECORD_FIXTURES=<dir>
// the agent's raw output (the relay's output.jsonl) is copied there, to refresh test/fixtures/agents.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventMessage, HarnessName, PendingApproval, Task } from '../../src/api/index.js';
import type { ContainerHandle, DockerRuntime } from '../../src/containers/index.js';
import { CLAUDE_TEST_IMAGE } from '../tools/test-images.js';
import { engineRuntime, unsupportedOn } from './engine.js';
import { SseClient } from './sse.js';
import { waitUntil } from './wait.js';
import { taskEnv, type TaskEnv } from './task-env.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url)), 'utf8');

export interface RealAgentOptions {
  harness: HarnessName;
  model?: string;
  image: string;
  /** `[harness.<name>.env]`: the base URL of the stub and a dummy key. */
  env: Record<string, string>;
  /** The stub script in test/fixtures and its environment. */
  stub: { script: string; env?: Record<string, string> };
  /** The file the stub makes the agent write, relative to the repository. */
  file: string;
  /** The first prompt (default: write `file`). */
  prompt?: string;
  /** The task's tool approval (CreateTaskReq.permissions). */
  permissions?: { mode: 'bypass' | 'ask' | 'rules'; rules?: { tool: string; pattern?: string; action: 'allow' | 'ask' | 'deny' }[] };
  /** More config (TOML tables) for the daemon. */
  extraConfig?: string;
  /** The recording's name in test/fixtures/agents (default: the harness's name). */
  fixture?: string;
}

/** Claude Code in its test image, against the Anthropic stand-in in the same container. */
export const CLAUDE_STANDIN = {
  harness: 'claude',
  model: 'sonnet',
  image: CLAUDE_TEST_IMAGE,
  env: {
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:8765',
    ANTHROPIC_API_KEY: 'sk-ant-test-0000000000000000',
    DISABLE_TELEMETRY: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
  },
  stub: { script: 'anthropic-stub.mjs' },
} as const satisfies Partial<RealAgentOptions>;

export interface RealAgentRun extends AsyncDisposable {
  env: TaskEnv;
  task: Task;
  rt: DockerRuntime;
  handle: ContainerHandle;
  stream: SseClient;
  events(): EventMessage[];
  /** The stub's request log. */
  requests(): Promise<string>;
  /** The relay's log and the stub's, for a failure message. */
  diagnose(): Promise<string>;
}

const tomlString = (v: string) => JSON.stringify(v);

/** Starts the task and the stub; returns once the container runs. */
export async function startRealAgent(o: RealAgentOptions): Promise<RealAgentRun> {
  const env = await taskEnv({
    // The keys are for the stub in the container: no title requests from the host with them.
    extraConfig: ['[titles]', 'provider = "off"', `[harness.${o.harness}.env]`, ...Object.entries(o.env).map(([k, v]) => `${k} = ${tomlString(v)}`), o.extraConfig ?? '', ''].join('\n'),
    image: o.image,
  });
  let rt: DockerRuntime | undefined;
  try {
    const created = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: o.harness, ...(o.model ? { model: o.model } : {}), prompt: { text: o.prompt ?? `Write ${o.file}.` }, ...(o.permissions ? { permissions: o.permissions } : {}) });
    assert.equal(created.status, 200, created.body);
    const task = created.json<Task>();
    rt = await engineRuntime(env.d.configDir);
    // The stub starts as soon as the container runs; the agents retry until it answers.
    let handle: ContainerHandle | undefined;
    for (const deadline = Date.now() + 90_000; !handle && Date.now() < deadline; ) {
      handle = (await rt.list()).find((c) => c.taskId === task.id && c.state === 'running');
      if (handle) break;
      const t = (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>();
      assert.notEqual(t.state, 'failed', `the task failed before its container ran: ${t.error}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(handle, 'container appeared within 90 s');
    await rt.writeFile(handle, '/tmp/stub.mjs', fixture(o.stub.script), 0o644);
    await rt.writeFile(handle, '/tmp/stub-http.mjs', fixture('stub-http.mjs'), 0o644);
    const stubEnv = Object.entries(o.stub.env ?? {}).map(([k, v]) => `${k}='${v}'`).join(' ');
    await rt.exec(handle, `${stubEnv} setsid nohup node /tmp/stub.mjs >/tmp/stub.out 2>&1 < /dev/null &`);
    const stream = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`);
    const run: RealAgentRun = {
      env,
      task,
      rt,
      handle,
      stream,
      events: () => stream.messages<EventMessage>(),
      requests: async () => (await rt!.exec(handle, 'cat /tmp/*-stub.jsonl')).stdout,
      diagnose: async () => {
        const r = await rt!.exec(handle, 'tail -c 3000 /home/user/.caic/sessions/*/relay.log; echo; tail -c 1500 /tmp/stub.out; tail -n 5 /tmp/*-stub.jsonl | cut -c1-300').catch((err: Error) => ({ stdout: `(no diagnosis: ${err.message})` }));
        return r.stdout;
      },
      async [Symbol.asyncDispose]() {
        stream.close();
        try {
          const dir = process.env.CAIC_RECORD_FIXTURES;
          if (dir) {
            const out = await rt!.exec(handle, 'cat /home/user/.caic/sessions/1/output.jsonl');
            await writeFile(join(dir, `${o.fixture ?? o.harness}.jsonl`), out.stdout);
          }
        } finally {
          rt!.close();
          await env[Symbol.asyncDispose]();
        }
      },
    };
    return run;
  } catch (err) {
    rt?.close();
    await env[Symbol.asyncDispose]();
    throw err;
  }
}

/**
 * Per real-CLI test, so a hang fails the test instead of the suite: the waits below add up to
 * 90 s for the container, 150 s for the first turn, 90 + 30 s for the interrupted one.
 */
export const REAL_AGENT_TIMEOUT_MS = 400_000;

/**
 * The Codex, Gemini CLI and OpenCode tests on Podman: their images (2 GB) are not copied into the
 * Podman storages; what they add over Claude Code's test (which runs there) is the agent CLI, not
 * anything of the engine.
 */
export const REAL_AGENT_PODMAN_SKIP = unsupportedOn(['podman', 'podman-rootless'], "this agent's test image is not copied into Podman's storage; Claude Code's test covers a real CLI there");

const isResult = (e: EventMessage | undefined): e is Extract<EventMessage, { kind: 'result' }> => e?.kind === 'result';

/**
 * The shared scenario: the first turn writes the file (its diff is checked), a second turn that
 * streams slowly is interrupted: the turn ends, the task waits for input, the container runs on.
 */
export async function writeThenInterrupt(run: RealAgentRun, o: RealAgentOptions & { tool: string }): Promise<EventMessage[]> {
  const { env, task, stream } = run;
  // A wait that fails says what the agent and the stub did meanwhile.
  const waitFor = async (pred: () => boolean, ms: number, what: string) => {
    try {
      await stream.waitFor(pred, ms, what);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- relay and stub logs:\n${await run.diagnose()}`, { cause: err });
    }
  };
  await waitFor(() => run.events().some(isResult), 150_000, `a result from ${o.harness}`);
  const first = run.events();
  const kinds = first.map((e) => e.kind);
  for (const k of ['init', 'toolUse', 'toolResult', 'text', 'result'] as const) assert.ok(kinds.includes(k), `${k} in ${kinds.join(',')}`);
  const use = first.find((e) => e.kind === 'toolUse');
  assert.ok(use?.kind === 'toolUse' && use.name === o.tool, JSON.stringify(use));
  const toolResult = first.find((e) => e.kind === 'toolResult');
  assert.ok(toolResult?.kind === 'toolResult' && !toolResult.isError, JSON.stringify(toolResult));
  const result = first.find(isResult)!;
  assert.ok(!result.isError && result.result.includes(o.file), JSON.stringify(result));
  const diff = (await env.api('GET', `/api/v1/tasks/${task.id}/diff`)).json<{ files: { path: string }[]; diff: string }>();
  assert.deepEqual(diff.files.map((f) => f.path), [o.file]);
  assert.match(diff.diff, /^\+# \w+ was here$/m, 'what the agent wrote');

  // The second turn streams for about 20 s unless interrupted.
  const sent = await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text: 'STUB_SLOW: tell me a long story.' } });
  assert.equal(sent.status, 200, sent.body);
  const before = run.events().length;
  const since = () => run.events().slice(before);
  await waitFor(() => since().some((e) => e.kind === 'textDelta'), 90_000, 'the slow turn streaming');
  const interrupted = await env.api('POST', `/api/v1/tasks/${task.id}/interrupt`);
  assert.equal(interrupted.status, 200, interrupted.body);
  assert.deepEqual(interrupted.json(), { status: 'interrupted' });
  await waitFor(() => since().some(isResult), 30_000, 'the interrupted turn to end');
  const second = since().find(isResult)!;
  assert.equal(second.subtype, 'interrupted', JSON.stringify(second));
  assert.equal(second.isError, false);
  const after = (await env.api('GET', `/api/v1/tasks/${task.id}`)).json<Task>();
  assert.equal(after.state, 'waiting', 'the task waits for input again');
  const containers = await run.rt.list();
  assert.equal(containers.find((c) => c.taskId === task.id)?.state, 'running', 'the container was not stopped');
  return run.events();
}

/**
 * What the approval tests of a real agent wait on and read: the one pending request, the task at
 * rest after `n` turns, and the content of the agent's file in the repository ("none" before it
 * exists). A timeout says what it waited for and adds the relay's and the stand-in's logs.
 */
export function approvalProbes(run: RealAgentRun, file: string, what: string) {
  const { env, task } = run;
  const fail = async (err: unknown): Promise<never> => {
    throw new Error(`${(err as Error).message}\n--- relay and stub logs:\n${await run.diagnose()}`, { cause: err });
  };
  return {
    pendingOne: () =>
      waitUntil(() => env.api('GET', `/api/v1/tasks/${task.id}/approvals`).then((r) => r.json<{ approvals: PendingApproval[] }>().approvals), (a) => a.length === 1, { timeoutMs: 150_000, what })
        .then((a) => a[0]!)
        .catch(fail),
    turns: (n: number) =>
      waitUntil(() => env.api('GET', `/api/v1/tasks/${task.id}`).then((r) => r.json<Task>()), (t) => t.state === 'waiting' && t.numTurns >= n, { timeoutMs: 150_000, what: `turn ${n}` }).catch(fail),
    file: () => env.execIn(task.id, `cat /home/user/src/proj/${file} 2>/dev/null || echo none`, 'user').then((r) => r.output.trim()),
  };
}

// Faults in a task's life, against real Docker: agents and relays that cannot start, a cut SSH
// connection, a relay that dies, operations whose spawn fails, provisioning and revive failures.
// Every one must end in a state from which stop or purge work, with the real reason in the transcript.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EventMessage, Task } from '../../src/api/index.js';
import { ContainerError, DockerRuntime } from '../../src/containers/index.js';
import { SseClient } from '../helpers/sse.js';
import { dockerCli } from '../helpers/engine.js';
import { hostDocker, taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { hostRecords, loggedStates } from '../helpers/task-log.js';
import { waitUntil } from '../helpers/wait.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

type Envelope = { error: { code: string; message: string }; details?: Record<string, unknown> };

/**
 * While `fn` runs, the next DockerRuntime.spawn (opening the agent's SSH channel) fails, as when
 * sshd refuses a channel. The daemon runs in this process, on the same class.
 */
async function withFailingSpawn<T>(fn: () => Promise<T>): Promise<T> {
  const original = Object.getOwnPropertyDescriptor(DockerRuntime.prototype, 'spawn')!;
  Object.defineProperty(DockerRuntime.prototype, 'spawn', {
    configurable: true,
    writable: true,
    value: function () {
      Object.defineProperty(DockerRuntime.prototype, 'spawn', original);
      return Promise.reject(new ContainerError('injected fault: the channel could not be opened'));
    },
  });
  try {
    return await fn();
  } finally {
    Object.defineProperty(DockerRuntime.prototype, 'spawn', original);
  }
}

const text = (s: SseClient) => s.messages<EventMessage>().map((e) => (e.kind === 'textDelta' ? e.text : '')).join('');
const results = (s: SseClient) => s.messages<EventMessage>().filter((e) => e.kind === 'result').length;

describe('task faults', () => {
  let env: TaskEnv;
  const stream = (id: string) => env.stream(id);
  /** A task that finished its first turn and waits. */
  const waitingTask = async (prompt = 'hello') => {
    const t = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: prompt } });
    await env.waitState(t.id, 'waiting');
    return t;
  };
  const post = (id: string, op: string, body?: unknown) => env.post(id, op, body);

  before(async () => {
    env = await taskEnv();
  });
  after(async () => {
    await env[Symbol.asyncDispose]();
  });

  test('an agent that exits at once fails the task with its reason, never waits; purge ends it for good', async () => {
    const t = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_CRASH please' } });
    const failed = await env.waitState(t.id, 'failed');
    assert.match(failed.error, /exited with code 3/);
    assert.match(failed.error, /no credentials configured/, 'the agent stderr reaches the task');
    const s = stream(t.id);
    await s.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'history');
    const errors = s.messages<EventMessage>().filter((e) => e.kind === 'error');
    assert.ok(errors.some((e) => e.kind === 'error' && /no credentials configured/.test(e.message)), JSON.stringify(errors));
    assert.ok(!(await loggedStates(env.d.cacheDir, t.id)).includes('waiting'), 'never waiting');
    await waitUntil(() => env.container(t.id), (c) => c === undefined, { what: 'the failed task container removed' });

    const purge = await post(t.id, 'purge');
    assert.equal(purge.status, 200, purge.body);
    assert.equal((await env.task(t.id)).state, 'purged');
    assert.equal((await post(t.id, 'purge')).status, 409);
    await env.restart();
    assert.equal((await env.task(t.id)).state, 'purged', 'still purged after a restart');
  });

  test('diff?path with a NUL or control character is refused at the schema; the agent stream goes on', async () => {
    const t = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_LONG 60 20' } });
    const s = stream(t.id);
    await s.waitFor((ev) => ev.filter((e) => (e.data as EventMessage | undefined)?.kind === 'textDelta').length >= 5, 60_000, '5 deltas');
    for (const bad of ['%00', 'a%00b', '%0a', 'x%1b[31m', '%7f']) {
      const r = await env.api('GET', `/api/v1/tasks/${t.id}/diff?path=${bad}`);
      assert.equal(r.status, 400, `${bad}: ${r.body}`);
      assert.equal(r.json<Envelope>().error.code, 'BAD_REQUEST');
    }
    // A glob is a literal path, not a pattern: nothing matches a file literally named "*".
    const star = await env.api('GET', `/api/v1/tasks/${t.id}/diff?path=*`);
    assert.equal(star.status, 200, star.body);
    assert.equal(star.json<{ files: unknown[] }>().files.length, 0);
    await s.waitFor(() => results(s) >= 1, 60_000, 'the turn to end');
    assert.equal(text(s), Array.from({ length: 60 }, (_, i) => `${i} `).join(''), 'every delta, once');
    assert.ok(!(await loggedStates(env.d.cacheDir, t.id)).slice(0, -1).includes('waiting'), 'not waiting before the turn ended');
  });

  test('a cut SSH connection: the relay stream reattaches at its byte offset, the task never waits meanwhile', async () => {
    const t = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_LONG 200 20' } });
    const s = stream(t.id);
    await s.waitFor((ev) => ev.filter((e) => (e.data as EventMessage | undefined)?.kind === 'textDelta').length >= 20, 60_000, '20 deltas');
    // Ends every SSH connection into the container (sshd's per-connection processes of the user:
    // `sshd: user@notty` with a command, `sshd: user` with only the relay's socket), not sshd itself.
    const killed = await env.execIn(t.id, "pkill -u user -f '^sshd: user' && echo killed", 'user');
    assert.match(killed.output, /killed/);
    await s.waitFor(() => results(s) >= 1, 90_000, 'the turn to end after the cut');
    assert.equal(text(s), Array.from({ length: 200 }, (_, i) => `${i} `).join(''), 'every delta exactly once across the cut');
    const logs = s.messages<EventMessage>().filter((e) => e.kind === 'log').map((e) => (e.kind === 'log' ? e.message : ''));
    assert.ok(logs.some((m) => /connection to the agent was lost; reattached to the running agent at byte \d+/.test(m)), logs.join('\n'));
    const states = await loggedStates(env.d.cacheDir, t.id);
    assert.deepEqual(states.slice(states.indexOf('running')), ['running', 'waiting'], 'running across the cut, waiting only at the end of the turn');
  });

  test('a relay killed with its agent: the task rests in waiting with the reason; input resumes the agent', async () => {
    const t = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_LONG 400 20' } });
    const s = stream(t.id);
    await s.waitFor((ev) => ev.filter((e) => (e.data as EventMessage | undefined)?.kind === 'textDelta').length >= 10, 60_000, '10 deltas');
    const killed = await env.execIn(t.id, "pkill -KILL -f '/home/user/.caic/bin/(relay|fake-agent)-' && echo killed", 'user');
    assert.match(killed.output, /killed/);
    const waiting = await env.waitState(t.id, 'waiting');
    assert.match(waiting.error, /the agent relay stopped/);
    const input = await post(t.id, 'input', { prompt: { text: 'are you back?' } });
    assert.equal(input.status, 200, input.body);
    await s.waitFor(() => results(s) >= 1, 60_000, 'a turn of the resumed agent');
    const sessions = s.messages<EventMessage>().filter((e) => e.kind === 'system' && e.subtype === 'session_start');
    assert.match(JSON.stringify(sessions.at(-1)), /"reason":"resume"/);
    assert.match(JSON.stringify(s.messages<EventMessage>().filter((e) => e.kind === 'text').at(-1)), /are you back/);
  });

  test('clear context starts a new session; compact sends the compact command', async () => {
    const t = await waitingTask();
    const s = stream(t.id);
    await s.waitFor(() => results(s) >= 1, 30_000, 'first turn');
    const cleared = await post(t.id, 'clear-context');
    assert.equal(cleared.status, 200, cleared.body);
    assert.equal((await env.task(t.id)).state, 'waiting');
    await s.waitFor((ev) => ev.some((e) => JSON.stringify(e.data).includes('"reason":"clear"')), 10_000, 'the clear session');
    assert.equal((await post(t.id, 'input', { prompt: { text: 'after clear' } })).status, 200);
    await s.waitFor(() => results(s) >= 2, 30_000, 'turn after clear');
    await env.waitState(t.id, 'waiting');
    const compact = await post(t.id, 'compact', { instructions: 'keep the jokes' });
    assert.equal(compact.status, 200, compact.body);
    await s.waitFor(() => results(s) >= 3, 30_000, 'compact turn');
    const inputs = s.messages<EventMessage>().filter((e) => e.kind === 'userInput');
    assert.match(JSON.stringify(inputs.at(-1)), /\/compact keep the jokes/);
    await env.waitState(t.id, 'waiting');
  });

  test('restart, clear context and revive whose spawn fails rest where stop and purge work', async () => {
    const t = await waitingTask();
    for (const op of ['clear-context', 'restart'] as const) {
      const r = await withFailingSpawn(() => post(t.id, op, op === 'restart' ? { prompt: { text: 'again' } } : undefined));
      assert.equal(r.status, 409, r.body);
      assert.match(r.json<Envelope>().error.message, /injected fault/);
      const after = await env.task(t.id);
      assert.equal(after.state, 'waiting', `${op}: rests in waiting, not starting`);
      assert.match(after.error, /injected fault/);
    }
    // Input finds no agent session and starts one again (resume).
    assert.equal((await post(t.id, 'input', { prompt: { text: 'still there?' } })).status, 200);
    await env.waitState(t.id, 'waiting');
    assert.equal((await post(t.id, 'stop')).status, 200);
    const revive = await withFailingSpawn(() => post(t.id, 'revive'));
    assert.equal(revive.status, 409, revive.body);
    assert.equal((await env.task(t.id)).state, 'waiting', 'the container runs again: waiting, not stopped');
    assert.equal((await env.container(t.id))?.State, 'running');
    const stop = await post(t.id, 'stop');
    assert.equal(stop.status, 200, stop.body);
    assert.equal((await env.container(t.id))?.State, 'exited', 'stop really stopped the container');
    assert.equal((await post(t.id, 'purge')).status, 200);
    assert.equal((await env.task(t.id)).state, 'purged');
    assert.equal(await env.container(t.id), undefined);
  });

  test('provisioning that fails while the container comes up: failed, and the container is removed', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    // The host cannot create the next task branch (a stale lock), while the base resolves: the
    // container starts from the base's image in parallel and must go with the failed branch.
    const host = join(env.root, 'proj');
    const next = 1 + Math.max(0, ...git(host, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/caic-*').split('\n').map((b) => Number(/caic-(\d+)$/.exec(b)?.[1] ?? 0)));
    const lock = join(host, '.git', 'refs', 'heads', `caic-${next}.lock`);
    await writeFile(lock, '');
    let t: Task;
    try {
      t = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'x' } });
      const failed = await env.waitState(t.id, 'failed');
      assert.match(failed.error, /git branch: .*remove the file manually/);
    } finally {
      await rm(lock, { force: true });
    }
    // The launch ran in parallel with the failed branch: its container must be created and destroyed.
    const events = await env.docker.getEvents({ since, filters: { type: ['container'], label: [`caic=${t.id}`] } as never });
    const seen: string[] = [];
    const destroy = () => (events as unknown as { destroy(): void }).destroy();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no destroy event for the task container; saw ${seen.join(',')}`)), 60_000);
      let buf = '';
      events.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          seen.push(String((JSON.parse(buf.slice(0, nl)) as { Action?: string }).Action));
          buf = buf.slice(nl + 1);
        }
        // Docker says destroy, Podman says remove.
        if (seen.includes('create') && (seen.includes('destroy') || seen.includes('remove'))) {
          clearTimeout(timer);
          resolve();
        }
      });
    }).finally(destroy);
    assert.equal(await env.container(t.id), undefined);
    // A failed task is purged for real (also with its log closed), and stays purged.
    assert.equal((await post(t.id, 'purge')).status, 200);
    assert.equal((await env.task(t.id)).state, 'purged');
    await env.restart();
    assert.equal((await env.task(t.id)).state, 'purged');
  });

  test('revive of a container removed behind caic: refused with the reason; purge still works', async () => {
    const t = await waitingTask();
    assert.equal((await post(t.id, 'stop')).status, 200);
    const c = await env.container(t.id);
    await env.docker.getContainer(c!.Id).remove({ force: true });
    const revive = await post(t.id, 'revive');
    assert.equal(revive.status, 409, revive.body);
    const after = await env.task(t.id);
    assert.equal(after.state, 'stopped');
    assert.match(after.error, /could not revive the task/);
    const purge = await post(t.id, 'purge');
    assert.equal(purge.status, 200, purge.body);
    assert.equal((await env.task(t.id)).state, 'purged');
  });

  test('every purged task has exactly one result trailer', async () => {
    for (const t of (await env.api('GET', '/api/v1/tasks')).json<Task[]>().filter((x) => x.state === 'purged')) {
      assert.equal((await hostRecords(env.d.cacheDir, t.id, 'caic_result')).length, 1, `task ${t.id}: one trailer`);
    }
  });
});

describe('an image whose entrypoint does not start the relay', () => {
  test('(built before it did, no caic.boot label): the relay starts over SSH and the agent answers', async () => {
    // The entrypoint of such an image never reads /etc/caic/boot: here a wrapper throws it away first.
    const tag = `caic-test-old-entrypoint:${randomBytes(4).toString('hex')}`;
    const dockerfile = [
      'FROM caic-agent:latest',
      'LABEL caic.boot=""',
      "RUN printf '#!/bin/sh\\nrm -f /etc/caic/boot\\nexec /usr/local/sbin/caic-entrypoint \"$@\"\\n' > /usr/local/sbin/old-entrypoint && chmod 0755 /usr/local/sbin/old-entrypoint",
      'ENTRYPOINT ["/usr/local/sbin/old-entrypoint"]',
      '',
    ].join('\n');
    dockerCli(['build', '-q', '-t', tag, '-'], { input: dockerfile, stdio: ['pipe', 'ignore', 'pipe'] });
    try {
      await using env = await taskEnv({ image: tag });
      for (const repos of [[], [{ name: 'proj' }]]) {
        const t = await env.create({ repos, harness: 'fake', prompt: { text: 'hello' } });
        const s = new SseClient(`${env.d.url}/api/v1/tasks/${t.id}/events`);
        try {
          await s.waitFor((ev) => ev.some((e) => (e.data as EventMessage | undefined)?.kind === 'result'), 60_000, 'the agent to answer');
        } finally {
          s.close();
        }
        assert.equal((await env.api('POST', `/api/v1/tasks/${t.id}/purge`)).status, 200);
      }
    } finally {
      await hostDocker().getImage(tag).remove({ force: true }).catch(() => undefined);
    }
  });
});

describe('a relay that cannot start', () => {
  test('its error (the attach client stderr and relay.log) reaches the task, which fails', async () => {
    // No Node.js in the image: neither the relay (started by the container) nor an attach client can run.
    const tag = `caic-test-no-node:${randomBytes(4).toString('hex')}`;
    dockerCli(['build', '-q', '-t', tag, '-'], { input: 'FROM caic-agent:latest\nRUN mv /usr/bin/node /usr/bin/node-gone\n', stdio: ['pipe', 'ignore', 'pipe'] });
    try {
      await using env = await taskEnv({ image: tag });
      const t = await env.create({ repos: [], harness: 'fake', prompt: { text: 'hello' } });
      const failed = await env.waitState(t.id, 'failed');
      assert.match(failed.error, /the agent relay stopped/);
      assert.match(failed.error, /relay.log:\ncaic-boot: .*node: not found/, `relay.log says why: ${failed.error}`);
      assert.ok(!(await loggedStates(env.d.cacheDir, t.id)).includes('waiting'), 'never waiting');
      await waitUntil(() => env.container(t.id), (c) => c === undefined, { what: 'the container removed' });
      assert.equal((await env.api('POST', `/api/v1/tasks/${t.id}/purge`)).status, 200);
    } finally {
      await hostDocker().getImage(tag).remove({ force: true }).catch(() => undefined);
    }
  });
});

describe('an agent binary the image claims but lacks', () => {
  test('failed, with the spawn error in the transcript, never waiting', async () => {
    // The image's label says Claude Code is there (so the readiness check lets the task start), the
    // binary is not: the relay's spawn error must reach the task.
    const tag = `caic-test-engine-liar:${randomBytes(4).toString('hex')}`;
    dockerCli(['build', '-q', '--label', 'caic.claude-code=0.0.0-test', '-t', tag, '-'], { input: 'FROM caic-agent:latest\n', stdio: ['pipe', 'ignore', 'pipe'] });
    try {
      await using env = await taskEnv({ image: tag, extraConfig: '[harness.claude.env]\nANTHROPIC_API_KEY = "sk-ant-test-0000000000000000"\n' });
      const r = await env.api('POST', '/api/v1/tasks', { repos: [], harness: 'claude', prompt: { text: 'hi' } });
      assert.equal(r.status, 200, r.body);
      const t = r.json<Task>();
      const failed = await env.waitState(t.id, 'failed');
      assert.match(failed.error, /"claude" is not installed in this container \(spawn claude ENOENT\)/);
      assert.ok(!(await loggedStates(env.d.cacheDir, t.id)).includes('waiting'), 'never waiting');
      await waitUntil(() => env.container(t.id), (c) => c === undefined, { what: 'the container removed' });
      assert.equal((await env.api('POST', `/api/v1/tasks/${t.id}/purge`)).status, 200);
      assert.equal((await env.task(t.id)).state, 'purged');
    } finally {
      await hostDocker().getImage(tag).remove({ force: true }).catch(() => undefined);
    }
  });
});

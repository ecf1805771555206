// A daemon killed with -9 mid-stream: on restart every task reattaches to its still-running agent,
// and SSE clients resuming with Last-Event-ID see every event exactly once.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EventMessage, Task } from '../../src/api/index.js';
import { removeRepoImages } from '../helpers/containers.js';
import { engineDocker, engineEnv, engineRuntime } from '../helpers/engine.js';
import { http } from '../helpers/http.js';
import { SseClient } from '../helpers/sse.js';
import { makeOriginAndClone } from '../helpers/task-env.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { waitUntil, within } from '../helpers/wait.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** Starts the daemon as its own process; fails (with its output) unless it listens within 60 s. */
function startDaemon(configDir: string, cacheHome: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, '--config-dir', configDir, '--log-level', 'debug'], {
    env: { ...process.env, ...engineEnv(), XDG_CACHE_HOME: cacheHome },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let up = false;
  const mirror = process.env.CAIC_TEST_LOG_DIR ? join(process.env.CAIC_TEST_LOG_DIR, `restart-daemon-${Date.now()}.log`) : null;
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const listening = new Promise<ChildProcess>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (mirror) appendFileSync(mirror, d);
      if (up) return;
      out += d.toString();
      if (out.includes('listening on')) {
        up = true;
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`daemon exited (${code}): ${out}`)));
  });
  return within(listening, 60_000, 'the daemon to listen').catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
}

test('kill -9 the daemon mid-stream: tasks reattach, no event lost or duplicated, agents untouched', async () => {
  await using dir = await tempDir('caic-restart-');
  const root = join(dir.path, 'root');
  await makeOriginAndClone(dir.path, root);
  const port = await freePort();
  const configDir = join(dir.path, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'config.toml'), `[core]\nroot = "${root}"\n[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  const cacheHome = join(dir.path, 'cache');
  const url = `http://127.0.0.1:${port}`;
  const api = (method: string, path: string, body?: unknown) =>
    http(`${url}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, ...(body ? { body: JSON.stringify(body) } : {}) });

  let daemon = await startDaemon(configDir, cacheHome);
  const ids: string[] = [];
  const docker = engineDocker();
  try {
    for (let i = 0; i < 3; i++) {
      const r = await api('POST', '/api/v1/tasks', { repos: i === 0 ? [{ name: 'proj' }] : [], harness: 'fake', prompt: { text: 'FAKE_LONG 300 25' } });
      assert.equal(r.status, 200, r.body);
      ids.push(r.json<Task>().id);
    }
    const streams = ids.map((id) => new SseClient(`${url}/api/v1/tasks/${id}/events`));
    const deltas = (s: SseClient) => s.messages<EventMessage>().filter((e) => e.kind === 'textDelta').length;
    await Promise.all(streams.map((s) => s.waitFor(() => deltas(s) >= 40, 60_000, '40 deltas')));

    // The agents' pids, from inside the containers.
    const rt = await engineRuntime(configDir);
    const handles = await rt.list();
    const pidOf = async (taskId: string) => (await rt.exec(handles.find((h) => h.taskId === taskId)!, "pgrep -f '^node [^ ]*/fake-agent-'")).stdout.trim();
    const pidsBefore = await Promise.all(ids.map(pidOf));
    assert.ok(pidsBefore.every((p) => /^\d+$/.test(p)), JSON.stringify(pidsBefore));

    daemon.kill('SIGKILL');
    await within(once(daemon, 'exit'), 30_000, 'the killed daemon to exit');
    const seen = streams.map((s) => {
      s.close();
      return s.events.filter((e) => e.event === 'message');
    });
    daemon = await startDaemon(configDir, cacheHome);

    for (const [i, id] of ids.entries()) {
      const last = seen[i]!.at(-1)!.id!;
      const resumed = new SseClient(`${url}/api/v1/tasks/${id}/events`, { 'last-event-id': String(last) });
      await resumed.waitFor((ev) => ev.some((e) => (e.data as EventMessage | undefined)?.kind === 'result'), 60_000, `result of task ${i}`);
      const got = resumed.events.filter((e) => e.event === 'message');
      resumed.close();
      const all = [...seen[i]!, ...got].map((e) => e.id!);
      assert.deepEqual(all, all.map((_, k) => k + 1), `task ${i}: ids contiguous across the restart`);
      const full = new SseClient(`${url}/api/v1/tasks/${id}/events`);
      await full.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'full replay');
      const fullMessages = full.events.filter((e) => e.event === 'message');
      full.close();
      const expected = Array.from({ length: 300 }, (_, k) => `${k} `).join('');
      const live = [...seen[i]!, ...got].map((e) => e.data as EventMessage);
      const deltas = live.map((e) => (e.kind === 'textDelta' ? e.text : '')).join('');
      assert.equal(deltas, expected, `task ${i}: every delta exactly once across the restart`);
      // A full replay leaves out the deltas the complete text replaced; everything else is as seen.
      const replayed = fullMessages.map((e) => e.data as EventMessage);
      assert.equal(replayed.find((e) => e.kind === 'text')?.text, expected);
      assert.ok(!replayed.some((e) => e.kind === 'textDelta'));
      const nonDelta = live.filter((e) => e.kind !== 'textDelta').map((e) => e.id);
      assert.deepEqual(replayed.map((e) => e.id).slice(0, nonDelta.length), nonDelta, 'the replay matches what the clients saw');
    }
    assert.deepEqual(await Promise.all(ids.map(pidOf)), pidsBefore, 'the agents were not restarted');

    // A container that dies: the die-event watcher stops the task; revive brings it back.
    const victim = handles.find((h) => h.taskId === ids[1])!;
    await docker.getContainer(victim.id).kill();
    const stopped = await waitUntil(() => api('GET', `/api/v1/tasks/${ids[1]}`).then((r) => r.json<Task>().state), (s) => s === 'stopped', {
      timeoutMs: 30_000,
      what: 'the task of the killed container to stop',
    });
    assert.equal(stopped, 'stopped');
    const revived = await api('POST', `/api/v1/tasks/${ids[1]}/revive`);
    assert.equal(revived.status, 200, revived.body);
    assert.equal((await api('GET', `/api/v1/tasks/${ids[1]}`)).json<Task>().state, 'waiting');
    rt.close();
  } finally {
    daemon.kill('SIGTERM');
    await within(once(daemon, 'exit'), 30_000, 'the daemon to exit').catch(() => daemon.kill('SIGKILL'));
    for (const id of ids) {
      const mine = await docker.listContainers({ all: true, filters: { label: [`caic=${id}`] } });
      await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
    }
    // The repository image the daemon made for the commit of this test's repository.
    await removeRepoImages(docker, dir.path);
  }
});

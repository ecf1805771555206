// Found by trying the daemon from outside (issue 9's probe): what a user does that no other test
// did, against the real daemon, Docker and the fake agent.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DiffResp, EventMessage, Repo, SyncResp, Task } from '../../src/api/index.js';
import { makeOriginAndClone, taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { UserError } from '../../src/config/index.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { http } from '../helpers/http.js';
import { SseClient } from '../helpers/sse.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

describe('probe: what users do', { timeout: 300_000 }, () => {
  let env: TaskEnv;
  before(async () => {
    env = await taskEnv({ files: 2 });
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
  });

  test('repositories whose names hold spaces or non-ASCII letters are listed and can be used', async () => {
    await makeOriginAndClone(join(env.dir.path, 'space-src'), env.root, 'My Project', 2);
    await makeOriginAndClone(join(env.dir.path, 'utf-src'), join(env.root, 'café'), 'naïve', 2);
    assert.equal((await env.api('POST', '/api/v1/server/repos/scan')).status, 200);
    const names = (await env.api('GET', '/api/v1/server/repos')).json<Repo[]>().map((r) => r.name);
    for (const name of ['My Project', 'café/naïve']) {
      assert.ok(names.includes(name), `${name} listed: ${JSON.stringify(names)}`);
      const branches = await env.api('GET', `/api/v1/server/repos/branches?repo=${encodeURIComponent(name)}`);
      assert.equal(branches.status, 200, branches.body);
      assert.ok(branches.json<{ branches: { name: string }[] }>().branches.some((b) => b.name === 'main'));
      const t = await env.create({ repos: [{ name }], harness: 'fake', prompt: { text: 'FAKE_DEMO here' } });
      await env.waitState(t.id, 'waiting');
      const stream = new SseClient(`${env.d.url}/api/v1/tasks/${t.id}/events`);
      await stream.waitFor((ev) => ev.some((e) => e.event === 'ready'), 30_000, 'the history');
      stream.close();
      const init = stream.messages<EventMessage>().find((e) => e.kind === 'init');
      assert.equal(init?.kind === 'init' && init.cwd, `/home/user/src/${name === 'My Project' ? 'My-Project' : 'nave'}`);
      const diff = await env.api('GET', `/api/v1/tasks/${t.id}/diff`);
      assert.equal(diff.status, 200, diff.body);
      assert.ok(diff.json<DiffResp>().files.some((f) => f.path === 'FAKE_NOTES.md'), diff.body);
      const sync = await env.api('POST', `/api/v1/tasks/${t.id}/sync`, {});
      assert.equal(sync.status, 200, sync.body);
      assert.equal(sync.json<SyncResp>().status, 'synced', sync.body);
      assert.equal((await env.api('POST', `/api/v1/tasks/${t.id}/purge`)).status, 200);
    }
  });
});

/** Mounts a tmpfs of `size` at `dir`; false where this process may not mount (not root, no CAP_SYS_ADMIN). */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('probe: a full disk', { timeout: 300_000 }, () => {
  test('the task log’s disk fills mid-stream: the daemon goes on, and once there is room the stream resumes with nothing lost or repeated', async (t) => {
    await using scratch = await tempDir('caic-full-');
    const cache = join(scratch.path, 'cache');
    await mkdir(cache);
    if (!mountTmpfs(cache, '1m')) return t.skip('cannot mount a tmpfs here (needs root)');
    try {
      await using env = await taskEnv({ files: 2, daemon: { cacheDir: cache } });
      const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_LONG 20000 2000' } });
      const stream = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`);
      await waitUntil(
        () => Promise.resolve(env.d.logs.find('agent output not taken; it waits in the container').length),
        (n) => n > 0,
        { timeoutMs: 60_000, what: 'the log to stop taking output' },
      );
      assert.equal((await env.api('GET', '/healthz')).status, 200, 'the daemon serves on');
      execFileSync('mount', ['-o', 'remount,size=64m', cache]);
      const done = await waitUntil(
        () => env.task(task.id),
        (x: Task) => x.state === 'waiting' && x.numTurns === 1,
        { timeoutMs: 120_000, what: 'the turn to end once there is room' },
      );
      await stream.waitFor((ev) => ev.some((e) => e.id === done.lastEventId), 30_000, 'every event on the stream');
      stream.close();
      const ids = stream.events.filter((e) => e.id !== undefined).map((e) => e.id!);
      assert.deepEqual(ids, Array.from({ length: done.lastEventId }, (_, i) => i + 1), 'each event once, in order');
      const deltas = stream.messages<EventMessage>().filter((e) => e.kind === 'textDelta');
      assert.equal(deltas.length, 20_000);
    } finally {
      execFileSync('umount', ['-l', cache]);
    }
  });
});

describe('probe: one daemon per cache directory', () => {
  test('a second daemon on the same cache directory is refused with what to do; once the first stops it starts', async () => {
    await using dir = await tempDir('caic-lock-');
    const cacheDir = join(dir.path, 'cache');
    const first = await startTestDaemon('[server]\nallow_origins = ["local"]\n', { cacheDir, configDir: join(dir.path, 'a'), webDir: null });
    let closed = false;
    try {
      await assert.rejects(
        startTestDaemon('[server]\nallow_origins = ["local"]\n', { cacheDir, configDir: join(dir.path, 'b'), webDir: null }),
        (err: Error) => err instanceof UserError && /another caic is running with the cache directory .*; stop it first, or give this one its own XDG_CACHE_HOME/.test(err.message),
      );
      // Another cache directory is another daemon's business.
      await using other = await startTestDaemon('[server]\nallow_origins = ["local"]\n', { cacheDir: join(dir.path, 'cache2'), configDir: join(dir.path, 'c'), webDir: null });
      assert.equal((await http(`${other.url}/healthz`)).status, 200);
      await first.daemon.close();
      closed = true;
      await using second = await startTestDaemon('[server]\nallow_origins = ["local"]\n', { cacheDir, configDir: join(dir.path, 'b'), webDir: null });
      assert.equal((await http(`${second.url}/healthz`)).status, 200);
    } finally {
      if (!closed) await first.daemon.close();
    }
  });
});

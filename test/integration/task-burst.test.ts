// Twenty tasks created at once: every POST is answered without waiting for the preferences file
// (held back here, as a slow disk would), the choices are remembered meanwhile, and shutdown waits
// for the write so nothing is lost. Real daemon, real Docker.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Task } from '../../src/api/index.js';
import { PreferenceStore } from '../../src/config/index.js';
import { taskEnv } from '../helpers/task-env.js';
import { waitUntil, within } from '../helpers/wait.js';

// Twenty containers coming up on two cores, beside another suite (CI runs both Podman suites at
// once) can take longer than the runner's 120 s: the waits inside bound each step.
test('20 creates at once are answered while the preferences write is held back; close waits for it', { timeout: 300_000 }, async () => {
  await using env = await taskEnv();
  // Every preference write completes only once released (the daemon runs in this process).
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const original = Object.getOwnPropertyDescriptor(PreferenceStore.prototype, 'recordUse')!;
  let writes = 0;
  Object.defineProperty(PreferenceStore.prototype, 'recordUse', {
    configurable: true,
    writable: true,
    value: function (this: PreferenceStore, ...args: Parameters<PreferenceStore['recordUse']>) {
      writes++;
      const write = (original.value as PreferenceStore['recordUse']).apply(this, args);
      return held.then(() => write);
    },
  });
  try {
    const posts = Array.from({ length: 20 }, (_, i) => env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: `task ${i}` } }));
    const tasks = await within(Promise.all(posts), 60_000, 'all 20 answers while the preferences write is held');
    assert.equal(new Set(tasks.map((t) => t.id)).size, 20);
    assert.equal(writes, 20);
    // Readers see a choice once its file write is done (the store shares only what it wrote): that
    // write is not held back, only the answer to the daemon's caller is, so it comes while held.
    const prefs = await waitUntil(
      async () => (await env.api('GET', '/api/v1/server/preferences')).json<{ repositories: { name: string }[]; harness: string }>(),
      (p) => p.repositories[0]?.name === 'proj',
      { timeoutMs: 30_000, what: 'the choices remembered while the callers are still held' },
    );
    assert.equal(prefs.harness, 'fake');
    for (const t of tasks) await env.waitState(t.id, 'waiting', { timeoutMs: 180_000 });
    const branches = new Set((await env.api('GET', '/api/v1/tasks')).json<Task[]>().map((t) => t.repos[0]?.branch));
    assert.equal(branches.size, 20, 'each task its own branch');

    // Shutdown of the task service waits for the held writes: nothing is lost.
    let closed = false;
    void env.d.daemon.tasks.close().then(() => (closed = true));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.equal(closed, false, 'close waits for the preferences write');
    release();
    await waitUntil(() => closed, (c) => c, { timeoutMs: 30_000, what: 'close to finish once the writes land' });
    const file = JSON.parse(await readFile(join(env.d.configDir, 'preferences.json'), 'utf8')) as { users: Record<string, { repositories: { name: string }[] }> };
    assert.equal(Object.values(file.users)[0]?.repositories[0]?.name, 'proj');
  } finally {
    release();
    Object.defineProperty(PreferenceStore.prototype, 'recordUse', original);
  }
});

// Found by trying the daemon from outside (issue 9's probe): what a user does that no other test
// did, against the real daemon, Docker and the fake agent.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DiffResp, EventMessage, Repo, SyncResp } from '../../src/api/index.js';
import { makeOriginAndClone, taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { SseClient } from '../helpers/sse.js';

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

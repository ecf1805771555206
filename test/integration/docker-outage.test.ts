// The Docker engine going away and coming back, seen by the daemon through a TCP front for the
// engine's socket (test/helpers/docker-proxy.ts): the real engine stays up for everyone else.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EventMessage } from '../../src/api/index.js';
import { startDockerProxy, type DockerProxy } from '../helpers/docker-proxy.js';
import { ENGINE_SOCKET } from '../helpers/engine.js';
import { SseClient } from '../helpers/sse.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { waitUntil } from '../helpers/wait.js';

type Envelope = { error: { code: string; message: string } };

describe('Docker outages', () => {
  let proxy: DockerProxy;
  let env: TaskEnv;
  const post = (id: string, op: string, body?: unknown) => env.api('POST', `/api/v1/tasks/${id}/${op}`, body);

  before(async () => {
    proxy = await startDockerProxy(ENGINE_SOCKET);
    // Only the daemon under test goes through the proxy; the helpers talk to the socket itself.
    env = await taskEnv({ daemon: { env: { DOCKER_HOST: proxy.host } } });
  });
  after(async () => {
    try {
      await proxy?.up().catch(() => undefined);
      await env?.[Symbol.asyncDispose]();
    } finally {
      await proxy?.[Symbol.asyncDispose]();
    }
  });

  test('Docker unavailable at start: the daemon serves and lists, refuses new tasks, then connects and adopts', async () => {
    const t = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'before the outage' } });
    await env.waitState(t.id, 'waiting');
    await env.d.daemon.close();
    await proxy.down();
    await env.restart();
    assert.equal((await env.task(t.id)).state, 'waiting', 'listed from its log');
    const ready = await env.api('GET', '/readyz');
    assert.equal(ready.status, 503, ready.body);
    const caps = (await env.api('GET', '/api/v1/server/config')).json<{ capabilities: Record<string, boolean> }>().capabilities;
    assert.deepEqual([caps.dockerAvailable, caps.sudoAvailable], [false, false], 'no engine: no tasks, no sudo toggle');
    const refused = await env.api('POST', '/api/v1/tasks', { repos: [], harness: 'fake', prompt: { text: 'x' } });
    assert.equal(refused.status, 503, refused.body);
    assert.match(refused.json<Envelope>().error.message, /Docker/);

    await proxy.up();
    await waitUntil(() => env.api('GET', '/readyz'), (r) => r.status === 200, { timeoutMs: 30_000, what: 'the daemon to connect to Docker' });
    const s = new SseClient(`${env.d.url}/api/v1/tasks/${t.id}/events`);
    try {
      await s.waitFor((ev) => ev.some((e) => /reattached to the running agent/.test(JSON.stringify(e.data))), 30_000, 'adoption after Docker came');
      assert.equal((await post(t.id, 'input', { prompt: { text: 'after the outage' } })).status, 200);
      await s.waitFor((ev) => ev.some((e) => (e.data as EventMessage | undefined)?.kind === 'text' && /after the outage/.test(JSON.stringify(e.data))), 30_000, 'a turn after the outage');
    } finally {
      s.close();
    }
    await env.waitState(t.id, 'waiting');
  });

  test('a cut Docker event stream reconnects: deaths during and after the cut stop their tasks, old ones are not replayed', async () => {
    const [a, b] = await Promise.all(['watch me', 'and me'].map((text) => env.create({ repos: [], harness: 'fake', prompt: { text } })));
    await Promise.all([a!, b!].map((t) => env.waitState(t.id, 'waiting')));
    const watching = () => env.d.logs.find('watching docker events').length;
    const cutAndReconnect = async () => {
      const before = watching();
      assert.ok(before >= 1, 'the watcher runs');
      assert.ok(proxy.cut() >= 1, 'the event stream was open');
      await waitUntil(watching, (n) => n > before, { what: 'the watcher to reconnect' });
    };
    await cutAndReconnect();
    await env.docker.getContainer((await env.container(a!.id))!.Id).kill();
    await env.waitState(a!.id, 'stopped', { timeoutMs: 30_000 });
    assert.equal((await post(a!.id, 'revive')).status, 200);
    await env.waitState(a!.id, 'waiting');
    // Reconnecting asks for events since the last one seen (A's death), which Docker sends again:
    // it must not stop A, which runs again. B's death, after it, shows the replay was handled.
    await cutAndReconnect();
    await env.docker.getContainer((await env.container(b!.id))!.Id).kill();
    await env.waitState(b!.id, 'stopped', { timeoutMs: 30_000 });
    assert.equal((await env.task(a!.id)).state, 'waiting', 'an old death replayed after a reconnect did not stop the revived task');
  });

  test('a death the engine reports only after the task was revived leaves it running; a later death still stops it', async () => {
    // Rootless Podman was seen reporting a stop's death after a revive right behind it had finished.
    const t = await env.create({ repos: [], harness: 'fake', prompt: { text: 'late news' } });
    await env.waitState(t.id, 'waiting');
    const ignored = () => env.d.logs.find('a container death from before its last start: ignored').filter((r) => r.task === t.id).length;
    const events = proxy.hold(/^GET \S*\/events[?\s]/, 'answers');
    try {
      assert.equal((await post(t.id, 'stop')).status, 200);
      assert.equal((await post(t.id, 'revive')).status, 200);
      await env.waitState(t.id, 'waiting');
    } finally {
      events.release();
    }
    // Either the watcher says it ignored the late death, or (wrongly) the task stops.
    const state = () => env.task(t.id).then((x) => x.state);
    await waitUntil(async () => (ignored() > 0 ? 'ignored' : await state()), (s) => s !== 'waiting', { timeoutMs: 30_000, what: 'the late death to arrive' });
    assert.equal(await state(), 'waiting', 'the stop\'s death, reported late, did not stop the revived task');
    assert.equal(ignored(), 1);
    assert.equal((await post(t.id, 'input', { prompt: { text: 'still here' } })).status, 200);
    await env.docker.getContainer((await env.container(t.id))!.Id).kill();
    await env.waitState(t.id, 'stopped', { timeoutMs: 30_000 });
  });

  test('purge while Docker is unreachable: refused, nothing is marked purged; purge again once it is back', async () => {
    const t = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'purge me' } });
    await env.waitState(t.id, 'waiting');
    await proxy.down();
    try {
      const refused = await post(t.id, 'purge');
      assert.equal(refused.status, 503, refused.body);
      const after = await env.task(t.id);
      assert.equal(after.state, 'waiting', 'the container still runs: waiting, purge can be tried again');
      assert.match(after.error, /could not purge the task/);
      assert.ok(await env.container(t.id), 'the container is still there');
    } finally {
      await proxy.up();
    }
    const purged = await post(t.id, 'purge');
    assert.equal(purged.status, 200, purged.body);
    assert.equal((await env.task(t.id)).state, 'purged');
    assert.equal(await env.container(t.id), undefined);
  });

  test('shutdown while a container is being made: close waits for it, so the environment\'s sweep finds it', async () => {
    // A daemon of its own (this one is closed here), its engine requests through its own front.
    await using front = await startDockerProxy(ENGINE_SOCKET);
    const own = await taskEnv({ daemon: { env: { DOCKER_HOST: front.host } } });
    let id: string | undefined;
    try {
      const hold = front.hold(/^POST \S*\/containers\/create/);
      try {
        id = (await own.create({ repos: [], harness: 'fake', prompt: { text: 'made while the daemon closes' } })).id;
        await waitUntil(() => hold.held(), (n) => n >= 1, { timeoutMs: 30_000, what: 'the create request held' });
        let closed = false;
        const closing = own.d.daemon.close().then(() => (closed = true));
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(closed, false, 'close waits for the container being made');
        hold.release();
        await closing;
      } finally {
        hold.release();
      }
      assert.ok(await env.container(id), 'the container exists once close returned');
    } finally {
      await own[Symbol.asyncDispose]();
    }
    assert.equal(await env.container(id), undefined, 'the sweep removed it: nothing left behind');
  });
});

// What a restarted daemon finds, against real Docker: a container stopped, an agent that exited,
// a relay it cannot reach. Each task lands where it really is, says why, and input brings it back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EventMessage } from '../../src/api/index.js';
import type { SseClient } from '../helpers/sse.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

type Envelope = { error: { code: string; message: string } };
const results = (s: SseClient) => s.messages<EventMessage>().filter((e) => e.kind === 'result').length;
const deltas = (s: SseClient) => s.messages<EventMessage>().filter((e) => e.kind === 'textDelta').length;

describe('adoption after a daemon restart', () => {
  let env: TaskEnv;
  const stream = (id: string) => env.stream(id);
  const post = (id: string, op: string, body?: unknown) => env.post(id, op, body);

  before(async () => {
    env = await taskEnv();
  });
  after(async () => {
    await env[Symbol.asyncDispose]();
  });

  test('a container stopped while the daemon was down: stopped; revive resumes the agent', async () => {
    const t = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    await env.waitState(t.id, 'waiting');
    await env.d.daemon.close();
    await env.docker.getContainer((await env.container(t.id))!.Id).stop({ t: 1 });
    await env.restart();
    await env.waitState(t.id, 'stopped');
    assert.equal((await post(t.id, 'input', { prompt: { text: 'x' } })).status, 409);
    const revive = await post(t.id, 'revive');
    assert.equal(revive.status, 200, revive.body);
    assert.equal((await env.task(t.id)).state, 'waiting');
    const s = stream(t.id);
    await s.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'history');
    const before = results(s);
    assert.equal((await post(t.id, 'input', { prompt: { text: 'back again' } })).status, 200);
    await s.waitFor(() => results(s) > before, 30_000, 'a turn after revive');
  });

  test('an agent killed while the daemon was down: the relay tells, the task waits; input resumes its session', async () => {
    const t = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_LONG 400 20' } });
    const s = stream(t.id);
    await s.waitFor(() => deltas(s) >= 10, 60_000, '10 deltas');
    await env.d.daemon.close();
    s.close();
    const killed = await env.execIn(t.id, "pkill -KILL -f '^node /home/user/.caic/bin/[f]ake-agent-' && echo killed", 'user');
    assert.match(killed.output, /killed/);
    // The relay holds the ended agent's output until a client reads it. Frozen here, it would take
    // an attach and never answer: the daemon must read what it holds instead of attaching to it.
    const relay = "'^node /home/user/.caic/bin/[r]elay-[0-9a-f]*.mjs daemon'";
    await env.execIn(t.id, `until [ -e /home/user/.caic/sessions/1/agent-ended ]; do sleep 0.05; done; pkill -STOP -f ${relay}`, 'user');
    await env.restart();
    const waiting = await env.waitState(t.id, 'waiting');
    assert.match(waiting.error, /killed by SIGKILL/);
    const again = stream(t.id);
    await again.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'history');
    const exit = again.messages<EventMessage>().find((e) => e.kind === 'system' && e.subtype === 'agent_exit');
    assert.ok(exit, 'the exit the relay recorded while the daemon was down');
    assert.equal((await post(t.id, 'input', { prompt: { text: 'resume please' } })).status, 200);
    await again.waitFor(() => results(again) >= 1, 30_000, 'a turn of the resumed session');
    const session = again.messages<EventMessage>().filter((e) => e.kind === 'system' && e.subtype === 'session_start').at(-1);
    assert.match(JSON.stringify(session), /"reason":"resume","resume":"[0-9a-f-]{36}"/);
    await env.execIn(t.id, `pkill -CONT -f ${relay}`, 'user');
  });

  test('adoption that fails: the task waits with the reason; once the cause is gone input reaches the running agent', async () => {
    const t = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_LONG 300 20' } });
    const s = stream(t.id);
    await s.waitFor(() => deltas(s) >= 10, 60_000, '10 deltas');
    await env.d.daemon.close();
    s.close();
    // The relay program is gone and cannot be written again: the daemon cannot even ask the relay.
    const broke = await env.execIn(t.id, 'rm -f /home/user/.caic/bin/relay-*.mjs && chmod 555 /home/user/.caic/bin && echo broke', 'user');
    assert.match(broke.output, /broke/);
    await env.restart();
    const waiting = await env.waitState(t.id, 'waiting');
    assert.match(waiting.error, /could not reattach after restart/);
    const refused = await post(t.id, 'input', { prompt: { text: 'x' } });
    assert.equal(refused.status, 409, refused.body);
    assert.match(refused.json<Envelope>().error.message, /Permission denied/);
    await env.execIn(t.id, 'chmod 755 /home/user/.caic/bin', 'user');
    const again = stream(t.id);
    assert.equal((await post(t.id, 'input', { prompt: { text: 'still there?' } })).status, 200);
    await again.waitFor(() => results(again) >= 2, 60_000, 'the long turn and the answer');
    const texts = again.messages<EventMessage>().flatMap((e) => (e.kind === 'text' ? [e.text] : []));
    assert.equal(texts[0], Array.from({ length: 300 }, (_, i) => `${i} `).join(''), 'the running agent was reached: its whole turn');
    assert.match(texts.at(-1) ?? '', /still there/);
    const sessions = again.messages<EventMessage>().filter((e) => e.kind === 'system' && e.subtype === 'session_start');
    assert.equal(sessions.length, 1, 'no new agent session');
  });
});

// The task terminal's WebSocket route without a browser (the `ws` package as client): each guard
// (session, Origin, ownership, live state, caps) refuses before the upgrade; a shell answers and
// resizes beside the agent's relay without disturbing it; idle and a stopped task close it.
// Real daemon, real Docker and sshd, the fake agent, the (stand-in) GitHub login.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TERMINAL_CLOSE, type Task } from '../../src/api/index.js';
import { OUTPUT_HIGH_WATER } from '../../src/http/routes/terminal.js';
import { http } from '../helpers/http.js';
import { githubLoginToml, startStubForge, type StubForge, type StubUser } from '../helpers/stub-forge.js';
import { signInCookie } from '../helpers/login.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { mustOpen, openTerminal, type Terminal } from '../helpers/terminal-client.js';
import { waitUntil, within } from '../helpers/wait.js';

/** GitHub login needs an https external URL; requests name its host. */
const HOST = 'caic.test';
const ORIGIN = `https://${HOST}`;

/** Signs `user` in through the stand-in GitHub login; the session cookie (name=value). */
const signIn = (url: string, stub: StubForge, user: StubUser) => signInCookie(url, HOST, stub, user);

const code = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

describe('task terminal over a WebSocket', { timeout: 240_000 }, () => {
  let stub: StubForge;
  let env: TaskEnv;
  let alice = '';
  let bob = '';
  let task: Task;
  /** A browser page of this server: the cookie and this server's Origin. */
  const page = (cookie: string) => ({ host: HOST, cookie, origin: ORIGIN });
  const bearer = (cookie: string) => ({ host: HOST, authorization: `Bearer ${cookie.slice('caic_session='.length)}` });
  const opened: Terminal[] = [];
  const open = async (headers: Record<string, string>, size?: { cols: number; rows: number }) => {
    const t = await mustOpen(env.d.url, task.id, headers, size);
    opened.push(t);
    return t;
  };

  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({
      files: 2,
      extraConfig: `external_url = "${ORIGIN}"\n${githubLoginToml(stub, ['alice', 'bob'])}[terminal]\nmax_per_task = 2\nmax_per_user = 3\n`,
    });
    alice = await signIn(env.d.url, stub, { id: 601, username: 'alice' });
    bob = await signIn(env.d.url, stub, { id: 602, username: 'bob' });
    task = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_DEMO hello' } }, { host: HOST, cookie: alice });
    await env.waitState(task.id, 'waiting', { headers: { host: HOST, cookie: alice } });
  });
  after(async () => {
    for (const t of opened) t.ws.terminate();
    try {
      await env?.[Symbol.asyncDispose]();
    } finally {
      await stub?.close();
    }
  });

  test('the owner types `echo $((6*7))` and sees 42; a resize reaches `stty size`; the log names who and which task, never the bytes', async () => {
    const t = await open(page(alice), { cols: 100, rows: 30 });
    await waitUntil(() => t.messages[0], (m) => m?.type === 'ready', { what: 'the ready message' });
    t.type('echo $((6*7))x\r');
    await t.waitFor(/42x/, 'the shell to answer 42');
    t.type('stty size; whoami\r');
    await t.waitFor(/30 100\r?\nuser/, 'stty to report 30 rows, 100 columns, as user');
    t.resize(132, 40);
    const mark = t.output().length;
    t.type('stty size\r');
    await t.waitFor(/40 132/, 'the new size', 15_000, mark);
    t.type('echo SECRET-TYPED-$((1+1))\r');
    await t.waitFor(/SECRET-TYPED-2/, 'the echo');
    t.close();
    await within(t.closed, 10_000, 'the close');
    await waitUntil(() => env.d.logs.find('terminal closed'), (l) => l.some((x) => x.task === task.id && x.user === 'alice' && x.reason === 'client'), { what: 'the close line' });
    assert.ok(env.d.logs.find('terminal opened').some((l) => l.user === 'alice' && l.task === task.id));
    const audit = await readFile(join(env.d.configDir, 'audit.jsonl'), 'utf8');
    assert.match(audit, /"event":"terminal.open"/);
    assert.match(audit, /"event":"terminal.close"/);
    assert.doesNotMatch(JSON.stringify(env.d.logs.records()) + audit, /SECRET-TYPED/, 'typed bytes are never logged');
  });

  test('no session: 401 before the upgrade', async () => {
    const r = await openTerminal(env.d.url, task.id, { host: HOST, origin: ORIGIN });
    assert.ok(!r.ok);
    assert.equal(r.status, 401);
    assert.equal(code(r.body), 'UNAUTHORIZED');
  });

  test('another Origin, a null Origin, or a cookie without an Origin: 403; a bearer token without an Origin opens', async () => {
    for (const origin of ['https://evil.example', 'null', `https://${HOST}.evil.example`]) {
      const r = await openTerminal(env.d.url, task.id, { ...page(alice), origin });
      assert.ok(!r.ok, origin);
      assert.equal(r.status, 403, `${origin}: ${r.body}`);
      assert.equal(code(r.body), 'FORBIDDEN');
    }
    const cookieOnly = await openTerminal(env.d.url, task.id, { host: HOST, cookie: alice });
    assert.ok(!cookieOnly.ok);
    assert.equal(cookieOnly.status, 403, cookieOnly.body);
    const t = await open(bearer(alice));
    t.type('echo bearer-$((2*3))\r');
    await t.waitFor(/bearer-6/, 'the shell over a bearer token');
    t.close();
    await within(t.closed, 10_000, 'the close');
  });

  test("another user's task: 404, exactly as for an unknown id", async () => {
    const r = await openTerminal(env.d.url, task.id, page(bob));
    assert.ok(!r.ok);
    assert.equal(r.status, 404, r.body);
    const unknown = await openTerminal(env.d.url, '0123456789abcdefghjkmnpqrs', page(bob));
    assert.ok(!unknown.ok);
    assert.deepEqual({ status: r.status, body: r.body.replace(task.id, 'ID') }, { status: unknown.status, body: unknown.body.replace('0123456789abcdefghjkmnpqrs', 'ID') });
  });

  test('a plain GET (no upgrade) is a 400, not a shell', async () => {
    const r = await http(`${env.d.url}/api/v1/tasks/${task.id}/terminal`, { headers: { host: HOST, cookie: alice } });
    assert.equal(r.status, 400, r.body);
  });

  test('caps: a third terminal on the task is 429 while two are open; one closing frees a slot; the user cap counts across tasks', async () => {
    const a = await open(page(alice));
    const b = await open(page(alice));
    const third = await openTerminal(env.d.url, task.id, page(alice));
    assert.ok(!third.ok);
    assert.equal(third.status, 429, third.body);
    assert.equal(code(third.body), 'RATE_LIMITED');
    // The plain GET the web UI asks after a failed upgrade says the same.
    assert.equal((await http(`${env.d.url}/api/v1/tasks/${task.id}/terminal`, { headers: { host: HOST, cookie: alice } })).status, 429);
    a.close();
    await within(a.closed, 10_000, 'the close');
    const c = await waitUntil(() => openTerminal(env.d.url, task.id, page(alice)), (r) => r.ok, { what: 'a freed slot' });
    assert.ok(c.ok);
    opened.push(c.term);
    // Two on this task, one on another of alice's tasks: the fourth is over her cap of three.
    const other = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_DEMO second' } }, { host: HOST, cookie: alice });
    await env.waitState(other.id, 'waiting', { headers: { host: HOST, cookie: alice } });
    const d = await mustOpen(env.d.url, other.id, page(alice));
    opened.push(d);
    const fourth = await openTerminal(env.d.url, other.id, page(alice));
    assert.ok(!fourth.ok);
    assert.equal(fourth.status, 429, fourth.body);
    assert.match(fourth.body, /you have 3 terminals open/);
    for (const t of [b, c.term, d]) t.close();
    await Promise.all([b, c.term, d].map((t) => within(t.closed, 10_000, 'the close')));
    assert.equal((await env.api('POST', `/api/v1/tasks/${other.id}/purge`, undefined, { host: HOST, cookie: alice, origin: ORIGIN })).status, 200);
  });

  test("the agent's relay is not disturbed: a turn completes while a terminal is busy", async () => {
    const t = await open(page(alice));
    t.type('for i in $(seq 1 200); do echo line$i; done\r');
    const before = (await env.task(task.id, { host: HOST, cookie: alice })).numTurns;
    const sent = await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text: 'FAKE_DEMO during the terminal' } }, { host: HOST, cookie: alice, origin: ORIGIN });
    assert.equal(sent.status, 200, sent.body);
    await waitUntil(() => env.task(task.id, { host: HOST, cookie: alice }), (x) => x.numTurns > before && x.state === 'waiting', { timeoutMs: 60_000, what: 'the turn to complete' });
    await t.waitFor(/line200/, 'the loop output');
    t.type('echo still-$((3*3))\r');
    await t.waitFor(/still-9/, 'the terminal still answering');
    t.close();
    await within(t.closed, 10_000, 'the close');
  });

  test('a client that stops reading stalls the shell instead of the daemon buffering its output; nothing is lost once it reads again', async () => {
    const t = await open(page(alice));
    t.type('stty -echo\r');
    const total = 30 * 1024 * 1024;
    t.type(`head -c ${total} /dev/zero | tr '\\0' x; echo; echo DONE-$((1+1))\r`);
    t.ws.pause();
    const wss = env.d.daemon.app.websocketServer;
    let maxBuffered = 0;
    const producer = async () => {
      const r = await env.execIn(task.id, 'p=$(pgrep -x head) && grep ^wchar /proc/$p/io || echo gone', 'user');
      return r.output.trim();
    };
    await waitUntil(producer, (v) => v.startsWith('wchar'), { what: 'the producer to start' });
    // Sampled until the producer either finished (the daemon took everything) or stopped moving.
    let last = '';
    let still = 0;
    const verdict = await waitUntil(
      async () => {
        for (const c of wss.clients) maxBuffered = Math.max(maxBuffered, c.bufferedAmount);
        const now = await producer();
        still = now === last ? still + 1 : 0;
        last = now;
        return now === 'gone' ? 'finished' : still >= 8 ? 'stalled' : '';
      },
      (v) => v !== '',
      { timeoutMs: 60_000, intervalMs: 250, what: 'the producer to finish or stall' },
    );
    assert.equal(verdict, 'stalled', `the shell kept writing while nobody read (daemon buffered up to ${maxBuffered} bytes)`);
    assert.ok(maxBuffered <= OUTPUT_HIGH_WATER + 128 * 1024, `the daemon buffered ${maxBuffered} bytes for a client that does not read`);
    t.ws.resume();
    await t.waitFor(/DONE-2/, 'all the output', 60_000);
    assert.ok(t.output().length >= total, 'every byte arrived');
    t.close();
    await within(t.closed, 10_000, 'the close');
  });

  test('a stopped task closes its terminal (4001), and then it is 409', async () => {
    const t = await open(page(alice));
    t.type('echo up\r');
    await t.waitFor(/up/, 'the shell');
    const stop = await env.api('POST', `/api/v1/tasks/${task.id}/stop`, undefined, { host: HOST, cookie: alice, origin: ORIGIN });
    assert.equal(stop.status, 200, stop.body);
    const closed = await within(t.closed, 60_000, 'the terminal to close with the task');
    assert.equal(closed.code, TERMINAL_CLOSE.taskEnded);
    assert.ok(t.messages.some((m) => m.type === 'closing' && m.reason === 'task_ended'));
    await env.waitState(task.id, ['stopped'], { headers: { host: HOST, cookie: alice } });
    const r = await openTerminal(env.d.url, task.id, page(alice));
    assert.ok(!r.ok);
    assert.equal(r.status, 409, r.body);
    assert.equal(code(r.body), 'CONFLICT');
  });
});

describe('task terminal idle timeout', { timeout: 120_000 }, () => {
  let env: TaskEnv;
  before(async () => {
    env = await taskEnv({ files: 1, extraConfig: '[terminal]\nidle_timeout_seconds = 1\n' });
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
  });

  test('no input for idle_timeout_seconds closes the terminal with 4000 and says why; output alone does not keep it open', async () => {
    const task = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_DEMO idle' } });
    await env.waitState(task.id, 'waiting');
    // Without login no Origin is needed (no-auth mode, localhost); a browser's must still match.
    const evil = await openTerminal(env.d.url, task.id, { origin: 'https://evil.example' });
    assert.ok(!evil.ok);
    assert.equal(evil.status, 403);
    const t = await mustOpen(env.d.url, task.id);
    t.type('while true; do echo tick; sleep 0.2; done\r');
    await t.waitFor(/tick/, 'output');
    const closed = await within(t.closed, 30_000, 'the idle close');
    assert.equal(closed.code, TERMINAL_CLOSE.idle);
    assert.equal(closed.reason, 'idle');
    assert.ok(t.messages.some((m) => m.type === 'closing' && m.reason === 'idle'));
  });

  test('the daemon shutting down closes an open terminal with 1001 and says why (the client may reconnect to the next one)', async () => {
    const task = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_DEMO shutdown' } });
    await env.waitState(task.id, 'waiting');
    const t = await mustOpen(env.d.url, task.id);
    t.type('echo before-shutdown\r');
    await t.waitFor(/before-shutdown/, 'the shell');
    await env.d.daemon.close();
    const closed = await within(t.closed, 30_000, 'the close at shutdown');
    assert.equal(closed.code, TERMINAL_CLOSE.shutdown);
    assert.ok(t.messages.some((m) => m.type === 'closing' && m.reason === 'shutdown'), JSON.stringify(t.messages));
  });
});

// The relay as real processes: the agent outlives its client, replays from any offset, ends on NUL;
// an agent or a relay that cannot start explains itself to whoever attaches.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil, within } from '../helpers/wait.js';

const RELAY = fileURLToPath(new URL('../../src/agents/relay/relay.js', import.meta.url));
const FAKE = fileURLToPath(new URL('../../src/agents/fake/fake-agent.js', import.meta.url));
const DEADLINE_MS = 20_000;

interface Client {
  proc: ChildProcessWithoutNullStreams;
  out: () => string;
  err: () => string;
  /** Resolves once the output contains `text`; fails after the deadline with what came. */
  waitFor(text: string): Promise<string>;
  exited: Promise<number | null>;
}

function client(args: string[]): Client {
  const proc = spawn(process.execPath, [RELAY, ...args]);
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: (s: string) => void }[] = [];
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.filter((x) => out.includes(x.text))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(out);
    }
  });
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    out: () => out,
    err: () => err,
    waitFor: (text) =>
      within(
        out.includes(text) ? Promise.resolve(out) : new Promise<string>((resolve) => waiters.push({ text, resolve })),
        DEADLINE_MS,
        `"${text}" from the relay (stdout so far: ${JSON.stringify(out.slice(-300))}, stderr: ${JSON.stringify(err.slice(-300))})`,
      ),
    exited: within(exited, DEADLINE_MS * 3, 'the relay client to exit'),
  };
}

const prompt = (text: string) => `${JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'text', text }] } })}\n`;
/** `relay alive`: 0 the agent runs, 3 the agent ended but the relay is still up (it still serves a client), 1 no relay. */
const relayStatus = (dir: string) => spawnSync(process.execPath, [RELAY, 'alive', '--dir', dir]).status;
const alive = (dir: string) => relayStatus(dir) === 0;
const pid = (dir: string) => Number(readFileSync(join(dir, 'pid'), 'utf8'));
const waitAlive = (dir: string, want: boolean) => waitUntil(() => alive(dir), (a) => a === want, { timeoutMs: DEADLINE_MS, what: `relay alive = ${want}` });
/** Until the relay process is gone, not only its agent (a relay whose agent ended may still accept a client for a moment). */
const waitGone = (dir: string) => waitUntil(() => relayStatus(dir), (st) => st === 1, { timeoutMs: DEADLINE_MS, what: 'the relay gone' });

test('serve-attach, detach, reattach at an offset, NUL shutdown', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'relay');
  const first = client(['serve-attach', '--dir', dir, '--cwd', tmp.path, '--', process.execPath, FAKE]);
  first.proc.stdin.write(prompt('hello relay'));
  await first.waitFor('"type":"result"');
  const log1 = readFileSync(join(dir, 'output.jsonl'), 'utf8');
  assert.equal(first.out(), log1, 'the client saw exactly output.jsonl, stdin lines included');
  assert.match(log1.split('\n')[0]!, /"type":"user".*hello relay/, 'the prompt is logged first');
  assert.ok(alive(dir));
  const relayPid = pid(dir);

  // The client goes away (daemon restart, SSH drop): the agent keeps running.
  first.proc.kill('SIGKILL');
  await first.exited;
  assert.ok(alive(dir), 'relay survives its client');
  assert.equal(pid(dir), relayPid);

  // Reattach at the byte offset already seen: nothing is replayed twice, new output flows.
  const offset = Buffer.byteLength(log1);
  const second = client(['attach', '--dir', dir, '--offset', String(offset)]);
  second.proc.stdin.write(prompt('second turn'));
  await second.waitFor('"type":"result"');
  const log2 = readFileSync(join(dir, 'output.jsonl'), 'utf8');
  assert.equal(second.out(), log2.slice(log1.length));

  // A new client replaces the attached one; replay from 0 gives the whole log.
  const third = client(['attach', '--dir', dir, '--offset', '0']);
  await third.waitFor('second turn');
  await second.exited;
  assert.ok(third.out().startsWith(log1));

  // NUL closes the agent's stdin: it finishes, the exit record arrives, the client ends.
  third.proc.stdin.write(Buffer.from([0]));
  assert.equal(await third.exited, 0);
  assert.match(third.out(), /\{"type":"caic_relay_exit","code":0,"signal":null\}\n$/);
  await waitGone(dir);
});

test('an agent that exits while nobody is attached is replayed to the next client', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'relay');
  const c = client(['serve-attach', '--dir', dir, '--cwd', tmp.path, '--no-log-stdin', '--', 'sh', '-c', 'read x; echo "{\\"got\\":\\"$x\\"}"; echo partial-no-newline | tr -d "\\n"']);
  await waitAlive(dir, true);
  c.proc.kill('SIGKILL'); // detach before sending anything
  await c.exited;
  const writer = client(['attach', '--dir', dir]);
  writer.proc.stdin.write('abc\n');
  await writer.waitFor('caic_relay_exit');
  assert.equal(await writer.exited, 0);
  assert.equal(writer.out(), '{"got":"abc"}\npartial-no-newline\n{"type":"caic_relay_exit","code":0,"signal":null}\n', 'no stdin echo with --no-log-stdin; a partial last line is terminated');
});

test('alive: 0 while the agent runs, 3 once it ended and only its output waits for a client, 1 when gone', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'relay');
  const status = () => spawnSync(process.execPath, [RELAY, 'alive', '--dir', dir]).status;
  // The agent ends once the file `go` appears: after its client is gone, so the relay keeps its output.
  const c = client(['serve-attach', '--dir', dir, '--cwd', tmp.path, '--no-log-stdin', '--', 'sh', '-c', 'echo "{\\"n\\":1}"; until [ -e go ]; do sleep 0.02; done']);
  await waitUntil(status, (s) => s === 0, { timeoutMs: DEADLINE_MS, what: 'the relay running its agent' });
  await c.waitFor('"n":1');
  c.proc.kill('SIGKILL');
  await c.exited;
  await writeFile(join(tmp.path, 'go'), '');
  await waitUntil(status, (s) => s === 3, { timeoutMs: DEADLINE_MS, what: 'the relay holding an ended agent' });
  const reader = client(['attach', '--dir', dir, '--offset', '0']);
  await reader.waitFor('caic_relay_exit');
  assert.equal(await reader.exited, 0);
  await waitUntil(status, (s) => s === 1, { timeoutMs: DEADLINE_MS, what: 'the relay gone' });
});

test('an agent binary that is not there: the exit record says so, the relay ends', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'relay');
  const c = client(['serve-attach', '--dir', dir, '--cwd', tmp.path, '--', 'caic-no-such-agent', '-p']);
  c.proc.stdin.write(prompt('hello?'));
  await c.waitFor('caic_relay_exit');
  assert.equal(await c.exited, 0, c.err());
  const exit = JSON.parse(c.out().split('\n').find((l) => l.includes('caic_relay_exit'))!) as Record<string, unknown>;
  assert.deepEqual(exit, {
    type: 'caic_relay_exit',
    code: null,
    signal: null,
    error: 'cannot start the agent: "caic-no-such-agent" is not installed in this container (spawn caic-no-such-agent ENOENT)',
  });
  assert.match(readFileSync(join(dir, 'relay.log'), 'utf8'), /is not installed in this container/);
  await waitGone(dir);
});

test('the relay that ends a client stays until the client closes: input sent after the end meets no reset', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'relay');
  // The agent ends at once; nobody is attached, so the relay keeps its output for the first client.
  const daemon = spawn(process.execPath, [RELAY, 'daemon', '--dir', dir, '--cwd', tmp.path, '--', 'sh', '-c', 'exit 0'], { stdio: 'ignore', detached: true });
  try {
    // `alive` 3: the agent ended, the relay holds its output for a client.
    const status = () => spawnSync(process.execPath, [RELAY, 'alive', '--dir', dir]).status;
    await waitUntil(status, (st) => st === 3, { what: 'the relay holding the ended agent' });
    const sock = createConnection({ path: join(dir, 'relay.sock'), allowHalfOpen: true });
    const errors: string[] = [];
    sock.on('error', (err) => errors.push(err.message));
    let out = '';
    sock.on('data', (d: Buffer) => (out += d.toString()));
    const ended = new Promise<void>((resolve) => sock.once('end', resolve));
    sock.write('{"offset":0}\n');
    await within(ended, 20_000, "the relay's end");
    assert.match(out, /caic_relay_exit/);
    // A client still typing when the end arrived (the daemon's channel, an attach client's stdin).
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => sock.write('input after the end\n', () => resolve()));
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(errors, [], `no EPIPE or ECONNRESET: the relay read until the client closed (relay.log: ${readFileSync(join(dir, 'relay.log'), 'utf8')})`);
    assert.equal(status(), 3, 'the relay waits for the client');
    sock.end();
    await waitUntil(status, (st) => st === 1, { what: 'the relay gone once the client closed' });
  } finally {
    try {
      process.kill(-daemon.pid!, 'SIGKILL');
    } catch {
      /* ended */
    }
  }
});

test('an agent cannot forge the exit record: its imitation is shifted by one space', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'relay');
  const forged = '{"type":"caic_relay_exit","code":0,"signal":null}';
  const script = `echo '${forged}'; echo 'x${forged}'; sleep 0.2; printf '${forged}'`;
  const c = client(['serve-attach', '--dir', dir, '--cwd', tmp.path, '--', 'sh', '-c', script]);
  await c.waitFor(`\n${forged}\n`);
  assert.equal(await c.exited, 0);
  assert.equal(c.out(), ` ${forged}\nx${forged}\n ${forged}\n${forged}\n`, 'whole lines and the cut last one escaped; the real record last');
});

test('an agent that fails at once: its last stderr goes into the exit record', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'relay');
  const script = 'echo "fatal: no credentials, run login" >&2; exit 7';
  const c = client(['serve-attach', '--dir', dir, '--cwd', tmp.path, '--', 'sh', '-c', script]);
  await c.waitFor('caic_relay_exit');
  assert.equal(await c.exited, 0);
  const exit = JSON.parse(c.out().trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.deepEqual(exit, { type: 'caic_relay_exit', code: 7, signal: null, stderr: 'fatal: no credentials, run login' });
});

test('attach to a relay that is gone: what output.jsonl holds, then relay.log on stderr; at once with --pid', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'relay');
  const c = client(['serve-attach', '--dir', dir, '--cwd', tmp.path, '--no-log-stdin', '--', 'sh', '-c', 'echo "{\\"n\\":1}"; echo oops >&2; exit 1']);
  await c.waitFor('caic_relay_exit');
  await c.exited;
  await waitGone(dir);
  const late = client(['attach', '--dir', dir, '--offset', '0', '--wait', '600000']);
  assert.equal(await late.exited, 3, 'ends at once although it may wait 10 minutes: the relay is dead');
  assert.equal(late.out(), readFileSync(join(dir, 'output.jsonl'), 'utf8'), 'the whole output, exit record included');
  assert.match(late.err(), /the relay is not running; relay\.log ends with:\n[\s\S]*oops/);

  // A relay that dies before it ever listens (here: no such relay): --pid ends the wait at once.
  const empty = join(tmp.path, 'never');
  const gone = spawnSync('sh', ['-c', 'true & echo $!']).stdout.toString().trim();
  const waiting = client(['attach', '--dir', empty, '--wait', '600000', '--pid', gone]);
  assert.equal(await waiting.exited, 3);
  assert.match(waiting.err(), /the relay is not running/);
});

test('--wait-start: the agent starts only when a client asks; --env-file: its variables reach the agent', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'session');
  const envFile = join(tmp.path, 'env');
  await writeFile(envFile, "# comment\nTOKEN='it'\\''s \"quoted\" $HOME'\n");
  // The agent prints what it got, then echoes its input.
  const agent = ['bash', '-c', 'printf \'token=%s\\nbashenv=%s\\n\' "$TOKEN" "$BASH_ENV"; exec cat'];
  const daemon = spawn(process.execPath, [RELAY, 'daemon', '--dir', dir, '--cwd', tmp.path, '--wait-start', '--env-file', envFile, '--', ...agent], {
    stdio: 'ignore',
    detached: true,
    env: { ...process.env, TOKEN: 'not from the file', BASH_ENV: '/etc/caic-env.sh' },
  });
  try {
    await waitAlive(dir, true);
    // Listening, yet no agent: without --wait-start it would have started before the socket existed.
    assert.doesNotMatch(readFileSync(join(dir, 'relay.log'), 'utf8'), /started agent/);
    assert.equal(readFileSync(join(dir, 'output.jsonl'), 'utf8'), '');
    const c = client(['attach', '--dir', dir, '--offset', '0', '--start']);
    const out = await c.waitFor('bashenv=');
    assert.equal(out.split('\n').slice(0, 2).join('\n'), `token=it's "quoted" $HOME\nbashenv=/etc/caic-env.sh`);
    c.proc.stdin.write('\0');
    assert.equal(await c.exited, 0);
    await waitGone(dir);
  } finally {
    try {
      process.kill(-daemon.pid!, 'SIGKILL');
    } catch {
      /* ended */
    }
  }
});

// One SSH connection per container carries every command of a task: a bad or failing command must
// fail alone, and user values must never be command-line text. Real container, real sshd.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ContainerError, type ContainerHandle, type SpawnedProcess } from '../../src/containers/index.js';
import { testRuntime, type TestRuntime } from '../helpers/containers.js';
import { dockerExec } from '../helpers/task-env.js';
import { waitUntil, within } from '../helpers/wait.js';

/** Writes a line to `cat` running over SSH and waits for it to come back. */
async function echo(proc: SpawnedProcess, line: string): Promise<void> {
  let got = '';
  const seen = new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.includes(line)) {
        proc.stdout.off('data', onData);
        resolve();
      }
    };
    proc.stdout.on('data', onData);
  });
  proc.stdin.write(`${line}\n`);
  await within(seen, 10_000, `"${line}" echoed back`);
}

describe('SSH channels on one pooled connection', () => {
  let t: TestRuntime;
  let h: ContainerHandle;
  before(async () => {
    t = await testRuntime();
    h = await t.launch();
    await t.rt.connect(h);
  });
  after(async () => {
    await t[Symbol.asyncDispose]();
  });

  test('a command with a NUL byte is refused before it is sent; the other channels live on', async () => {
    const conn = await t.rt.connect(h);
    const cat = await t.rt.spawn(h, 'cat');
    await echo(cat, 'before');
    for (const cmd of ['echo \0', `git diff -- 'a\0b'`]) {
      await assert.rejects(t.rt.exec(h, cmd), (err: Error) => err instanceof ContainerError && /NUL/.test(err.message));
    }
    await assert.rejects(t.rt.exec(h, 'printf %s "$1"', { args: ['a\0b'] }), ContainerError);
    assert.equal(conn.closed, false, 'the connection is still up');
    assert.equal(await t.rt.connect(h), conn, 'and still the pooled one');
    await echo(cat, 'after');
    assert.equal((await t.rt.exec(h, 'echo fine')).stdout, 'fine\n');
    cat.stdin.end();
    assert.equal((await within(cat.wait(), 10_000, 'cat to end')).code, 0);
  });

  test('args reach the command as "$@", byte for byte, never as shell text', async () => {
    const values = ["it's", '$(touch /tmp/pwned)', '`id`', 'two words', 'line\nbreak', '"quoted"', '*', '-n', 'é ü 日本', ''];
    const r = await t.rt.exec(h, 'for a in "$@"; do printf "<%s>" "$a"; done; [ -e /tmp/pwned ] && echo PWNED; true', { args: values });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, values.map((v) => `<${v}>`).join(''));
    await assert.rejects(t.rt.exec(h, 'true', { args: ['x'], stdin: 'y' }), ContainerError);
  });

  test('failing and killed channels fail alone', async () => {
    const cat = await t.rt.spawn(h, 'cat');
    await echo(cat, 'one');
    assert.equal((await t.rt.exec(h, 'exit 3')).code, 3);
    const ac = new AbortController();
    const slow = t.rt.exec(h, 'sleep 30', { signal: ac.signal });
    ac.abort();
    await assert.rejects(slow, /aborted/);
    await assert.rejects(t.rt.exec(h, 'sleep 30', { timeoutMs: 200 }), /timed out/);
    const victim = await t.rt.spawn(h, 'sleep 30');
    victim.kill('KILL');
    await within(victim.wait(), 10_000, 'the killed channel to close');
    await echo(cat, 'two');
    cat.stdin.end();
    await within(cat.wait(), 10_000, 'cat to end');
  });

  test('a dropped connection ends its channels; the next command connects again', async () => {
    const first = await t.rt.connect(h);
    const cat = await t.rt.spawn(h, 'cat');
    await echo(cat, 'up');
    const running = first.run('sleep 30').then(() => new Error('sleep 30 ended'), (err: Error) => err);
    // sshd's per-connection process, as the user: the connection drops, sshd itself stays.
    const killed = await dockerExec(t.docker, h.id, "pkill -f '^sshd: user@' && echo killed", 'user');
    assert.match(killed.output, /killed/);
    await within(cat.wait(), 10_000, 'the channel to end with its connection');
    const err = await within(running, 10_000, 'the command on it to fail');
    assert.match(err.message, /\(the connection closed before it ended\)$/);
    await waitUntil(() => first.closed, (c) => c, { timeoutMs: 10_000, what: 'the old connection to be closed' });
    assert.equal((await t.rt.exec(h, 'echo again')).stdout, 'again\n');
    assert.notEqual(await t.rt.connect(h), first, 'a new pooled connection');
  });

  test('a PTY shell beside the other channels: commands run, resize reaches stty, close ends it', async () => {
    const cat = await t.rt.spawn(h, 'cat');
    const sh = await t.rt.shell(h, { cols: 100, rows: 30 });
    let out = '';
    sh.stream.on('data', (d: Buffer) => (out += d.toString()));
    const sees = (re: RegExp, what: string) => waitUntil(() => out, (o) => re.test(o), { timeoutMs: 10_000, what });
    sh.stream.write('echo $((6*7))x\n');
    await sees(/42x/, 'the shell to answer 42');
    sh.stream.write('stty size\n');
    await sees(/30 100/, 'stty to report 30 rows, 100 columns');
    sh.resize({ cols: 132, rows: 40 });
    sh.stream.write('stty size\n');
    await sees(/40 132/, 'stty to report the new size');
    await echo(cat, 'alive beside the shell');
    sh.close();
    await within(sh.wait(), 10_000, 'the shell channel to close');
    await echo(cat, 'alive after it');
    cat.stdin.end();
    await within(cat.wait(), 10_000, 'cat to end');
  });

  test('forwardTcp reaches a server on the container loopback only; a closed port or a bad port fails alone', async () => {
    const server = await t.rt.spawn(h, `exec node -e "require('net').createServer((s) => s.pipe(s)).listen(4711, '127.0.0.1', () => console.log('up'))"`);
    await waitUntil(() => t.rt.exec(h, 'grep -c ":1267 " /proc/net/tcp || true'), (r) => r.stdout.trim() !== '0', { timeoutMs: 10_000, what: 'the echo server to listen' });
    const sock = await t.rt.forwardTcp(h, 4711);
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString()));
    sock.write('ping over ssh');
    await waitUntil(() => got, (g) => g === 'ping over ssh', { timeoutMs: 10_000, what: 'the echo through forwardTcp' });
    sock.end();
    await assert.rejects(t.rt.forwardTcp(h, 4712), ContainerError);
    await assert.rejects(t.rt.forwardTcp(h, 0), /not a TCP port/);
    await assert.rejects(t.rt.forwardTcp(h, 70000), /not a TCP port/);
    assert.equal((await t.rt.exec(h, 'echo still')).stdout, 'still\n');
    server.kill('KILL');
    await within(server.wait(), 10_000, 'the server to end');
  });
});

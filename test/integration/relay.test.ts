// The relay as real processes: the agent outlives its client, replays from any offset, ends on NUL.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';

const RELAY = fileURLToPath(new URL('../../src/agents/relay/relay.js', import.meta.url));
const FAKE = fileURLToPath(new URL('../../src/agents/fake/fake-agent.js', import.meta.url));

interface Client {
  proc: ChildProcessWithoutNullStreams;
  out: () => string;
  /** Resolves once the output contains `text`. */
  waitFor(text: string): Promise<string>;
  exited: Promise<number | null>;
}

function client(args: string[]): Client {
  const proc = spawn(process.execPath, [RELAY, ...args]);
  let out = '';
  const waiters: { text: string; resolve: (s: string) => void }[] = [];
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.filter((x) => out.includes(x.text))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(out);
    }
  });
  proc.stderr.on('data', (d: Buffer) => process.stderr.write(`relay stderr: ${d.toString()}`));
  return {
    proc,
    out: () => out,
    waitFor: (text) => (out.includes(text) ? Promise.resolve(out) : new Promise((resolve) => waiters.push({ text, resolve }))),
    exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))),
  };
}

const prompt = (text: string) => `${JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'text', text }] } })}\n`;
const alive = (dir: string) => spawnSync(process.execPath, [RELAY, 'alive', '--dir', dir]).status === 0;
const pid = (dir: string) => Number(readFileSync(join(dir, 'pid'), 'utf8'));

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
  for (let i = 0; i < 100 && alive(dir); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(alive(dir), false, 'the relay exits once its client has everything');
});

test('an agent that exits while nobody is attached is replayed to the next client', async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, 'relay');
  const c = client(['serve-attach', '--dir', dir, '--cwd', tmp.path, '--no-log-stdin', '--', 'sh', '-c', 'read x; echo "{\\"got\\":\\"$x\\"}"; echo partial-no-newline | tr -d "\\n"']);
  for (let i = 0; i < 500 && !alive(dir); i++) await new Promise((r) => setTimeout(r, 10));
  c.proc.kill('SIGKILL'); // detach before sending anything
  await c.exited;
  const writer = client(['attach', '--dir', dir]);
  writer.proc.stdin.write('abc\n');
  await writer.waitFor('caic_relay_exit');
  assert.equal(await writer.exited, 0);
  assert.equal(writer.out(), '{"got":"abc"}\npartial-no-newline\n{"type":"caic_relay_exit","code":0,"signal":null}\n', 'no stdin echo with --no-log-stdin; a partial last line is terminated');
});

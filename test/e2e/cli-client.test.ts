// `caic` as a client of a caic server with login, as a user runs it (a child process): `caic login`
// pairs the machine while a person approves the code in Chromium (signed in through the GitHub
// stand-in); then tasks, run --follow on a fake-agent task, logs, diff and --json, with the token
// file private (0600 in a 0700 directory). (send, sync, stop, revive, purge: cli-lifecycle.test.ts,
// without login: this file stays within the runner's per-file budget on a loaded machine.)
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Task } from '../../src/api/index.js';
import { assertOneLineError } from '../helpers/caic-cli.js';
import { startLoginServer, type LoginServer } from '../helpers/caic-login.js';

describe('caic as a client of a server with login: the commands', { timeout: 240_000 }, () => {
  let s: LoginServer;

  before(async () => {
    s = await startLoginServer({ tasks: true });
  });
  after(async () => {
    await s?.[Symbol.asyncDispose]();
  });

  const ok = async (...args: string[]): Promise<string> => {
    const r = await s.caic(...args);
    assert.equal(r.code, 0, `caic ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const tasks = async () => JSON.parse(await ok('tasks', '--json')) as Task[];

  test('login, then tasks, run --follow, logs, diff, --json', { timeout: 240_000 }, async () => {
    // Not signed in yet: a clear line saying what to run.
    assertOneLineError(await s.caic('tasks'), new RegExp(`run caic login ${s.origin.replace(/\./g, '\\.')}$`));
    await s.login();
    assert.equal((await stat(s.tokenFile)).mode & 0o777, 0o600, 'the token file is private');
    assert.equal((await stat(join(s.tokenFile, '..'))).mode & 0o777, 0o700, 'and so is its directory');
    assert.deepEqual(await tasks(), []);

    // run --follow on a fake-agent task to the end of its turn.
    const run = await ok('run', 'FAKE_DEMO please', '--repo', 'proj', '--agent', 'fake', '--follow');
    const id = run.split('\n')[0]!;
    assert.match(id, /^[0-9a-z]{26}$/);
    assert.match(run, /^▸ Bash ls/m, 'a tool call on one line');
    assert.match(run, /^ {2}✓ File created successfully/m, 'its result, short');
    assert.match(run, /^Done: I added FAKE_NOTES\.md/m, 'the assistant text');
    assert.match(run, /^── done: Added FAKE_NOTES\.md\. \(\$0\.\d{4}, 1 turn, /m);
    assert.ok(!run.includes('\x1b'), 'no colours into a pipe');

    const table = (await ok('tasks')).split('\n');
    assert.match(table[0]!, /^ID\s+STATE\s+REPO\s+TITLE\s+COST\s+AGE$/);
    assert.match(table[1]!, new RegExp(`^${id}\\s+waiting\\s+proj\\s+\\S.*\\$0\\.00\\s+\\d+[smhd]$`));
    const [listed] = await tasks();
    assert.equal(listed!.id, id);
    assert.equal(listed!.state, 'waiting');

    assert.match(await ok('logs', id), /^> FAKE_DEMO please$/m);
    const diff = await ok('diff', id);
    assert.match(diff, /^\+\+\+ b\/FAKE_NOTES\.md$/m, 'the diff, plain into a pipe');

  });
});

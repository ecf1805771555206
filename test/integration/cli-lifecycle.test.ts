// `caic send`, `sync`, `stop`, `revive`, `purge` as a user runs them (child processes) against a
// local daemon without login: one line per action, --json parsed, the server's refusal in one line.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Task } from '../../src/api/index.js';
import { assertOneLineError, cliEnvFor, type CliResult, runCli } from '../helpers/caic-cli.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { until } from '../helpers/wait.js';

describe('caic task lifecycle from the command line', { timeout: 200_000 }, () => {
  let env: TaskEnv;
  let cliEnv: NodeJS.ProcessEnv;

  before(async () => {
    env = await taskEnv({ files: 2 });
    cliEnv = cliEnvFor(env.dir.path, env.d.url);
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
  });

  const caic = (...args: string[]): Promise<CliResult> => runCli(args, cliEnv);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await caic(...args);
    assert.equal(r.code, 0, `caic ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const tasks = async () => JSON.parse(await ok('tasks', '--json')) as Task[];

  test('send, sync, stop, revive, purge', { timeout: 200_000 }, async () => {
    const id = (await ok('run', 'FAKE_DEMO please', '--repo', 'proj', '--agent', 'fake', '--follow')).split('\n')[0]!;
    assert.equal(await ok('send', id, 'hello there'), '');
    await until(async () => {
      const [t] = await tasks();
      return t!.state === 'waiting' && t!.numTurns === 2;
    }, 'the second turn to end', 60_000, 250);
    assert.match(await ok('logs', id), /^You said: hello there\./m);

    const synced = JSON.parse(await ok('sync', id, '--json')) as { status: string; branch: string };
    assert.deepEqual([synced.status, synced.branch], ['synced', 'caic-1']);
    assert.match(await ok('sync', id), /^(pushed caic-1|nothing to push)/);

    assert.equal((JSON.parse(await ok('stop', id, '--json')) as { status: string }).status, 'stopped');
    assert.equal((await tasks())[0]!.state, 'stopped');
    assertOneLineError(await caic('send', id, 'are you there?'), /^caic: .*stopped/);
    assert.match(await ok('revive', id), new RegExp(`^${id}: `));
    await until(async () => (await tasks())[0]!.state === 'waiting', 'the revived task to wait', 60_000, 250);
    assert.match(await ok('purge', id), new RegExp(`^${id}: `));
    await until(async () => (await tasks())[0]!.state === 'purged', 'the purge', 60_000, 250);
  });
});

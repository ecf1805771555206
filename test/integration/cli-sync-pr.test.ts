// `caic sync <id> --pr` as a user runs it (a child process) against a daemon whose repository lives on the forge stand-in: the branch is pushed, a pull request opened, --json prints the documented SyncResp.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import type { Repo, Task } from '../../src/api/index.js';
import { cliEnvFor, type CliResult, runCli } from '../helpers/caic-cli.js';
import { OPENAPI_FILE } from '../helpers/contract.js';
import { startForgeStandin, type ForgeStandin } from '../helpers/forge-standin.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'ghp_standinToken0000000000000000000cli1';
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();

/** SyncResp of android-api/openapi.json, checked by ajv: the shape the document promises, not our zod's reading of it. */
function documentedSyncResp(): (value: unknown) => string | null {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  (addFormatsPlugin as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as object, 'openapi.json');
  const v = ajv.compile({ $ref: 'openapi.json#/components/schemas/SyncResp' });
  return (value) => (v(value) ? null : ajv.errorsText(v.errors));
}

describe('caic sync --pr', { timeout: 200_000 }, () => {
  let forge: ForgeStandin;
  let env: TaskEnv;
  let cliEnv: NodeJS.ProcessEnv;

  before(async () => {
    forge = await startForgeStandin();
    forge.addToken(TOKEN, 'alice');
    env = await taskEnv({
      files: 2,
      extraConfig: `[github]\nurl = "${forge.url}"\napi_url = "${forge.githubApi}"\n[github.pat]\ntoken = "${TOKEN}"\n`,
    });
    // The root's repository has its origin on the stand-in, token in the remote URL as a host's git holds it.
    const clone = await forge.createRepo('acme', 'proj', { from: env.origin });
    forge.setPermission('acme/proj', 'alice', 'write');
    const url = new URL(clone);
    url.username = 'x-access-token';
    url.password = TOKEN;
    const host = join(env.root, 'proj');
    git(host, 'remote', 'set-url', 'origin', url.toString());
    await promisify(execFile)('git', ['fetch', '-q', 'origin'], { cwd: host });
    const r = await env.api('POST', '/api/v1/server/repos/scan');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json<Repo[]>().find((x) => x.name === 'proj')?.forge, 'github');
    cliEnv = cliEnvFor(env.dir.path, env.d.url);
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
    await forge?.close();
  });

  const ok = async (...args: string[]): Promise<string> => {
    const r: CliResult = await runCli(args, cliEnv);
    assert.equal(r.code, 0, `caic ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  test('pushes the branch, opens the pull request, and --json prints the documented shape', async () => {
    const id = (await ok('run', 'FAKE_CI make the work', '--repo', 'proj', '--agent', 'fake', '--follow')).split('\n')[0]!;
    const task = await until(async () => {
      const t = (JSON.parse(await ok('tasks', '--json')) as Task[]).find((x) => x.id === id);
      return t?.state === 'waiting' ? t : null;
    }, 'the task to wait', 60_000, 250);
    const branch = task.repos[0]!.branch;
    assert.equal(forge.repo('acme/proj').pulls.length, 0);

    const out = JSON.parse(await ok('sync', id, '--pr', '--json')) as { status: string; branch: string; forge: { number: number; url: string; state: string } | null };
    assert.equal(documentedSyncResp()(out), null, JSON.stringify(out));
    assert.equal(out.status, 'synced');
    assert.equal(out.branch, branch);
    // The branch is on the forge, with the agent's work, and the pull request is open from it.
    const head = await forge.head('acme/proj', branch);
    assert.match(git(forge.repo('acme/proj').path, 'show', `${head}:CI_WORK.md`), /\S/);
    const pulls = forge.repo('acme/proj').pulls;
    assert.equal(pulls.length, 1);
    assert.deepEqual([pulls[0]!.head, pulls[0]!.base, pulls[0]!.number], [branch, 'main', out.forge?.number]);
    assert.equal(out.forge?.url, `${forge.url}/acme/proj/pull/${pulls[0]!.number}`);
    assert.equal(out.forge?.state, 'open');

    // Without --json: one line naming the branch and the pull request; syncing again opens no second one.
    assert.match(await ok('sync', id, '--pr'), new RegExp(`^(pushed ${branch} \\(\\d+ files? changed\\): ${out.forge.url}|nothing to push: ${branch} has no changes)\\n$`));
    assert.equal(forge.repo('acme/proj').pulls.length, 1);
  });
});

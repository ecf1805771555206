// `caic` as a client of a local daemon without login (a child process; `script` gives it a
// terminal): `logs -f` in a pseudo-terminal for a task with text, tools and an ask answered at the
// prompt, colours only on a terminal and never with NO_COLOR, resuming across dropped connections;
// and the guards: server URLs, token file permissions, tokens never printed.
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Task } from '../../src/api/index.js';
import { tokenFileName } from '../../src/cli/tokens.js';
import { assertOneLineError, cliEnvFor, runCli, startCli } from '../helpers/caic-cli.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { tempDir } from '../helpers/tmp.js';

describe('caic as a client of a local daemon', { timeout: 240_000 }, () => {
  let env: TaskEnv;
  let cliEnv: NodeJS.ProcessEnv;

  before(async () => {
    env = await taskEnv({ files: 2 });
    cliEnv = cliEnvFor(env.dir.path, env.d.url);
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
  });

  test('logs -f in a terminal: text, tool calls, the ask answered at the prompt, then the end of the turn', { timeout: 200_000 }, async () => {
    const run = await runCli(['run', 'FAKE_DEMO', '--repo', 'proj', '--agent', 'fake', '--follow'], cliEnv);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.split('\n')[0]!;
    const sent = await runCli(['send', id, 'FAKE_ASK'], cliEnv);
    assert.equal(sent.code, 0, sent.stderr);
    await env.waitState(id, 'asking');

    await using logs = startCli(['logs', '-f', id], cliEnv, { tty: true });
    await logs.waitFor(/answer Database \[1-2 or text\]: /);
    const shown = logs.stdout;
    assert.ok(shown.includes('\x1b[36m▸ Bash\x1b[0m ls'), 'a coloured tool call on a terminal');
    assert.match(shown, /I need a decision before I continue\./);
    assert.match(shown, /\? Database: Which database should I use\?/);
    assert.match(shown, / {2}2\. SQLite/);
    logs.child.stdin.write('2\r');
    const r = await logs.done(60_000);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /> SQLite/, 'the answer went to the agent');
    assert.match(r.stdout, /You said: SQLite\./, 'and its reply was followed to the end of the turn');
    const t = await env.task(id);
    assert.equal(t.state, 'waiting');

    // NO_COLOR on a terminal, and a pipe: no escape sequences.
    const plain = await runCli(['logs', id], { ...cliEnv, NO_COLOR: '1' }, { tty: true });
    assert.equal(plain.code, 0);
    assert.match(plain.stdout, /▸ Bash ls/);
    assert.ok(!plain.stdout.includes('\x1b['), 'no escape sequences with NO_COLOR');
    const piped = await runCli(['logs', id], cliEnv);
    assert.ok(!piped.stdout.includes('\x1b'), 'none into a pipe');
    // Without a terminal an ask is not answered: -f ends and says how to answer.
    assert.equal((await runCli(['send', id, 'FAKE_ASK'], cliEnv)).code, 0);
    await env.waitState(id, 'asking');
    const noTty = await runCli(['logs', '-f', id], cliEnv);
    assert.equal(noTty.code, 0);
    assert.match(noTty.stderr, new RegExp(`the agent asks; answer with: caic send ${id} <answer>`));

    // diff on a terminal goes through $PAGER.
    const paged = await runCli(['diff', id], { ...cliEnv, PAGER: 'sed "s/^/paged: /"' }, { tty: true });
    assert.equal(paged.code, 0);
    assert.match(paged.stdout, /paged: \+\+\+ b\/FAKE_NOTES\.md/);
  });

  test('run --follow resumes with Last-Event-ID when the connection drops: every event once', async () => {
    await using proxy = await startTcpProxy(new URL(env.d.url));
    await using run = startCli(['run', 'FAKE_LONG 300 60', '--repo', 'proj', '--agent', 'fake', '--follow'], { ...cliEnv, CAIC_SERVER: proxy.url });
    await run.waitFor(/^> FAKE_LONG 300 60$/m);
    assert.ok(proxy.cut() > 0, 'connections were open');
    const r = await run.done(60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /connection lost .*reconnecting/);
    const pieces = Array.from({ length: 300 }, (_, i) => `${i}`).join(' ');
    assert.equal(r.stdout.split(pieces).length - 1, 1, 'the whole text exactly once');
    assert.equal(r.stdout.match(/^── done: /gm)?.length, 1, 'one end of turn');
    assert.equal(r.stdout.match(/^> FAKE_LONG/gm)?.length, 1, 'no event twice');
  });

  test('--json on the listing; errors are one line with the server’s message', async () => {
    const list = await runCli(['tasks', '--json'], cliEnv);
    assert.equal(list.code, 0);
    const tasks = JSON.parse(list.stdout) as Task[];
    assert.ok(tasks.length >= 2);
    assertOneLineError(await runCli(['logs', 'not-a-task-id!'], cliEnv), /^caic: .*not a task id/);
    assertOneLineError(await runCli(['send', '01aaaaaaaaaaaaaaaaaaaaaaaa', 'hi'], cliEnv), /^caic: .*(not found|no task)/i);
    assertOneLineError(await runCli(['run', 'x', '--repo', 'nope', '--agent', 'fake'], cliEnv), /^caic: .*nope/);
    const usage = await runCli(['logs'], cliEnv);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^caic: caic logs needs a task id\n/);
  });

  test('server URLs: http:// to another machine is refused unless --insecure; only origins', async () => {
    assertOneLineError(await runCli(['tasks', '--server', 'http://caic.test'], cliEnv), /^caic: --server: refusing http:\/\/ to caic\.test, which is not this machine/);
    assertOneLineError(await runCli(['tasks'], { ...cliEnv, CAIC_SERVER: 'http://10.1.2.3:2242' }), /^caic: CAIC_SERVER: refusing http:\/\/ to 10\.1\.2\.3/);
    assertOneLineError(await runCli(['login', 'http://caic.test'], cliEnv), /refusing http:\/\//);
    // With --insecure it is tried (and fails for another reason: the name does not resolve).
    const insecure = await runCli(['tasks', '--server', 'http://caic.test', '--insecure'], cliEnv);
    assert.equal(insecure.code, 1);
    assert.doesNotMatch(insecure.stderr, /refusing/);
    assertOneLineError(await runCli(['tasks', '--server', 'https://caic.test/api'], cliEnv), /give the server's origin only \(https:\/\/caic\.test\)/);
    assertOneLineError(await runCli(['tasks', '--server', 'ftp://caic.test'], cliEnv), /ftp: is not http:\/\/ or https:\/\//);
  });

  test('a token file others can read is refused; no token is ever printed, even when a server echoes it', async () => {
    // A stand-in server that echoes the Authorization header in its error message (a broken proxy).
    const echo = createServer((req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'BAD_REQUEST', message: `bad header: ${req.headers.authorization}` } }));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    try {
      const server = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
      await using dir = await tempDir();
      const home = join(dir.path, 'home');
      const cli = join(home, '.config', 'caic', 'cli');
      await mkdir(cli, { recursive: true, mode: 0o700 });
      const file = join(cli, tokenFileName(server));
      const secret = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJvY3RvY2F0In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
      const tokens = { server, clientId: 'c', tokenEndpoint: `${server}/oauth/token`, accessToken: secret, accessExpiresAt: Date.now() + 600_000, refreshToken: 'r'.repeat(43) };
      await writeFile(file, JSON.stringify(tokens), { mode: 0o600 });
      const e = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), CAIC_SERVER: server };
      const r = await runCli(['tasks'], e);
      assertOneLineError(r, /^caic: bad header: Bearer \[redacted\]$/);
      assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret));

      await chmod(file, 0o644);
      assertOneLineError(await runCli(['tasks'], e), /others can read it \(mode 644\); run chmod 600 /);
    } finally {
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });
});

// The `caic` command as a user runs it: version, --print-url, one-line startup errors, serve and SIGTERM.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mkdir, writeFile } from 'node:fs/promises';
import { http } from '../helpers/http.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

function env(dir: TempDir): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: dir.path, XDG_CONFIG_HOME: join(dir.path, 'xdg-config'), XDG_CACHE_HOME: join(dir.path, 'xdg-cache') };
}

function run(dir: TempDir, args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: env(dir), encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function configDir(dir: TempDir, toml: string): Promise<string> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const path = join(dir.path, 'cfg');
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'config.toml'), toml);
  return path;
}

function assertOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('--version and --help', async () => {
  await using dir = await tempDir();
  const v = run(dir, ['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^caic \d+\.\d+\.\d+\n$/);
  const h = run(dir, ['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--config-dir DIR/);
  const bad = run(dir, ['--frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^caic: Unknown option '--frobnicate'/);
  assert.equal(run(dir, ['launch']).code, 2);
});

test('--print-url prints the URL, and fails in one line when the port is taken', async () => {
  await using dir = await tempDir();
  const port = await freePort();
  const cfg = await configDir(dir, `[server]\nhttp = ":${port}"\n`);
  const ok = run(dir, ['--print-url', '--config-dir', cfg]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `http://127.0.0.1:${port}\n`);
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
  try {
    assertOneLineError(run(dir, ['--print-url', '--config-dir', cfg]), new RegExp(`^caic: server\\.http: 127\\.0\\.0\\.1:${port} is already in use$`));
    assertOneLineError(run(dir, ['--config-dir', cfg]), /server\.http: .* is already in use/);
  } finally {
    await new Promise<void>((r) => blocker.close(() => r()));
  }
});

test('with no config file the default URL is http://127.0.0.1:2242', async () => {
  await using dir = await tempDir();
  const r = run(dir, ['--print-url', '--config-dir', join(dir.path, 'none')]);
  // The port may be busy on a shared machine; the URL is what matters.
  if (r.code === 0) assert.equal(r.stdout, 'http://127.0.0.1:2242\n');
  else assert.match(r.stderr, /127\.0\.0\.1:2242 is already in use/);
});

test('config mistakes exit non-zero with one line naming the file and key', async () => {
  await using dir = await tempDir();
  const unknown = await configDir(dir, '[server]\nlisten = ":1"\n');
  assertOneLineError(run(dir, ['--config-dir', unknown]), /^caic: .*cfg\/config\.toml:2: unknown key "server\.listen"$/);

  const country = await configDir(dir, '[server]\nallow_origins = ["local", "CA"]\n');
  assertOneLineError(run(dir, ['--config-dir', country]), /config\.toml:2: server\.allow_origins: country codes \(CA\) need a GeoLite2-Country database/);

  const corrupt = await configDir(dir, '[server]\ngeo_db = "not-a-db.mmdb"\nallow_origins = ["local"]\n');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(corrupt, 'not-a-db.mmdb'), 'this is not a MaxMind database');
  assertOneLineError(run(dir, ['--config-dir', corrupt]), /^caic: server\.geo_db: cannot open .*not-a-db\.mmdb as a MaxMind database/);

  const badLevel = run(dir, ['--log-level', 'loud']);
  assert.equal(badLevel.code, 2);
  const badFormat = run(dir, ['--log-format', 'xml']);
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /^caic: --log-format must be one of json, pretty\n$/);
});

/** A running `caic serve`: its output so far, and a way to wait for a line. */
function serve(dir: TempDir, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { cwd: opts.cwd ?? dir.path, env: { ...env(dir), ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (c: Buffer) => (out.stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
  return {
    child,
    out,
    /** Waits until stdout matches; fails at once if the process exits first. */
    async waitFor(pattern: RegExp): Promise<void> {
      await until(() => {
        if (child.exitCode !== null) assert.fail(`exited early (${child.exitCode}): ${out.stderr}${out.stdout}`);
        return pattern.test(out.stdout);
      }, `${pattern} on stdout`);
    },
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    },
  };
}

const git = (cwd: string, ...args: string[]) => spawnSync('git', args, { cwd, encoding: 'utf8' });
async function makeRepo(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  git(path, 'init', '-q', '-b', 'main');
  await writeFile(join(path, 'README.md'), '# r\n');
  git(path, 'add', '-A');
  git(path, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'first');
}

test('started in a directory holding a repository, caic lists it; one created later appears without a restart', async () => {
  await using dir = await tempDir();
  const work = join(dir.path, 'src');
  await makeRepo(join(work, 'myrepo'));
  const port = await freePort();
  const cfg = await configDir(dir, `[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  await using caic = serve(dir, ['--config-dir', cfg], { cwd: work });
  await caic.waitFor(/git repositor/);
  assert.match(caic.out.stdout, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}\\n1 git repository under ${work}: myrepo\\n`));
  const api = (path: string) => http(`http://127.0.0.1:${port}${path}`);
  assert.deepEqual((await api('/api/v1/server/repos')).json<{ name: string }[]>().map((r) => r.name), ['myrepo']);
  assert.equal((await api('/api/v1/server/config')).json<{ root: string }>().root, work);

  await makeRepo(join(work, 'later'));
  // The daemon's own check (every 5 s), no rescan asked for.
  const names = await until(async () => {
    const listed = (await api('/api/v1/server/repos')).json<{ name: string }[]>().map((r) => r.name);
    return listed.length === 2 && listed;
  }, 'the new repository in the list', 30_000, 250);
  assert.deepEqual(names, ['later', 'myrepo']);
});

test('under npm the root is where npm was run (INIT_CWD), not the checkout it runs in', async () => {
  await using dir = await tempDir();
  const work = join(dir.path, 'src');
  const checkout = join(dir.path, 'checkout');
  await makeRepo(join(work, 'mine'));
  await makeRepo(checkout);
  const port = await freePort();
  const cfg = await configDir(dir, `[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  await using caic = serve(dir, ['--config-dir', cfg], { cwd: checkout, env: { INIT_CWD: work } });
  await caic.waitFor(/git repositor/);
  assert.match(caic.out.stdout, new RegExp(`1 git repository under ${work}: mine\\n`));
  assert.deepEqual((await http(`http://127.0.0.1:${port}/api/v1/server/repos`)).json<{ name: string }[]>().map((r) => r.name), ['mine']);
});

test('an empty root says what to do; --log-format pretty writes readable lines', async () => {
  await using dir = await tempDir();
  const empty = join(dir.path, 'empty');
  await mkdir(empty);
  const port = await freePort();
  const cfg = await configDir(dir, `[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  await using caic = serve(dir, ['--config-dir', cfg, '--log-format', 'pretty'], { cwd: empty });
  // The CLI's own lines follow the daemon's "caic listening" log line: wait for the last of them.
  await caic.waitFor(/no git repositories under .* yet/);
  assert.match(caic.out.stdout, new RegExp(`no git repositories under ${empty} yet: clone or create one there`));
  const logLines = caic.out.stdout.split('\n').filter((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] [A-Z]+: /.test(l));
  assert.ok(logLines.length >= 2, caic.out.stdout);
  assert.ok(!caic.out.stdout.split('\n').some((l) => l.startsWith('{')), 'no JSON lines');
  assert.match(caic.out.stdout, new RegExp(`INFO: caic listening \\{"url":"http://127\\.0\\.0\\.1:${port}".*"root":"${empty}","repositories":0\\}`));
  assert.doesNotMatch(caic.out.stdout, /\[3\d(;\d+)?m/, 'no colours when stdout is not a terminal');
});

test('serve prints the URL, answers, and exits 0 on SIGTERM', async () => {
  await using dir = await tempDir();
  const port = await freePort();
  const cfg = await configDir(dir, `[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  await using caic = serve(dir, ['--config-dir', cfg]);
  await caic.waitFor(/listening on/);
  assert.match(caic.out.stdout, new RegExp(`caic \\d+\\.\\d+\\.\\d+ listening on http://127\\.0\\.0\\.1:${port}\\n`));
  assert.match(caic.out.stdout, /^\{"level":30,/m, 'JSON log lines when stdout is not a terminal');
  assert.equal((await http(`http://127.0.0.1:${port}/healthz`)).status, 200);
  caic.child.kill('SIGTERM');
  const [code] = (await once(caic.child, 'exit')) as [number];
  assert.equal(code, 0, caic.out.stderr);
  assert.match(caic.out.stdout, /"msg":"stopped"/);
  assert.equal(caic.out.stderr, '');
});

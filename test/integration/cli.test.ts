// The `caic` command as a user runs it: version, --print-url, one-line startup errors, serve and SIGTERM.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { http } from '../helpers/http.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';

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
});

test('serve prints the URL, answers, and exits 0 on SIGTERM', async () => {
  await using dir = await tempDir();
  const port = await freePort();
  const cfg = await configDir(dir, `[server]\nhttp = ":${port}"\nallow_origins = ["local"]\n`);
  const child = spawn(process.execPath, [CLI, 'serve', '--config-dir', cfg], { env: env(dir), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    while (!out.includes('listening on')) {
      if (child.exitCode !== null) assert.fail(`exited early: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(out, new RegExp(`caic \\d+\\.\\d+\\.\\d+ listening on http://127\\.0\\.0\\.1:${port}\\n`));
    assert.equal((await http(`http://127.0.0.1:${port}/healthz`)).status, 200);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0, err);
    assert.match(out, /"msg":"stopped"/);
    assert.equal(err, '');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

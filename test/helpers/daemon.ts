// Starts a real daemon for a test: config.toml written to a temp config dir, logs captured, port 0.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon, type Daemon, type DaemonOptions } from '../../src/daemon.js';
import { engineEnv } from './engine.js';
import { LogCapture } from './log-capture.js';
import { tempDir, type TempDir } from './tmp.js';

export interface TestDaemon extends AsyncDisposable {
  daemon: Daemon;
  url: string;
  logs: LogCapture;
  dir: TempDir;
  configDir: string;
  cacheDir: string;
}

export async function startTestDaemon(
  configToml = '',
  /** webDir null: no web UI build (the status page at `/`), whether or not web/dist is built. */
  opts: Partial<Omit<DaemonOptions, 'webDir'>> & { dir?: TempDir; webDir?: string | null } = {},
): Promise<TestDaemon> {
  const dir = opts.dir ?? (await tempDir());
  const configDir = opts.configDir ?? join(dir.path, 'config');
  const cacheDir = opts.cacheDir ?? join(dir.path, 'cache');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  if (configToml) await writeFile(join(configDir, 'config.toml'), configToml);
  const logs = new LogCapture();
  const daemon = await startDaemon({
    configDir,
    cacheDir,
    // The engine under test (CAIC_TEST_ENGINE), nothing else of the test runner's environment.
    env: { ...engineEnv(), ...opts.env },
    logLevel: opts.logLevel ?? 'debug',
    logDestination: logs,
    port: 0,
    // Not the test runner's working directory (the checkout, itself a repository).
    startDir: opts.startDir ?? dir.path,
    originListWaitMs: opts.originListWaitMs ?? 2_000,
    ...(opts.extend ? { extend: opts.extend } : {}),
    ...(opts.oauthFetch ? { oauthFetch: opts.oauthFetch } : {}),
    ...(opts.oauthLimits ? { oauthLimits: opts.oauthLimits } : {}),
    ...(opts.mcp ? { mcp: opts.mcp } : {}),
    ...(opts.forge ? { forge: opts.forge } : {}),
    ...(opts.voiceGateway ? { voiceGateway: opts.voiceGateway } : {}),
    ...(opts.push ? { push: opts.push } : {}),
    ...(opts.webDir !== undefined ? { webDir: opts.webDir ?? join(dir.path, 'no-web-ui') } : {}),
  });
  return {
    daemon,
    url: daemon.url,
    logs,
    dir,
    configDir,
    cacheDir,
    async [Symbol.asyncDispose]() {
      await daemon.close().catch(() => undefined);
      if (!opts.dir) await dir[Symbol.asyncDispose]();
    },
  };
}

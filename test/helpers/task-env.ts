// A daemon with a repository root for task tests: a bare "origin" and a clone under the root,
// and cleanup of every container the daemon's tasks created (also when a test fails).
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { http, type HttpResponse } from './http.js';
import { tempDir, type TempDir } from './tmp.js';

export interface TaskEnv extends AsyncDisposable {
  d: TestDaemon;
  dir: TempDir;
  root: string;
  origin: string;
  /** JSON request to the daemon. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResponse>;
  restart(): Promise<void>;
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export async function makeOriginAndClone(dir: string, root: string, name = 'proj', files = 20): Promise<string> {
  const seed = join(dir, 'seed');
  await mkdir(seed, { recursive: true });
  git(seed, 'init', '-q', '-b', 'main');
  await writeFile(join(seed, 'README.md'), '# proj\n');
  for (let i = 0; i < files; i++) await writeFile(join(seed, `file${i}.txt`), `content ${i}\n`);
  git(seed, 'add', '-A');
  git(seed, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'initial');
  const origin = join(dir, 'origin.git');
  git(dir, 'clone', '-q', '--bare', seed, origin);
  await mkdir(root, { recursive: true });
  git(root, 'clone', '-q', origin, name);
  return origin;
}

export async function taskEnv(opts: { files?: number; extraConfig?: string; image?: string } = {}): Promise<TaskEnv> {
  const dir = await tempDir('caic-tasks-');
  const root = join(dir.path, 'root');
  const origin = await makeOriginAndClone(dir.path, root, 'proj', opts.files ?? 20);
  const image = opts.image ? `image = "${opts.image}"\n` : '';
  // file:// clones of the local origin: the tests' stand-in for a forge.
  const config = `[core]\nroot = "${root}"\nallow_local_clone = true\n${image}[server]\nallow_origins = ["local"]\n${opts.extraConfig ?? ''}`;
  const env: TaskEnv = {
    d: await startTestDaemon(config, { dir, logLevel: 'debug' }),
    dir,
    root,
    origin,
    api: (method, path, body, headers = {}) =>
      http(`${env.d.url}${path}`, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      }),
    async restart() {
      await env.d.daemon.close();
      env.d = await startTestDaemon(config, { dir, logLevel: 'debug' });
    },
    async [Symbol.asyncDispose]() {
      const ids = env.d.daemon.tasks.list(null).map((t) => t.id);
      await env.d.daemon.close().catch(() => undefined);
      const docker = new Dockerode();
      for (const id of ids) {
        const mine = await docker.listContainers({ all: true, filters: { label: [`caic=${id}`] } });
        await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
      }
      await dir[Symbol.asyncDispose]();
    },
  };
  return env;
}

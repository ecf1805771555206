// A daemon with a repository root for task tests: a bare "origin" and a clone under the root,
// and cleanup of every container the daemon's tasks created (also when a test fails).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import type { Task, TaskState } from '../../src/api/index.js';
import type { DaemonOptions } from '../../src/daemon.js';
import { removeRepoImages } from './containers.js';
import { engineDocker } from './engine.js';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { http, type HttpResponse } from './http.js';
import { SseClient } from './sse.js';
import { tempDir, type TempDir } from './tmp.js';
import { waitUntil } from './wait.js';

export interface TaskEnv extends AsyncDisposable {
  d: TestDaemon;
  dir: TempDir;
  root: string;
  origin: string;
  /** JSON request to the daemon. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResponse>;
  restart(): Promise<void>;
  /** The Docker engine itself (its socket, whatever DOCKER_HOST the daemon under test uses). */
  docker: Dockerode;
  /** Creates a task (200 asserted). */
  create(body: Record<string, unknown>, headers?: Record<string, string>): Promise<Task>;
  task(id: string, headers?: Record<string, string>): Promise<Task>;
  /** Waits (with a deadline) until the task is in `state`, and returns it. */
  waitState(id: string, state: TaskState | TaskState[], opts?: { timeoutMs?: number; headers?: Record<string, string> }): Promise<Task>;
  /** The task's container, if it has one. */
  container(id: string): Promise<Dockerode.ContainerInfo | undefined>;
  /** Runs a command in the task's container (as root unless `user` says otherwise). */
  execIn(id: string, cmd: string, user?: string): Promise<{ code: number; output: string }>;
  /** `POST /api/v1/tasks/:id/:op`. */
  post(id: string, op: string, body?: unknown): Promise<HttpResponse>;
  /** The task's event stream, closed with the environment. */
  stream(id: string): SseClient;
}

/** The engine under test on its socket (never through a DOCKER_HOST a test points elsewhere). */
export const hostDocker = engineDocker;

/** Runs `cmd` under sh in a container and collects its output. */
export async function dockerExec(docker: Dockerode, containerId: string, cmd: string, user = 'root'): Promise<{ code: number; output: string }> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: ['sh', '-c', cmd], User: user, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  let output = '';
  out.on('data', (d: Buffer) => (output += d.toString()));
  docker.modem.demuxStream(stream, out, out);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', () => resolve());
    stream.on('close', () => resolve());
    stream.on('error', reject);
  });
  const info = await exec.inspect();
  return { code: info.ExitCode ?? -1, output };
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

export async function taskEnv(
  opts: { files?: number; extraConfig?: string; image?: string; network?: string; daemon?: Partial<Omit<DaemonOptions, 'webDir'>> } = {},
): Promise<TaskEnv> {
  const dir = await tempDir('caic-tasks-');
  const root = join(dir.path, 'root');
  const origin = await makeOriginAndClone(dir.path, root, 'proj', opts.files ?? 20);
  const image = `${opts.image ? `image = "${opts.image}"\n` : ''}${opts.network ? `network = "${opts.network}"\n` : ''}`;
  // file:// clones of the local origin: the tests' stand-in for a forge.
  const config = `[core]\nroot = "${root}"\nallow_local_clone = true\n${image}[server]\nallow_origins = ["local"]\n${opts.extraConfig ?? ''}`;
  const docker = hostDocker();
  const streams: SseClient[] = [];
  const env: TaskEnv = {
    d: await startTestDaemon(config, { dir, logLevel: 'debug', ...opts.daemon }),
    docker,
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
      env.d = await startTestDaemon(config, { dir, logLevel: 'debug', ...opts.daemon });
    },
    async create(body, headers) {
      const r = await env.api('POST', '/api/v1/tasks', body, headers);
      assert.equal(r.status, 200, r.body);
      return r.json<Task>();
    },
    async task(id, headers) {
      const r = await env.api('GET', `/api/v1/tasks/${id}`, undefined, headers);
      assert.equal(r.status, 200, r.body);
      return r.json<Task>();
    },
    async waitState(id, state, o = {}) {
      const want = Array.isArray(state) ? state : [state];
      const t = await waitUntil(() => env.task(id, o.headers), (x) => want.includes(x.state), { timeoutMs: o.timeoutMs ?? 60_000, what: `task ${id} in ${want.join('/')}` });
      assert.ok(want.includes(t.state));
      return t;
    },
    async container(id) {
      return (await docker.listContainers({ all: true, filters: { label: [`caic=${id}`] } }))[0];
    },
    async execIn(id, cmd, user = 'root') {
      const c = await env.container(id);
      assert.ok(c, `task ${id} has a container`);
      return dockerExec(docker, c.Id, cmd, user);
    },
    post: (id, op, body) => env.api('POST', `/api/v1/tasks/${id}/${op}`, body),
    stream(id) {
      const s = new SseClient(`${env.d.url}/api/v1/tasks/${id}/events`);
      streams.push(s);
      return s;
    },
    async [Symbol.asyncDispose]() {
      for (const s of streams) s.close();
      await env.d.daemon.close().catch(() => undefined);
      // Every task this daemon ever logged (also other users' tasks, which list(null) hides), read
      // once it is closed: a task created while it closed has its log before its container.
      const ids = (await readdir(join(env.d.cacheDir, 'tasks')).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl')).map((f) => f.slice(0, -'.jsonl'.length));
      for (const id of ids) {
        const mine = await docker.listContainers({ all: true, filters: { label: [`caic=${id}`] } });
        await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
      }
      await removeRepoImages(docker, dir.path);
      await dir[Symbol.asyncDispose]();
    },
  };
  return env;
}

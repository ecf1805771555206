// A DockerRuntime for tests: its own config dir and log capture; every container it launches carries
// a run label, and cleanup removes exactly those (also after a failed test).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { DockerRuntime, type ContainerHandle, type LaunchSpec } from '../../src/containers/index.js';
import { createLogger } from '../../src/log/index.js';
import { engineDocker } from './engine.js';
import { LogCapture } from './log-capture.js';
import { tempDir, type TempDir } from './tmp.js';

export const RUN_LABEL = 'test.caic.run';

/** Removes the repository images made from host repositories under `dir` (a test's own). */
export async function removeRepoImages(docker: Dockerode, dir: string): Promise<void> {
  const images = await docker.listImages({ filters: { label: ['caic.repo.path'] } }).catch(() => []);
  const mine = images.filter((i) => (i.Labels?.['caic.repo.path'] ?? '').startsWith(`${dir}/`));
  // Containers of the test are gone by now; an image still in use is someone else's problem to report.
  for (const i of mine) await docker.getImage(i.Id).remove({ force: true }).catch(() => undefined);
}

export interface TestRuntime extends AsyncDisposable {
  rt: DockerRuntime;
  docker: Dockerode;
  dir: TempDir;
  logs: LogCapture;
  runId: string;
  launch(spec?: Partial<LaunchSpec>): Promise<ContainerHandle>;
  /** A second runtime on the same config dir: what a restarted daemon would have. */
  reopen(): Promise<DockerRuntime>;
}

let counter = 0;

export async function testRuntime(): Promise<TestRuntime> {
  const dir = await tempDir('caic-ctr-');
  const configDir = join(dir.path, 'config');
  const logs = new LogCapture();
  const { logger } = createLogger({ level: 'debug', destination: logs });
  const docker = engineDocker();
  const rt = await DockerRuntime.open({ configDir, logger, docker });
  const runId = randomBytes(6).toString('hex');
  const opened = [rt];
  return {
    rt,
    docker,
    dir,
    logs,
    runId,
    launch: (spec = {}) =>
      rt.launch({
        taskId: `t-${runId}-${++counter}`,
        harness: 'fake',
        repos: [],
        ...spec,
        labels: { ...spec.labels, [RUN_LABEL]: runId },
      }),
    async reopen() {
      const again = await DockerRuntime.open({ configDir, logger, docker });
      opened.push(again);
      return again;
    },
    async [Symbol.asyncDispose]() {
      for (const r of opened) r.close();
      const mine = await docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } });
      await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
      await removeRepoImages(docker, dir.path);
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** A host repository with `files` files on `main` and a task branch `branch` at the same commit. */
export async function makeHostRepo(dir: string, files: number, branch = 'caic-1'): Promise<string> {
  const repo = join(dir, `repo-${randomBytes(3).toString('hex')}`);
  await mkdir(repo);
  const g = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  g('init', '-q', '-b', 'main');
  await Promise.all(
    Array.from({ length: files }, async (_, i) => {
      const sub = join(repo, `dir${i % 10}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, `file${i}.txt`), `file ${i}\n${'x'.repeat(i % 50)}\n`);
    }),
  );
  g('add', '-A');
  g('-c', 'user.name=test', '-c', 'user.email=test@localhost', 'commit', '-q', '-m', 'initial');
  g('branch', branch);
  return repo;
}

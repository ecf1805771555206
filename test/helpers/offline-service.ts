// A TaskService over a cache directory of task logs, without Docker: it lists what the logs' heads
// and tails say (nothing is adopted, nothing replayed unless asked for).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HARNESSES } from '../../src/agents/index.js';
import { PreferenceStore } from '../../src/config/index.js';
import { createLogger } from '../../src/log/index.js';
import { RepoRegistry, TaskService } from '../../src/tasks/index.js';

export async function offlineService(cacheDir: string, authEnabled = false): Promise<TaskService> {
  const { logger } = createLogger({ level: 'silent' });
  await mkdir(join(cacheDir, 'config'), { recursive: true });
  const service = new TaskService({
    cacheDir,
    repos: new RepoRegistry(cacheDir),
    runtime: () => {
      throw new Error('no Docker in this test');
    },
    harnesses: HARNESSES,
    preferences: await PreferenceStore.open(join(cacheDir, 'config')),
    logger,
    authEnabled,
    harnessEnv: () => ({}),
    gitHubToken: () => undefined,
  });
  await service.load();
  return service;
}

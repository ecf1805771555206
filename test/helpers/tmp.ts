// Temporary directories for tests, removed when the test (or suite) ends.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  path: string;
  file(name: string, content: string): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function tempDir(prefix = 'caic-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    async file(name, content) {
      const p = join(path, name);
      await writeFile(p, content);
      return p;
    },
    async [Symbol.asyncDispose]() {
      // Retried: a git process of the daemon under test may still be finishing in a repository
      // here as the test ends (ENOTEMPTY while it writes its last files).
      await rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}

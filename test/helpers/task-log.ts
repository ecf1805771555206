// Reads a task's JSONL log from the daemon's cache directory: the state records it went through,
// and the host records of one type (what a replay would see).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function hostRecords(cacheDir: string, taskId: string, type: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(cacheDir, 'tasks', `${taskId}.jsonl`), 'utf8');
  const prefix = `{"type":"${type}"`;
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Every state the task's log recorded, in order. */
export async function loggedStates(cacheDir: string, taskId: string): Promise<string[]> {
  return (await hostRecords(cacheDir, taskId, 'caic_state')).map((r) => String(r.state));
}

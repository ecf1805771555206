// Task logs: one append-only JSONL file per task in <cache>/tasks/. Every line is written to the
// file before anything derived from it reaches a client, so a `kill -9` loses nothing shown.
import { closeSync, createReadStream, fstatSync, openSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_DIR_MODE } from '../config/index.js';

export const LOG_DIR = 'tasks';

export function logDir(cacheDir: string): string {
  return join(cacheDir, LOG_DIR);
}

export function logPath(cacheDir: string, taskId: string): string {
  return join(logDir(cacheDir), `${taskId}.jsonl`);
}

export class TaskLog {
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    private bytes: number,
  ) {
    this.fd = fd;
  }

  static async open(path: string): Promise<TaskLog> {
    await mkdir(join(path, '..'), { recursive: true, mode: PRIVATE_DIR_MODE });
    const fd = openSync(path, 'a', 0o600);
    return new TaskLog(path, fd, fstatSync(fd).size);
  }

  get size(): number {
    return this.bytes;
  }

  /**
   * Appends one line with a synchronous write: ordered, and in the kernel before the caller
   * publishes anything derived from it (a daemon killed with -9 loses nothing a client saw).
   */
  append(line: Buffer | string): void {
    if (this.fd === null) throw new Error(`task log ${this.path} is closed`);
    const data = typeof line === 'string' ? Buffer.from(`${line}\n`) : Buffer.concat([line, Buffer.from('\n')]);
    writeSync(this.fd, data);
    this.bytes += data.length;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Streams a log's lines (as buffers, so byte counts stay exact). */
export async function* readLogLines(path: string, start = 0): AsyncGenerator<Buffer> {
  let rest = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { start, highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    const data = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let from = 0;
    for (let nl = data.indexOf(10, from); nl >= 0; nl = data.indexOf(10, from)) {
      yield data.subarray(from, nl);
      from = nl + 1;
    }
    rest = from < data.length ? Buffer.from(data.subarray(from)) : Buffer.alloc(0);
  }
  if (rest.length) yield rest;
}

/** The first line and the last `tailBytes` of a log: enough to list a task without replaying it. */
export async function readHeadAndTail(
  path: string,
  tailBytes = 64 * 1024,
): Promise<{ head: string; headLines: string[]; tail: string[]; size: number; mtimeMs: number }> {
  const fh = await open(path, 'r');
  try {
    const st = await stat(path);
    const headBuf = Buffer.alloc(Math.min(st.size, 256 * 1024));
    await fh.read(headBuf, 0, headBuf.length, 0);
    const nl = headBuf.indexOf(10);
    const head = headBuf.subarray(0, nl >= 0 ? nl : headBuf.length).toString('utf8');
    const headLines = headBuf.toString('utf8').split('\n').slice(1, -1);
    const start = Math.max(0, st.size - tailBytes);
    const tailBuf = Buffer.alloc(st.size - start);
    await fh.read(tailBuf, 0, tailBuf.length, start);
    const lines = tailBuf.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // probably cut in the middle
    return { head, headLines, tail: lines.filter(Boolean), size: st.size, mtimeMs: st.mtimeMs };
  } finally {
    await fh.close();
  }
}

export async function listLogs(cacheDir: string): Promise<string[]> {
  try {
    return (await readdir(logDir(cacheDir))).filter((f) => f.endsWith('.jsonl')).map((f) => join(logDir(cacheDir), f));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

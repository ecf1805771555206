// Task logs: one append-only JSONL file per task in <cache>/tasks/. Every line is written to the
// file before anything derived from it reaches a client, so a `kill -9` loses nothing shown.
import { isAscii } from 'node:buffer';
import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_DIR_MODE } from '../config/index.js';
import { TaskError } from './errors.js';

export const LOG_DIR = 'tasks';

/**
 * Every record caic writes itself starts with these bytes (JSON.stringify keeps `type` first).
 * Agent output is stored verbatim next to them, so a relay line that starts the same way, or with
 * a space, or is empty, is stored behind one extra space: an agent cannot forge a host record, and stripping
 * that space gives back the relay's exact bytes (the reattach offset counts them).
 */
export const HOST_PREFIX = Buffer.from('{"type":"caic_');
const SPACE = 0x20;

const HOST_PREFIX_TEXT = HOST_PREFIX.toString();

export function isHostLine(line: Buffer): boolean {
  return line.length >= HOST_PREFIX.length && line[0] === HOST_PREFIX[0] && HOST_PREFIX.equals(line.subarray(0, HOST_PREFIX.length));
}

export function isHostText(line: string): boolean {
  return line.startsWith(HOST_PREFIX_TEXT);
}

/** A relay line as it goes into the task log. */
export function escapeRelayLine(line: Buffer): Buffer {
  // Empty lines too: they count toward the relay offset, and a log line is never empty.
  return line.length === 0 || line[0] === SPACE || isHostLine(line) ? Buffer.concat([Buffer.from(' '), line]) : line;
}


export function logDir(cacheDir: string): string {
  return join(cacheDir, LOG_DIR);
}

export function logPath(cacheDir: string, taskId: string): string {
  return join(logDir(cacheDir), `${taskId}.jsonl`);
}

const WRITE_FAILURES: Record<string, string> = { ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded', EROFS: 'read-only file system', EIO: 'I/O error' };

/**
 * A task log that cannot be written (a full disk, say): nothing derived from the line may reach a
 * client, so the operation that wanted it fails, with a 503 that says why (no host path).
 */
export class TaskLogError extends TaskError {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super('SERVICE_UNAVAILABLE', `the task log cannot be written (${WRITE_FAILURES[cause.code ?? ''] ?? cause.code ?? 'write failed'}); free space in caic's cache directory`);
  }
}

export class TaskLog {
  private fd: number | null;
  private sealed = false;

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
   * A closed log opens again: closing only gives the descriptor back (finished tasks), it never
   * makes a task unwritable.
   */
  append(line: Buffer | string): void {
    if (this.fd === null) {
      if (this.sealed) throw new Error(`task log ${this.path} is closed: the daemon is shutting down`);
      this.fd = openSync(this.path, 'a', 0o600);
      this.bytes = fstatSync(this.fd).size;
    }
    const data = typeof line === 'string' ? Buffer.from(`${line}\n`) : Buffer.concat([line, Buffer.from('\n')]);
    let written = 0;
    try {
      while (written < data.length) written += writeSync(this.fd, data, written, data.length - written);
    } catch (err) {
      // All or nothing: a line cut short (a full disk) would run into the next one written.
      if (written > 0) {
        try {
          ftruncateSync(this.fd, this.bytes);
        } catch {
          /* the next line then starts after the cut one, which a replay skips */
        }
      }
      throw new TaskLogError(err as NodeJS.ErrnoException);
    }
    this.bytes += data.length;
  }

  /** Gives the descriptor back; the next append opens the file again. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Closed for good (daemon shutdown). */
  get isSealed(): boolean {
    return this.sealed;
  }

  /** Daemon shutdown: closed for good, so nothing late from this process lands after a successor's lines. */
  seal(): void {
    this.close();
    this.sealed = true;
  }
}

/**
 * A run of whole lines from a log as binary strings: one character per byte (Latin-1), so a
 * line's length is its size in bytes. `ascii` says no line holds a byte above 0x7f (then the
 * strings are also the decoded text); otherwise `decodeLine` gives a line's text.
 */
export interface LineBatch {
  lines: string[];
  ascii: boolean;
}

const NON_ASCII = /[\u0080-\u00ff]/;

/** UTF-8 text of a binary-string line (lines without bytes above 0x7f come back as they are). */
export function decodeLine(line: string): string {
  return NON_ASCII.test(line) ? Buffer.from(line, 'latin1').toString('utf8') : line;
}

/**
 * Streams a log as batches of lines. Each chunk is decoded once as Latin-1, several times faster
 * than the UTF-8 decoder; the reader decodes the lines it needs as text (`decodeLine`), and can
 * read the commonest agent lines without decoding them at all.
 */
export async function* readLogBatches(path: string, start = 0, chunkBytes = 1024 * 1024): AsyncGenerator<LineBatch> {
  const batch = (data: Buffer): LineBatch => ({ lines: data.toString('latin1').split('\n'), ascii: isAscii(data) });
  // One buffer, reused: whole lines are decoded out of it, the cut last line moves to its front.
  const fh = await open(path, 'r');
  try {
    let buf = Buffer.allocUnsafe(chunkBytes);
    let len = 0;
    let pos = start;
    for (;;) {
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2); // a line longer than the buffer
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, len, buf.length - len, pos);
      if (!bytesRead) break;
      pos += bytesRead;
      len += bytesRead;
      const last = buf.lastIndexOf(10, len - 1);
      if (last < 0) continue;
      yield batch(buf.subarray(0, last));
      buf.copyWithin(0, last + 1, len);
      len -= last + 1;
    }
    if (len) yield batch(buf.subarray(0, len));
  } finally {
    await fh.close();
  }
}

const STATE_PREFIXES = ['{"type":"caic_state"', '{"type":"caic_result"'];
const MAX_TAIL_BYTES = 8 * 1024 * 1024;

/**
 * The first line (caic_meta, whose prompt can be long) with the lines right after it, and the
 * log's tail back to its last state record: enough to list a task without replaying it. Reads
 * grow from small buffers, so listing many tasks at startup stays cheap in memory.
 */
export async function readHeadAndTail(path: string): Promise<{ head: string; headLines: string[]; tail: string[]; size: number; mtimeMs: number }> {
  const fh = await open(path, 'r');
  try {
    const { size, mtimeMs } = await fh.stat();
    const readAt = async (pos: number, len: number): Promise<Buffer> => {
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      return buf.subarray(0, bytesRead);
    };
    let headBuf: Buffer = Buffer.alloc(0);
    let nl = -1;
    for (let len = 16 * 1024; ; len *= 2) {
      headBuf = await readAt(0, Math.min(size, len));
      nl = headBuf.indexOf(10);
      if ((nl >= 0 && headBuf.length - nl >= 8 * 1024) || headBuf.length >= size) break;
    }
    const head = headBuf.subarray(0, nl >= 0 ? nl : headBuf.length).toString('utf8');
    const headLines = nl >= 0 ? headBuf.subarray(nl + 1).toString('utf8').split('\n').slice(0, -1) : [];
    let tail: string[] = [];
    for (let len = 16 * 1024; ; len *= 2) {
      const start = Math.max(0, size - len);
      tail = (await readAt(start, size - start)).toString('utf8').split('\n');
      if (start > 0) tail.shift(); // probably cut in the middle
      tail = tail.filter(Boolean);
      if (start === 0 || len >= MAX_TAIL_BYTES || tail.some((l) => STATE_PREFIXES.some((p) => l.startsWith(p)))) break;
    }
    return { head, headLines, tail, size, mtimeMs };
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

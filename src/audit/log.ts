// The audit log: an append-only JSONL file where each record carries the SHA-256 of the line before it.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fchmodSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { PRIVATE_FILE_MODE } from '../config/index.js';
import { redactRecord } from './redact.js';

export const AUDIT_FILE_NAME = 'audit.jsonl';
/** `prev` of the first record: there is no line before it. */
export const GENESIS = '0'.repeat(64);

/** The seam other subsystems (the MCP server) write through. */
export interface AuditSink {
  append(record: Record<string, unknown>): void;
}

export function sha256Hex(line: string): string {
  return createHash('sha256').update(line).digest('hex');
}

/**
 * The hash of the last line of an existing log and its record number. Only the end of the file is
 * read (the log grows with every MCP call and is never rotated; a start must not read it whole);
 * a last line without a readable `seq` (cut by a crash) is counted by reading every line.
 */
function tail(path: string): { prev: string; seq: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { prev: GENESIS, seq: 0 };
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    for (let window = 64 * 1024; ; window *= 4) {
      const start = Math.max(0, size - window);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      let end = buf.length;
      while (end > 0 && buf[end - 1] === 0x0a) end--;
      const nl = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1;
      // The whole last line is in the window once a newline precedes it, or the window is the file.
      if (nl < 0 && start > 0) continue;
      if (end === 0) return { prev: GENESIS, seq: 0 };
      const last = buf.subarray(nl + 1, end).toString('utf8');
      return { prev: sha256Hex(last), seq: recordNumber(last) ?? countLines(path) };
    }
  } finally {
    closeSync(fd);
  }
}

function recordNumber(line: string): number | null {
  try {
    const seq = (JSON.parse(line) as { seq?: unknown }).seq;
    return typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : null;
  } catch {
    return null;
  }
}

const countLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').length;

/**
 * Records are written synchronously, one `write` each, in the order `append` is called, so the
 * chain on disk is the order of decisions and nothing is lost when the process ends right after.
 * Values are passed through `redactRecord` first: a token or secret never reaches the file.
 */
export class AuditLog implements AuditSink {
  private fd: number;
  private prev: string;
  private seq: number;

  constructor(
    readonly path: string,
    private readonly opts: { now?: () => Date; onError?: (err: Error) => void } = {},
  ) {
    ({ prev: this.prev, seq: this.seq } = tail(path));
    this.fd = openSync(path, 'a', PRIVATE_FILE_MODE);
    if ((fstatSync(this.fd).mode & 0o077) !== 0) fchmodSync(this.fd, PRIVATE_FILE_MODE);
  }

  append(record: Record<string, unknown>): void {
    const seq = this.seq + 1;
    const line = JSON.stringify({ seq, ts: (this.opts.now?.() ?? new Date()).toISOString(), ...redactRecord(record), prev: this.prev });
    try {
      writeSync(this.fd, `${line}\n`);
    } catch (err) {
      // An audit failure must not take the request down with it; it is reported loudly instead.
      this.opts.onError?.(err as Error);
      return;
    }
    this.seq = seq;
    this.prev = sha256Hex(line);
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

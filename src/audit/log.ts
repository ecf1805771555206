// The audit log: an append-only JSONL file where each record carries the SHA-256 of the line before it.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';
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

/** The hash of the last complete line of an existing log, and how many records it holds. */
function tail(path: string): { prev: string; seq: number } {
  if (!existsSync(path)) return { prev: GENESIS, seq: 0 };
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  const last = lines.at(-1);
  return last === undefined ? { prev: GENESIS, seq: 0 } : { prev: sha256Hex(last), seq: lines.length };
}

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

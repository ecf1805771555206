// Captures the daemon's log lines in memory (a pino destination), for assertions on what was logged.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';

/** With CAIC_TEST_LOG_DIR set, every captured line is also appended to a file there (for debugging). */
const mirrorDir = process.env.CAIC_TEST_LOG_DIR;
let instances = 0;

export class LogCapture extends Writable {
  readonly lines: string[] = [];
  private readonly mirror = mirrorDir ? join(mirrorDir, `${process.pid}-${++instances}.log`) : null;

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    for (const line of chunk.toString().split('\n')) if (line) this.lines.push(line);
    if (this.mirror) appendFileSync(this.mirror, chunk);
    cb();
  }

  get text(): string {
    return this.lines.join('\n');
  }

  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  find(msg: string): Record<string, unknown>[] {
    return this.records().filter((r) => r.msg === msg);
  }
}

// Captures the daemon's log lines in memory (a pino destination), for assertions on what was logged.
import { Writable } from 'node:stream';

export class LogCapture extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    for (const line of chunk.toString().split('\n')) if (line) this.lines.push(line);
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

// One agent session as the daemon sees it: the SSH channel running `relay serve-attach`/`attach`.
import type { SpawnedProcess } from '../containers/index.js';

/** How much of the attach client's stderr is kept: it explains a relay that could not be reached. */
const STDERR_TAIL = 2048;

/**
 * The longest agent output line kept. A longer one (an agent gone wrong, or one told to) is left
 * out of the log and the transcript, and only its size is recorded: it would hold the daemon's
 * memory and every client's stream, and past V8's string limit (512 MiB) it could not be read.
 */
export const MAX_AGENT_LINE = 64 * 1024 * 1024;

export class AgentSession {
  /** The unfinished line's pieces, joined once when its newline comes (a long line costs one copy, not one per chunk). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** A line could not be taken: nothing more is read from this channel. */
  private broken = false;
  private isEnded = false;
  private stderr = '';
  /** We asked the channel to end (shutdown, detach): its end is expected, not a lost stream. */
  ending = false;
  private detached = false;
  /** Resolves when the channel closes: the agent ended, or the client was detached or killed. */
  readonly done: Promise<{ code: number | null; signal?: string }>;

  constructor(
    private readonly proc: SpawnedProcess,
    onLine: (line: Buffer) => void,
    onStderr: (text: string) => void,
    /** A line longer than MAX_AGENT_LINE ended: its size in bytes (without the newline). */
    onTooLong: (bytes: number) => void,
    /**
     * A line could not be taken (its task log cannot be written): the session stops reading and
     * ends its channel. The relay keeps the line, and the next attach at the task's offset gets it.
     */
    onBroken: (err: unknown) => void = () => {},
  ) {
    proc.stdout.on('data', (chunk: Buffer) => {
      if (this.detached || this.broken) return; // the daemon is going: the next one reads these bytes again
      try {
        this.take(chunk, onLine, onTooLong);
      } catch (err) {
        this.broken = true;
        this.pending = [];
        this.pendingBytes = 0;
        onBroken(err);
        this.proc.kill();
      }
    });
    proc.stderr.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      this.stderr = (this.stderr + text).slice(-STDERR_TAIL);
      onStderr(text);
    });
    // A write racing the channel's close must not become an unhandled 'error': `done` reports the end.
    proc.stdin.on('error', () => undefined);
    this.done = proc.wait().then((r) => {
      this.isEnded = true;
      return r;
    });
  }

  /** Splits a chunk into lines: whole ones go to `onLine`, the unfinished rest waits for its newline. */
  private take(chunk: Buffer, onLine: (line: Buffer) => void, onTooLong: (bytes: number) => void): void {
    let from = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
      const bytes = this.pendingBytes + nl - from;
      if (bytes > MAX_AGENT_LINE) onTooLong(bytes);
      else if (this.pending.length) onLine(Buffer.concat([...this.pending, chunk.subarray(from, nl)], bytes));
      else onLine(Buffer.from(chunk.subarray(from, nl)));
      this.pending = [];
      this.pendingBytes = 0;
      from = nl + 1;
    }
    if (from === chunk.length) return;
    // An unfinished line is not logged: after a reattach the relay replays it whole. Past the
    // limit only its size is counted.
    this.pendingBytes += chunk.length - from;
    if (this.pendingBytes > MAX_AGENT_LINE) this.pending = [];
    else this.pending.push(Buffer.from(chunk.subarray(from)));
  }

  get alive(): boolean {
    return !this.isEnded;
  }

  /** The last of what the attach client wrote to stderr (why it could not reach the relay). */
  get stderrTail(): string {
    return this.stderr.trim();
  }

  write(data: string): void {
    if (!this.isEnded) this.proc.stdin.write(data);
  }

  /**
   * A NUL byte makes the relay close the agent's stdin: the agent finishes and exits, and its
   * last lines arrive before the channel closes. Returns false when it did not end in time.
   */
  async shutdown(graceMs = 20_000): Promise<boolean> {
    this.ending = true;
    if (this.isEnded) return true;
    this.proc.stdin.write(Buffer.from([0]));
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([this.done.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(timer);
    if (!ended) this.proc.kill('KILL');
    return ended;
  }

  /** Leaves the agent running (daemon shutdown): EOF on the attach client only detaches it. */
  detach(): void {
    this.ending = true;
    this.detached = true;
    this.proc.stdin.end();
  }
}

// The SSH layer (ssh2): pinned host keys, readiness (banner then handshake), exec/spawn/writeFile.
import { connect as tcpConnect } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import ssh2, { type ClientChannel, type ConnectConfig } from 'ssh2';
import { shellQuote } from './env-file.js';
import { ContainerError, HostKeyMismatchError } from './errors.js';
import { fingerprintOfBlob } from './secrets.js';
import type { Duplex } from 'node:stream';
import type { ExecOptions, ExecResult, LoopbackAddress, PtySize, ShellChannel, SpawnedProcess } from './types.js';

const { Client } = ssh2;

interface OpenChannel {
  ch: ClientChannel;
  /** Resolves with the exit status (null code when killed by a signal or closed without one). */
  closed: Promise<{ code: number | null; signal?: string }>;
}
const DEFAULT_MAX_BUFFER = 16 * 1024 * 1024;
/** How long sshd may take to open a channel; a stuck container must not hang a caller forever. */
const CHANNEL_OPEN_MS = 30_000;
/** Brackets the shell's PID on stderr (ASCII record separator: never in normal output). */
const PID_MARK = '\x1ecaic-pid:';

export interface SshTarget {
  /** Container name, for messages. */
  label: string;
  port: number;
  privateKey: string;
  /** The container's pinned host key, `SHA256:<base64>`. */
  hostKeyFingerprint: string;
}

/** Matches the container's sshd_config: ed25519 only, curve25519, AES-GCM or ChaCha20. */
const ALGORITHMS: ConnectConfig['algorithms'] = {
  serverHostKey: ['ssh-ed25519'],
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org'],
  cipher: ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'],
  compress: ['none'],
};

/**
 * One pooled SSH connection to a container, shared by every command of its task (the agent's relay
 * stream, diffs, syncs...). A command is one channel: whatever goes wrong with it (refused, slow to
 * open, failing) fails that command alone. Nothing that would make sshd drop the connection itself
 * (a NUL byte in a command line) is ever sent.
 */
export class SshConnection {
  private isClosed = false;
  private readonly closeListeners = new Set<() => void>();

  constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly target: SshTarget,
  ) {
    const onGone = () => {
      if (this.isClosed) return;
      this.isClosed = true;
      for (const l of this.closeListeners) l();
    };
    client.on('close', onGone);
    // An error on the connection ends it: make sure it is really closed, so the pool reconnects.
    client.on('error', () => {
      onGone();
      client.end();
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  onClose(listener: () => void): void {
    this.closeListeners.add(listener);
  }

  close(): void {
    this.client.end();
  }

  /**
   * Opens an exec channel. Exit status and close are recorded by listeners attached inside the
   * ssh2 callback: a fast command's exit-status and close can arrive in the same read as the
   * channel confirmation, before an awaiting caller resumes, and events are not replayed.
   */
  private channel(command: string): Promise<OpenChannel> {
    return new Promise((resolve, reject) => {
      if (this.isClosed) return reject(new ContainerError(`SSH connection to ${this.target.label} is closed`));
      // sshd reads the command as a C string and drops the whole connection over an embedded NUL.
      if (command.includes('\0')) return reject(new ContainerError(`refusing to run a command with a NUL byte in ${this.target.label}`));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new ContainerError(`${this.target.label} did not open a channel within ${CHANNEL_OPEN_MS / 1000} s`));
      }, CHANNEL_OPEN_MS);
      const opened = (err: Error | undefined, ch: ClientChannel) => {
        clearTimeout(timer);
        if (timedOut) {
          ch?.close();
          return;
        }
        if (err) return reject(new ContainerError(`cannot run a command in ${this.target.label}: ${err.message}`));
        // A failing channel reports through its exit status and close; an 'error' must not escape.
        ch.on('error', () => undefined);
        ch.stderr.on('error', () => undefined);
        const exit: { code: number | null; signal?: string } = { code: null };
        ch.on('exit', (c: number | null, sig?: string) => {
          if (typeof c === 'number') exit.code = c;
          else if (sig) exit.signal = sig;
        });
        const closed = new Promise<{ code: number | null; signal?: string }>((r) => ch.once('close', () => r(exit)));
        resolve({ ch, closed });
      };
      try {
        this.client.exec(command, opened);
      } catch (err) {
        // ssh2 throws at once when the socket is already gone.
        clearTimeout(timer);
        reject(new ContainerError(`cannot run a command in ${this.target.label}: ${(err as Error).message}`));
      }
    });
  }

  /**
   * Starts `command` under a shell that first reports its PID on stderr (a marker the reader
   * strips). sshd makes that shell a session and process-group leader, so the whole group can be
   * killed later; SSH signal requests reach only the shell and are not sent after stdin's EOF.
   */
  private async start(command: string, cwd?: string): Promise<OpenChannel & { stderr: PassThrough; pid: Promise<number | null> }> {
    const body = cwd ? `cd ${shellQuote(cwd)} && ${command}` : command;
    const { ch, closed } = await this.channel(`printf '${PID_MARK}%s${PID_MARK}' "$$" >&2; ${body}`);
    const stderr = new PassThrough();
    let pending = Buffer.alloc(0);
    let resolvePid!: (pid: number | null) => void;
    const pid = new Promise<number | null>((r) => (resolvePid = r));
    let found = false;
    ch.stderr.on('data', (chunk: Buffer) => {
      if (found) return stderr.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      const text = pending.toString('latin1');
      const end = text.indexOf(PID_MARK, 1);
      if (!text.startsWith(PID_MARK) || end < 0) {
        if (!text.startsWith(PID_MARK.slice(0, text.length)) && !text.startsWith(PID_MARK)) {
          found = true; // no marker (should not happen): pass everything through
          resolvePid(null);
          stderr.write(pending);
        }
        return;
      }
      found = true;
      resolvePid(Number(text.slice(PID_MARK.length, end)) || null);
      const rest = pending.subarray(end + PID_MARK.length);
      if (rest.length) stderr.write(rest);
    });
    ch.stderr.on('end', () => {
      if (!found) resolvePid(null);
      stderr.end();
    });
    return { ch, closed, stderr, pid };
  }

  /** Signals the process group of a command started with `start` (best effort), then closes its channel. */
  private killGroup(ch: ClientChannel, pid: Promise<number | null>, signal: string): void {
    void pid.then(async (p) => {
      if (p && p > 1 && !this.isClosed) {
        await this.exec(`kill -${signal} -- -${p} 2>/dev/null; kill -${signal} ${p} 2>/dev/null; true`).catch(() => undefined);
      }
      ch.close();
    });
  }

  /** Runs a shell command as `user`; streams through the callbacks and collects the output. */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (opts.args) {
      if (opts.stdin !== undefined) throw new ContainerError('a command takes either args or stdin');
      if (opts.args.some((a) => a.includes('\0'))) throw new ContainerError('an argument cannot hold a NUL byte');
      // bash reads the NUL-separated arguments from stdin into "$@" before the command runs.
      const stdin = opts.args.map((a) => `${a}\0`).join('');
      const { args: _args, ...rest } = opts;
      return this.exec(`mapfile -d '' -t __caic_args; set -- "\${__caic_args[@]}"; unset __caic_args\n${command}`, { ...rest, stdin });
    }
    const { ch, closed, stderr, pid } = await this.start(command, opts.cwd);
    const max = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;
    return new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      let settled = false;
      // Declared before finish(): a signal aborted already stops before the timer exists.
      let timer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      // Stopping answers at once; the process group is killed in the background.
      const stop = (why: Error) => {
        this.killGroup(ch, pid, 'KILL');
        finish(() => reject(why));
      };
      const onAbort = () => stop(new ContainerError(`command in ${this.target.label} was aborted`));
      if (opts.signal?.aborted) return stop(new ContainerError(`command in ${this.target.label} was aborted`));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs) timer = setTimeout(() => stop(new ContainerError(`command in ${this.target.label} timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
      ch.on('data', (chunk: Buffer) => {
        opts.onStdout?.(chunk);
        if (outLen < max) {
          out.push(chunk);
          outLen += chunk.length;
        }
      });
      stderr.on('data', (chunk: Buffer) => {
        opts.onStderr?.(chunk);
        if (errLen < max) {
          err.push(chunk);
          errLen += chunk.length;
        }
      });
      // 'close' can precede the last stderr bytes through the PassThrough: wait for both.
      let stderrDone = false;
      let exit: { code: number | null; signal?: string } | undefined;
      const maybeDone = () => {
        if (!stderrDone || !exit) return;
        const { code, signal } = exit;
        finish(() =>
          resolve({
            code,
            ...(signal ? { signal } : {}),
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8'),
          }),
        );
      };
      stderr.on('end', () => {
        stderrDone = true;
        maybeDone();
      });
      void closed.then((e) => {
        exit = e;
        if (!stderr.writableEnded) stderr.end();
        maybeDone();
      });
      if (opts.stdin instanceof Readable) opts.stdin.pipe(ch);
      else ch.end(opts.stdin ?? undefined);
    });
  }

  /** Runs a command and throws, with its stderr, unless it exits 0. */
  async run(command: string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) {
      const detail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      // No status at all: the channel closed under the command (its connection or container went).
      const how = r.code !== null ? `exit ${r.code}` : r.signal ? `killed by ${r.signal}` : 'the connection closed before it ended';
      throw new ContainerError(`command failed in ${this.target.label} (${how})${detail ? `: ${detail}` : ''}`);
    }
    return r.stdout;
  }

  /** A long-running process with raw streams (the agent relay). */
  async spawn(command: string, opts: Pick<ExecOptions, 'cwd'> = {}): Promise<SpawnedProcess> {
    const { ch, closed, stderr, pid } = await this.start(command, opts.cwd);
    const stdout = new PassThrough();
    ch.pipe(stdout);
    return {
      stdin: ch,
      stdout,
      stderr,
      wait: () => closed,
      kill: (signal = 'TERM') => this.killGroup(ch, pid, signal),
    };
  }

  /**
   * A byte stream to a Unix socket in the container (direct-streamlocal: sshd connects to it as the
   * user), shaped like a spawned process whose stderr stays empty: the agent's relay without an
   * attach process in between. Fails at once when nothing listens there.
   */
  openSocket(path: string): Promise<SpawnedProcess> {
    return this.openWithDeadline<ClientChannel>(path, (cb) => this.client.openssh_forwardOutStreamLocal(path, cb), 'reach').then((ch) => {
      // The other end finished (the relay ended its client): finish ours, so sshd closes the channel.
      ch.once('end', () => ch.end());
      const closed = new Promise<{ code: number | null }>((r) => ch.once('close', () => r({ code: 0 })));
      const stdout = new PassThrough();
      ch.pipe(stdout);
      const stderr = new PassThrough();
      stderr.end();
      return { stdin: ch, stdout, stderr, wait: () => closed, kill: () => ch.close() };
    });
  }

  /**
   * Runs `open` for one channel with the same deadline and error shape as commands: a refusal or a
   * slow sshd fails this channel alone, and a channel that opens after the deadline is closed.
   */
  private openWithDeadline<T extends ClientChannel>(
    what: string,
    open: (cb: (err: Error | undefined, ch: T) => void) => void,
    verb = 'open',
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.isClosed) return reject(new ContainerError(`SSH connection to ${this.target.label} is closed`));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new ContainerError(`${this.target.label} did not open a channel within ${CHANNEL_OPEN_MS / 1000} s`));
      }, CHANNEL_OPEN_MS);
      try {
        open((err, ch) => {
          clearTimeout(timer);
          if (timedOut) {
            ch?.close();
            return;
          }
          if (err) return reject(new ContainerError(`cannot ${verb} ${what} in ${this.target.label}: ${err.message}`));
          ch.on('error', () => undefined);
          resolve(ch);
        });
      } catch (err) {
        clearTimeout(timer);
        reject(new ContainerError(`cannot ${verb} ${what} in ${this.target.label}: ${(err as Error).message}`));
      }
    });
  }

  /**
   * An interactive login shell on a PTY (a session channel of the pooled connection, beside the
   * agent's relay stream: the relay never sees it). TERM defaults to xterm-256color.
   */
  async shell(size: PtySize, term = 'xterm-256color'): Promise<ShellChannel> {
    const window = { cols: clampCells(size.cols, 80), rows: clampCells(size.rows, 24), term, width: 0, height: 0 };
    const ch = await this.openWithDeadline<ClientChannel>('a shell', (cb) => this.client.shell(window, {}, cb));
    ch.stderr.on('error', () => undefined);
    const exit: { code: number | null; signal?: string } = { code: null };
    ch.on('exit', (c: number | null, sig?: string) => {
      if (typeof c === 'number') exit.code = c;
      else if (sig) exit.signal = sig;
    });
    const closed = new Promise<{ code: number | null; signal?: string }>((r) => ch.once('close', () => r(exit)));
    return {
      stream: ch,
      resize: (s) => {
        if (!this.isClosed) ch.setWindow(clampCells(s.rows, 24), clampCells(s.cols, 80), 0, 0);
      },
      wait: () => closed,
      close: () => ch.close(),
    };
  }

  /**
   * A TCP connection to `port` on the container's own loopback (direct-tcpip, sshd connects from
   * inside the container): how previews reach a dev server without a published port. `host` is
   * the IPv4 loopback, or the IPv6 one for a server that listens on ::1 alone.
   */
  forwardOut(port: number, host: LoopbackAddress = '127.0.0.1'): Promise<Duplex> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.reject(new ContainerError(`not a TCP port: ${port}`));
    if (host !== '127.0.0.1' && host !== '::1') return Promise.reject(new ContainerError(`not a loopback address: ${String(host)}`));
    return this.openWithDeadline<ClientChannel>(`a connection to port ${port}`, (cb) =>
      this.client.forwardOut('127.0.0.1', 0, host, port, cb),
    ).then((ch) => {
      // The server finished: finish ours, so sshd closes the channel.
      ch.once('end', () => ch.end());
      return ch;
    });
  }

  /** Writes a file atomically (temp file + rename) with the given mode; data goes over stdin. */
  async writeFile(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
    const p = shellQuote(path);
    const script =
      `set -e; umask 077; d=$(dirname -- ${p}); tmp=$(mktemp "$d/.caic-write.XXXXXX"); ` +
      `cat > "$tmp"; chmod ${mode.toString(8)} "$tmp"; mv -f -- "$tmp" ${p}`;
    await this.run(script, { stdin: data });
  }
}

/** A terminal dimension from a client, kept to what a PTY takes (1..1000 cells). */
function clampCells(n: number, fallback: number): number {
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 1000) : fallback;
}

/** One handshake attempt. `close` before `ready` counts as failure (ssh2 does not always emit `error`). */
export function connectSsh(target: SshTarget, readyTimeoutMs = 5_000): Promise<SshConnection> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let mismatch: string | undefined;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(
        mismatch
          ? new HostKeyMismatchError(
              `SSH host key of ${target.label} does not match the one pinned at creation (expected ${target.hostKeyFingerprint}, got ${mismatch}); refusing to connect`,
            )
          : err,
      );
    };
    client.once('ready', () => {
      settled = true;
      resolve(new SshConnection(client, target));
    });
    client.on('error', (err) => fail(err));
    client.once('close', () => fail(new Error('connection closed during the handshake')));
    client.connect({
      host: '127.0.0.1',
      port: target.port,
      username: 'user',
      privateKey: target.privateKey,
      readyTimeout: readyTimeoutMs,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      algorithms: ALGORITHMS,
      hostVerifier: (key: Buffer) => {
        const fp = fingerprintOfBlob(key);
        if (fp === target.hostKeyFingerprint) return true;
        mismatch = fp;
        return false;
      },
    });
    // Small request/response exchanges, the handshake's included: Nagle plus delayed ACKs add ~40 ms
    // to each round trip whose packet leaves in two writes (ssh2 without its native binding, as on
    // a Node it was not built for, writes a packet's ciphertext and its tag separately).
    client.setNoDelay(true);
  });
}

/**
 * What answers on the port: `banner` once sshd speaks SSH; `closed` when the connection is refused
 * or dropped (docker-proxy accepts TCP before sshd listens, so a connect alone proves nothing);
 * `silent` when it stays open without a banner for `timeoutMs` (sshd is there but slow: under
 * load it re-executes itself for each connection before it greets).
 */
export function probeBanner(port: number, timeoutMs = 500): Promise<'banner' | 'closed' | 'silent'> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (r: 'banner' | 'closed' | 'silent') => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('silent'), timeoutMs);
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.startsWith('SSH-2.0-')) done('banner');
      else if (buf.length >= 8) done('closed');
    });
    sock.on('error', () => done('closed'));
    sock.on('close', () => done('closed'));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long the banner is polled every 10 ms before the backoff starts. */
const FAST_POLL_MS = 300;

export interface WaitOptions {
  deadlineMs?: number;
  signal?: AbortSignal;
  onPhase?: (phase: string, ms: number) => void;
}

/**
 * Polls for the banner, then handshakes: every 10 ms for the first 300 ms (sshd normally comes up
 * within 20–80 ms, and a doubling backoff would see it up to half its own delay late), then
 * backing off to 100 ms. A host key mismatch ends it at once.
 */
export async function waitForSsh(target: SshTarget, opts: WaitOptions = {}): Promise<SshConnection> {
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const start = Date.now();
  const deadline = start + deadlineMs;
  let delay = 10;
  let lastError = 'no SSH banner yet';
  let bannerAt: number | undefined;
  // A silent sshd is slow, not absent: abandoning its connection after a fixed 500 ms only piles
  // up more half-started sshd children on a loaded machine, so each silent probe waits longer.
  let probeMs = 500;
  while (Date.now() < deadline) {
    if (opts.signal?.aborted) throw new ContainerError(`waiting for sshd in ${target.label} was aborted`);
    if (bannerAt === undefined) {
      const r = await probeBanner(target.port, Math.min(probeMs, Math.max(50, deadline - Date.now())));
      if (r === 'banner') {
        bannerAt = Date.now();
        opts.onPhase?.('sshBanner', bannerAt - start);
        continue;
      }
      if (r === 'closed') lastError = `port ${target.port} closed the connection without a banner (sshd not listening yet?)`;
      if (r === 'silent') {
        lastError = `sshd accepted but sent no banner within ${probeMs} ms`;
        probeMs = Math.min(8_000, probeMs * 2);
        continue;
      }
    } else {
      try {
        const conn = await connectSsh(target, Math.min(5_000, Math.max(200, deadline - Date.now())));
        opts.onPhase?.('sshHandshake', Date.now() - bannerAt);
        return conn;
      } catch (err) {
        if (err instanceof HostKeyMismatchError) throw err;
        lastError = (err as Error).message;
      }
    }
    await sleep(delay);
    if (Date.now() - start >= FAST_POLL_MS) delay = Math.min(100, delay * 2);
  }
  throw new ContainerError(`sshd in container ${target.label} did not answer within ${Math.round(deadlineMs / 1000)} s; last error: ${lastError}`);
}

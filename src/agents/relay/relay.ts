// The relay: runs inside the container (on its Node.js, no dependencies) and owns the agent process,
// so the agent outlives SSH drops and daemon restarts. Compiled to one standalone ES module and
// deployed over SSH. Keep to Node 18 APIs: the container's Node is Debian's.
//
//   relay serve-attach --dir D --cwd C [--no-log-stdin] -- <argv>   start the agent, then attach
//   relay daemon --dir D --cwd C [--no-log-stdin] [--wait-start] [--env-file F] -- <argv>
//                                                                   start the agent only (caller detaches it)
//   relay attach --dir D [--offset N] [--wait MS] [--pid P] [--start]
//                                                                   replay output.jsonl from N, then live
//   relay alive --dir D                                             exit 0 when the relay runs its agent,
//                                                                   3 when it only holds an ended agent's output
//
// D/output.jsonl gets every agent stdout line (and, unless --no-log-stdin, every complete line the
// client wrote to the agent's stdin), append-only; D/relay.log the agent's stderr and the relay's
// own notes; D/pid the relay's pid; D/relay.sock serves one client at a time (a new one replaces
// the old). A NUL byte from the client closes the agent's stdin (a graceful end); EOF from the
// client only detaches. When the agent exits, or cannot be started, the relay appends
// {"type":"caic_relay_exit","code":…,"signal":…} — with "error" (why the agent could not start,
// or why the relay failed) and "stderr" (the agent's last stderr bytes) when it did not end well —
// and, once a client has read everything, exits. An attach client that finds no relay running
// (it died, or never came up) gives the client what output.jsonl holds from its offset, and the
// tail of relay.log on stderr: a failure is always explained to whoever attached.
//
// With --wait-start the relay listens at once but starts the agent only when a client's header says
// {"start":true} (the container's entrypoint starts such a relay at boot, before the daemon has
// written ~/.env or finished the repository over SSH). --env-file F: the agent's environment gets
// the variables F sets (read through bash when the agent starts), for a relay that was not started
// from an SSH session whose shell already loaded them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, unlinkSync, writeFileSync, writeSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOCKET = 'relay.sock';
const OUTPUT = 'output.jsonl';
const RELAY_LOG = 'relay.log';
/** Written when the agent has ended: a relay still up then only holds output for a client. */
const AGENT_ENDED = 'agent-ended';
const MAX_CLIENT_BUFFER = 32 * 1024 * 1024;
const LINGER_MS = 60 * 60 * 1000;
/** After the end was sent, how long the relay waits for its client to close before it leaves. */
const CLIENT_CLOSE_MS = 5_000;
/** How much of the agent's stderr (and of relay.log) explains a failure. */
const TAIL_BYTES = 2048;
/** How the relay's own exit record begins. */
const EXIT_PREFIX = Buffer.from('{"type":"caic_relay_exit"');
const SPACE = Buffer.from(' ');

/**
 * Whole lines from the agent (or the client) with every line that begins like the relay's exit
 * record shifted by one space: only the relay writes a real one, so an agent cannot end its own
 * session in the daemon's eyes (which would fail its task and remove its container).
 */
function escapeForged(data: Buffer): Buffer {
  let at = data.indexOf(EXIT_PREFIX);
  if (at < 0) return data;
  const parts: Buffer[] = [];
  let from = 0;
  for (; at >= 0; at = data.indexOf(EXIT_PREFIX, at + 1)) {
    if (at > 0 && data[at - 1] !== 10) continue;
    parts.push(data.subarray(from, at), SPACE);
    from = at;
  }
  parts.push(data.subarray(from));
  return Buffer.concat(parts);
}

interface Args {
  command: string;
  dir: string;
  cwd: string;
  offset: number;
  /** attach: keep trying to connect this long (a relay starting in parallel). */
  waitMs: number;
  /** attach: the pid of that relay, to give up at once when it dies before it listens. */
  pid: number;
  logStdin: boolean;
  /** daemon: start the agent only when a client asks (header `start`). */
  waitStart: boolean;
  /** daemon: a shell file of variables for the agent's environment, read when it starts. */
  envFile: string;
  /** attach: ask a waiting relay to start its agent. */
  start: boolean;
  argv: string[];
}

function parseArgs(raw: string[]): Args {
  const args: Args = { command: raw[0] ?? '', dir: '', cwd: process.cwd(), offset: 0, waitMs: 5_000, pid: 0, logStdin: true, waitStart: false, envFile: '', start: false, argv: [] };
  for (let i = 1; i < raw.length; i++) {
    const a = raw[i]!;
    if (a === '--') {
      args.argv = raw.slice(i + 1);
      break;
    } else if (a === '--dir') args.dir = raw[++i] ?? '';
    else if (a === '--cwd') args.cwd = raw[++i] ?? '';
    else if (a === '--offset') args.offset = Number(raw[++i] ?? '0');
    else if (a === '--wait') args.waitMs = Number(raw[++i] ?? '0');
    else if (a === '--pid') args.pid = Number(raw[++i] ?? '0');
    else if (a === '--no-log-stdin') args.logStdin = false;
    else if (a === '--wait-start') args.waitStart = true;
    else if (a === '--env-file') args.envFile = raw[++i] ?? '';
    else if (a === '--start') args.start = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.dir) throw new Error('--dir is required');
  if (!Number.isSafeInteger(args.offset) || args.offset < 0) throw new Error('--offset must be a non-negative integer');
  return args;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function pidOf(dir: string): number {
  try {
    return Number(readFileSync(join(dir, 'pid'), 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function relayAlive(dir: string): boolean {
  const pid = pidOf(dir);
  return existsSync(join(dir, SOCKET)) && pid > 0 && pidAlive(pid);
}

/** The last `bytes` of a file as text ('' when it cannot be read). */
function fileTail(path: string, bytes = TAIL_BYTES): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.alloc(Math.min(size, bytes));
      const n = readSync(fd, buf, 0, buf.length, size - buf.length);
      return buf.subarray(0, n).toString('utf8').trim();
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** Why the agent could not be started, in words a person can act on. */
function spawnFailure(command: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `cannot start the agent: "${command}" is not installed in this container (${err.message})`;
  if (err.code === 'EACCES') return `cannot start the agent: "${command}" is not executable (${err.message})`;
  return `cannot start the agent: ${err.message}`;
}

// ---- the daemon: owns the agent and output.jsonl -----------------------------------------

function runDaemon(args: Args): void {
  mkdirSync(args.dir, { recursive: true });
  if (relayAlive(args.dir)) throw new Error(`a relay already runs in ${args.dir}`);
  try {
    unlinkSync(join(args.dir, SOCKET));
  } catch {
    /* no stale socket */
  }
  const log = openSync(join(args.dir, RELAY_LOG), 'a');
  const note = (msg: string) => writeSync(log, `${new Date().toISOString()} relay: ${msg}\n`);
  const out = openSync(join(args.dir, OUTPUT), 'a');
  const reader = openSync(join(args.dir, OUTPUT), 'r');
  let size = fstatSync(out).size;
  writeFileSync(join(args.dir, 'pid'), `${process.pid}\n`);

  let client: { sock: Socket; pos: number; live: boolean; pumping: boolean } | null = null;
  let agentDone = false;

  /** Null until the agent is started (at once, or on a client's `start` with --wait-start). */
  let agent: ChildProcess | null = null;
  // A missing or unusable binary: 'error' comes first, then 'close' (which writes the exit record).
  let spawnError: string | null = null;

  /** Appends bytes to output.jsonl (synchronously, so the size we count is on disk) and forwards them. */
  const append = (data: Buffer) => {
    writeSync(out, data);
    size += data.length;
    if (client?.live) {
      client.sock.write(data);
      client.pos += data.length;
      if (client.sock.writableLength > MAX_CLIENT_BUFFER) {
        note('client too slow; dropping it (it can reattach at its offset)');
        client.sock.destroy();
      }
    } else if (client) pump(client);
  };

  /** Replays output.jsonl from the client's offset until it has caught up, then goes live. */
  const pump = (c: NonNullable<typeof client>) => {
    if (c.pumping) return;
    c.pumping = true;
    const buf = Buffer.alloc(64 * 1024);
    const step = () => {
      while (client === c && c.pos < size) {
        const n = readSync(reader, buf, 0, Math.min(buf.length, size - c.pos), c.pos);
        if (n <= 0) break;
        c.pos += n;
        if (!c.sock.write(Buffer.from(buf.subarray(0, n)))) {
          c.sock.once('drain', step);
          return;
        }
      }
      c.pumping = false;
      if (client === c && c.pos >= size) {
        c.live = true;
        if (agentDone) finish(c);
      }
    };
    step();
  };

  /** The agent is gone and this client has everything: end it and leave. */
  const finish = (c: NonNullable<typeof client>) => {
    // Our end, then wait for the client's: leaving while it still sends (input typed as the agent
    // ended) would answer it with EPIPE or ECONNRESET instead of the end. Its bytes are dropped
    // (fromClient). A client that never closes is not waited for long.
    c.sock.once('close', () => shutdown());
    c.sock.end(() => setTimeout(shutdown, CLIENT_CLOSE_MS).unref());
  };

  /** The exit record; `error` and `stderr` only when the agent did not end well. */
  const exitRecord = (code: number | null, signal: string | null, error: string | null): Buffer => {
    const rec: Record<string, unknown> = { type: 'caic_relay_exit', code, signal };
    if (error) rec.error = error;
    if (error || code !== 0 || signal) {
      const text = stderrTail.subarray(Math.max(0, stderrTail.length - TAIL_BYTES)).toString('utf8').trim();
      if (text) rec.stderr = text;
    }
    return Buffer.from(`${JSON.stringify(rec)}\n`);
  };

  const ended = (code: number | null, signal: string | null, error: string | null) => {
    append(exitRecord(code, signal, error));
    note(`agent exited (code ${code}, signal ${signal})`);
    agentDone = true;
    writeFileSync(join(args.dir, AGENT_ENDED), '');
    if (client?.live) finish(client);
    else setTimeout(shutdown, LINGER_MS).unref();
  };

  let stdoutRest = Buffer.alloc(0);
  // The agent's last stderr bytes go into the exit record when it ends badly: why it failed.
  let stderrTail = Buffer.alloc(0);

  const startAgent = () => {
    if (agent || agentDone) return;
    let env = process.env;
    if (args.envFile) {
      // Read by bash, as an SSH session's shell reads it: the same variables, the same quoting.
      const { BASH_ENV, ...plain } = process.env;
      const r = spawnSync('bash', ['-c', 'if [ -r "$1" ]; then set -a; . "$1"; set +a; fi; exec env -0', 'bash', args.envFile], { env: plain });
      if (r.status !== 0) {
        note(`reading ${args.envFile} failed: ${r.stderr?.toString().trim() || r.error?.message || `exit ${r.status}`}`);
        return ended(null, null, `cannot start the agent: its environment (${args.envFile}) could not be read`);
      }
      env = Object.fromEntries(
        r.stdout
          .toString()
          .split('\0')
          .filter((kv) => kv.includes('='))
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      if (BASH_ENV !== undefined) env.BASH_ENV = BASH_ENV;
    }
    const child: ChildProcess = spawn(args.argv[0]!, args.argv.slice(1), { cwd: args.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    agent = child;
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError ??= child.pid === undefined ? spawnFailure(args.argv[0]!, err) : `agent process: ${err.message}`;
      note(spawnError);
    });
    note(`started agent pid ${child.pid ?? '(none)'}: ${args.argv.join(' ')}`);
    child.stdin!.on('error', (err) => note(`agent stdin: ${err.message}`));
    child.stdout!.on('data', (chunk: Buffer) => {
      let data = Buffer.concat([stdoutRest, chunk]);
      const nl = data.lastIndexOf(10);
      if (nl < 0) {
        stdoutRest = data;
        return;
      }
      stdoutRest = Buffer.from(data.subarray(nl + 1));
      data = data.subarray(0, nl + 1);
      append(Buffer.from(escapeForged(data)));
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      writeSync(log, chunk);
      stderrTail = Buffer.concat([stderrTail, chunk]);
      if (stderrTail.length > 2 * TAIL_BYTES) stderrTail = Buffer.from(stderrTail.subarray(stderrTail.length - TAIL_BYTES));
    });
    child.on('close', (code, signal) => {
      if (stdoutRest.length) append(escapeForged(Buffer.concat([stdoutRest, Buffer.from('\n')])));
      ended(spawnError ? null : code, signal, spawnError);
    });
  };

  // A bug in the relay itself: say so where the client and the daemon look, then leave.
  process.on('uncaughtException', (err) => {
    note(`fatal: ${err.stack ?? err.message}`);
    try {
      if (!agentDone) {
        agentDone = true;
        append(exitRecord(null, null, `relay: ${err.message}`));
      }
      agent?.kill('SIGKILL');
    } catch {
      /* leaving anyway */
    }
    const c = client;
    if (c?.live) {
      c.sock.end(() => shutdown(1));
      setTimeout(() => shutdown(1), 1_000).unref();
    } else shutdown(1);
  });

  let stdinLine = Buffer.alloc(0);
  const fromClient = (chunk: Buffer) => {
    if (agentDone) return; // nobody reads it any more: neither sent nor logged
    const nul = chunk.indexOf(0);
    if (!agent) {
      // Nothing reads input before the agent starts; a NUL ends a session whose agent never ran.
      if (nul >= 0) ended(null, null, 'the session ended before its agent was started');
      return;
    }
    const data = nul >= 0 ? chunk.subarray(0, nul) : chunk;
    if (data.length && !agent.stdin!.writableEnded) {
      agent.stdin!.write(data);
      if (args.logStdin) {
        let all = Buffer.concat([stdinLine, data]);
        const nl = all.lastIndexOf(10);
        if (nl >= 0) {
          append(Buffer.from(escapeForged(all.subarray(0, nl + 1))));
          all = all.subarray(nl + 1);
        }
        stdinLine = Buffer.from(all);
      }
    }
    if (nul >= 0 && !agent.stdin!.writableEnded) {
      note('NUL from client: closing the agent stdin');
      agent.stdin!.end();
    }
  };

  const server = createServer((sock) => {
    let header = '';
    const onHeader = (chunk: Buffer) => {
      header += chunk.toString('latin1');
      const nl = header.indexOf('\n');
      if (nl < 0) {
        if (header.length > 1024) sock.destroy();
        return;
      }
      sock.off('data', onHeader);
      let offset: number;
      let start: boolean;
      try {
        const h = JSON.parse(header.slice(0, nl)) as { offset?: unknown; start?: unknown };
        offset = Number(h.offset ?? 0);
        start = h.start === true;
      } catch {
        sock.destroy();
        return;
      }
      if (client) {
        note('a new client replaces the attached one');
        client.sock.destroy();
      }
      const c = { sock, pos: Math.min(Math.max(0, offset || 0), size), live: false, pumping: false };
      client = c;
      if (start) startAgent();
      const rest = Buffer.from(header.slice(nl + 1), 'latin1');
      if (rest.length) fromClient(rest);
      sock.on('data', (d: Buffer) => {
        if (client === c) fromClient(d);
      });
      // EOF or a dropped connection only detaches: the agent keeps running.
      const detach = () => {
        if (client === c) client = null;
        stdinLine = Buffer.alloc(0);
        if (!sock.destroyed) sock.end();
      };
      sock.on('end', detach);
      sock.on('error', detach);
      sock.on('close', detach);
      pump(c);
    };
    sock.on('data', onHeader);
    sock.on('error', () => undefined);
  });

  let down = false;
  const shutdown = (code = 0) => {
    if (down) return;
    down = true;
    server.close();
    try {
      unlinkSync(join(args.dir, SOCKET));
    } catch {
      /* already gone */
    }
    closeSync(out);
    closeSync(reader);
    process.exit(code);
  };
  process.on('SIGTERM', () => {
    if (agent) agent.kill('SIGTERM');
    else shutdown();
  });
  server.listen(join(args.dir, SOCKET));
  if (!args.waitStart) startAgent();
}

// ---- the client side: what the daemon's SSH channel runs ---------------------------------

/**
 * No relay runs in `dir` (it died, or never came up): the client gets what output.jsonl holds from
 * its offset (the exit record, when the relay wrote one), and stderr says why, with relay.log's tail.
 */
function relayGone(dir: string, offset: number, why: string): void {
  const done = () => {
    const log = fileTail(join(dir, RELAY_LOG));
    process.stderr.write(`relay attach: ${why}${log ? `; relay.log ends with:\n${log}` : ''}\n`, () => process.exit(3));
  };
  let fd: number;
  try {
    fd = openSync(join(dir, OUTPUT), 'r');
  } catch {
    return done();
  }
  const buf = Buffer.alloc(64 * 1024);
  let pos = offset;
  const step = (): void => {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) {
        closeSync(fd);
        return done();
      }
      pos += n;
      if (!process.stdout.write(Buffer.from(buf.subarray(0, n)))) {
        process.stdout.once('drain', step);
        return;
      }
    }
  };
  step();
}

/** The relay we wait for has died: its own pid (from `--pid`, or its pid file) is gone. */
function relayDied(dir: string, pid: number): boolean {
  const filed = pidOf(dir);
  if (filed > 0) return !pidAlive(filed);
  return pid > 0 && !pidAlive(pid);
}

function attach(dir: string, offset: number, retryUntil = 0, pid = 0, start = false): void {
  const sock = createConnection(join(dir, SOCKET));
  let connected = false;
  sock.on('connect', () => {
    connected = true;
    sock.write(`${JSON.stringify(start ? { offset, start } : { offset })}\n`);
    process.stdin.on('data', (d: Buffer) => sock.write(d));
    // Our stdin closing (SSH channel closed) detaches; the agent keeps running.
    process.stdin.on('end', () => sock.end());
  });
  sock.on('data', (d: Buffer) => {
    if (!process.stdout.write(d)) {
      sock.pause();
      process.stdout.once('drain', () => sock.resume());
    }
  });
  sock.on('end', () => process.exit(0));
  sock.on('error', (err: NodeJS.ErrnoException) => {
    if (!connected && (err.code === 'ECONNREFUSED' || err.code === 'ENOENT')) {
      if (relayDied(dir, pid)) return relayGone(dir, offset, 'the relay is not running');
      // A relay that has just bound its socket may not listen yet: try again for a while.
      if (Date.now() < retryUntil) {
        setTimeout(() => attach(dir, offset, retryUntil, pid, start), 10);
        return;
      }
      return relayGone(dir, offset, `the relay did not come up (${err.message})`);
    }
    process.stderr.write(`relay attach: ${err.message}\n`);
    process.exit(2);
  });
}

function serveAttach(args: Args): void {
  if (!args.argv.length) throw new Error('serve-attach needs a command after --');
  mkdirSync(args.dir, { recursive: true });
  if (relayAlive(args.dir)) throw new Error(`a relay already runs in ${args.dir}`);
  try {
    unlinkSync(join(args.dir, SOCKET));
  } catch {
    /* no stale socket */
  }
  const self = fileURLToPath(import.meta.url);
  // detached: the daemon gets its own session (setsid), so it survives this SSH session.
  const child = spawn(process.execPath, [self, '__daemon', ...process.argv.slice(3)], {
    detached: true,
    stdio: 'ignore',
    cwd: args.dir,
  });
  child.unref();
  attach(args.dir, 0, Date.now() + 30_000, child.pid ?? 0);
}

function main(): void {
  const raw = process.argv.slice(2);
  const args = parseArgs(raw);
  switch (args.command) {
    case 'serve-attach':
      serveAttach(args);
      return;
    case '__daemon':
    case 'daemon':
      runDaemon(args);
      return;
    case 'attach':
      attach(args.dir, args.offset, Date.now() + args.waitMs, args.pid, args.start);
      return;
    case 'alive':
      process.exit(!relayAlive(args.dir) ? 1 : existsSync(join(args.dir, AGENT_ENDED)) ? 3 : 0);
      return;
    default:
      throw new Error(`unknown command ${args.command}`);
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`relay: ${(err as Error).message}\n`);
  process.exit(1);
}

// The `caic` command as a child process, as a user runs it: run to completion, or start and watch
// its output; and `caic` in a pseudo-terminal (util-linux `script`) for what it does on a TTY.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './wait.js';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** The environment of a `caic` client with its own home (tokens, config) under `dir`, talking to `server`. */
export function cliEnvFor(dir: string, server: string): NodeJS.ProcessEnv {
  const home = join(dir, 'home');
  return { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), CAIC_SERVER: server };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli extends AsyncDisposable {
  child: ChildProcessWithoutNullStreams;
  readonly stdout: string;
  readonly stderr: string;
  /** Waits until stdout matches (fails at once if the process exits first); returns the match. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Waits for the exit (with a deadline). */
  done(timeoutMs?: number): Promise<CliResult>;
}

/** Starts `caic <args>` with exactly `env` (plus PATH). With `tty`, it runs inside `script`, so stdin and stdout are a terminal. */
export function startCli(args: string[], env: NodeJS.ProcessEnv, opts: { tty?: boolean } = {}): RunningCli {
  // The contract hook follows the CLI into its process (test/tools/run-tests.mjs sets both).
  const hook = process.env.CAIC_CONTRACT_DIR ? { CAIC_CONTRACT_DIR: process.env.CAIC_CONTRACT_DIR, NODE_OPTIONS: process.env.NODE_OPTIONS } : {};
  const fullEnv = { PATH: process.env.PATH, ...hook, ...env };
  const child = opts.tty
    ? spawn('script', ['-q', '-e', '-c', [process.execPath, CLI, ...args].map(shellQuote).join(' '), '/dev/null'], { env: { TERM: 'xterm-256color', ...fullEnv } })
    : spawn(process.execPath, [CLI, ...args], { env: fullEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'close').then(([code]) => code as number | null);
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    async waitFor(pattern, timeoutMs = 60_000) {
      return until(() => {
        const m = pattern.exec(stdout);
        if (m) return m;
        if (child.exitCode !== null) assert.fail(`caic ${args.join(' ')} exited (${child.exitCode}) before ${pattern}:\n${stdout}\n${stderr}`);
        return undefined;
      }, `${pattern} from caic ${args.join(' ')}`, timeoutMs);
    },
    async done(timeoutMs = 120_000) {
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        exited,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`caic ${args.join(' ')} still running after ${timeoutMs} ms:\n${stdout}\n${stderr}`)), timeoutMs))),
      ]).finally(() => clearTimeout(timer));
      return { code, stdout, stderr };
    },
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Runs `caic <args>` to its end. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, opts: { tty?: boolean; timeoutMs?: number } = {}): Promise<CliResult> {
  await using c = startCli(args, env, opts);
  c.child.stdin.end();
  return await c.done(opts.timeoutMs);
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A failure as the CLI reports it: exit 1 and exactly one line on stderr. */
export function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit status 1 expected:\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

// Programs caic deploys into containers (the relay, the fake agent), content-addressed by hash,
// and the shell commands that start and reach the relay.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { shellQuote } from '../containers/index.js';
import type { AssetPaths } from './types.js';

export interface Asset {
  name: string;
  content: string;
  /** Absolute path in the container; the hash in the name means "redeploy only when it changed". */
  path: string;
}

const BIN_DIR = '/home/user/.caic/bin';

function load(name: string, relative: string): Asset {
  const content = readFileSync(fileURLToPath(new URL(relative, import.meta.url)), 'utf8');
  const hash = createHash('sha256').update(content).digest('hex').slice(0, 12);
  // .mjs: the container's Node runs it as an ES module without a package.json.
  return { name, content, path: `${BIN_DIR}/${name}-${hash}.mjs` };
}

let cached: { relay: Asset; fakeAgent: Asset } | undefined;

export function assets(): { relay: Asset; fakeAgent: Asset } {
  cached ??= { relay: load('relay', './relay/relay.js'), fakeAgent: load('fake-agent', './fake/fake-agent.js') };
  return cached;
}

export function assetPaths(): AssetPaths {
  const a = assets();
  return { relay: a.relay.path, fakeAgent: a.fakeAgent.path };
}

/** Writes the asset unless a file with its hash is already there; the content goes over stdin. */
export function deployCommand(asset: Asset): string {
  const p = shellQuote(asset.path);
  return `[ -f ${p} ] || { mkdir -p ${shellQuote(BIN_DIR)} && cat > ${p}.tmp.$$ && mv ${p}.tmp.$$ ${p}; }`;
}

/** Session directories hold the relay's socket, pid, output.jsonl and relay.log. */
export function sessionDir(n: number): string {
  return `/home/user/.caic/sessions/${n}`;
}

/**
 * Starts the relay daemon (in its own session: it outlives this SSH channel) and, in parallel, the
 * attach client that this channel runs; the client retries until the relay listens, and gives up
 * at once, with relay.log's tail on stderr, when the relay's pid (`$!`) dies first. Two Node
 * processes start at once instead of one after the other. `setsid -w`: should setsid have to
 * fork, `$!` still lives exactly as long as the relay.
 */
export function serveAttachCommand(relay: string, dir: string, cwd: string, logStdin: boolean, argv: string[]): string {
  const daemon = ['node', relay, 'daemon', '--dir', dir, '--cwd', cwd, ...(logStdin ? [] : ['--no-log-stdin']), '--', ...argv].map(shellQuote).join(' ');
  return [
    `mkdir -p ${shellQuote(dir)}`,
    `setsid -w ${daemon} </dev/null >/dev/null 2>>${shellQuote(`${dir}/relay.log`)} &`,
    `exec node ${shellQuote(relay)} attach --dir ${shellQuote(dir)} --offset 0 --wait 30000 --pid $!`,
  ].join('\n');
}

/** `wait`: keep trying while the relay comes up (ms); `start`: ask a relay started with --wait-start to start its agent. */
export function attachCommand(relay: string, dir: string, offset: number, opts: { waitMs?: number; start?: boolean } = {}): string {
  const extra = `${opts.waitMs ? ` --wait ${opts.waitMs}` : ''}${opts.start ? ' --start' : ''}`;
  return `exec node ${shellQuote(relay)} attach --dir ${shellQuote(dir)} --offset ${offset}${extra}`;
}

/** Where a session's relay listens (the daemon reaches it over SSH, see SshConnection.openSocket). */
export function relaySocket(dir: string): string {
  return `${dir}/relay.sock`;
}

/**
 * The first line a client sends the relay: the byte offset to replay from and, for a relay started
 * with --wait-start, whether to start its agent now.
 */
export function relayHeader(offset: number, start = false): string {
  return `${JSON.stringify(start ? { offset, start } : { offset })}\n`;
}

/** Exit 3 when the session's relay has a pid file and that process is gone (it died); 0 otherwise. */
export function relayDeadCommand(dir: string): string {
  return `p=$(cat ${shellQuote(`${dir}/pid`)} 2>/dev/null) || exit 0; kill -0 "$p" 2>/dev/null || exit 3`;
}

/** The file of variables the daemon writes over SSH; a relay started at boot reads it when it starts the agent. */
export const ENV_FILE = '/home/user/.env';

/**
 * LaunchSpec.boot for a session's relay: the session directory, then the relay's command line. The
 * container's entrypoint starts it at the first start; with `waitStart` it starts the agent only
 * when the daemon's first client says so (after ~/.env, or the repository, went in over SSH).
 */
export function bootCommand(relay: string, dir: string, cwd: string, logStdin: boolean, waitStart: boolean, argv: string[]): string[] {
  return [dir, 'node', relay, 'daemon', '--dir', dir, '--cwd', cwd, ...(logStdin ? [] : ['--no-log-stdin']), ...(waitStart ? ['--wait-start'] : []), '--env-file', ENV_FILE, '--', ...argv];
}

/** Exit 0: the relay runs its agent; 3: the agent ended, the relay holds its output; else no relay. */
export function aliveCommand(relay: string, dir: string): string {
  return `node ${shellQuote(relay)} alive --dir ${shellQuote(dir)}`;
}

/** The bytes of output.jsonl from `offset` on (what a dead relay left unread). */
export function readOutputCommand(dir: string, offset: number): string {
  return `tail -c +${offset + 1} ${shellQuote(`${dir}/output.jsonl`)} 2>/dev/null || true`;
}

/** The end of a session's relay.log (the relay's notes and the agent's stderr): why it stopped. */
export function relayLogCommand(dir: string): string {
  return `tail -c 2048 ${shellQuote(`${dir}/relay.log`)} 2>/dev/null || true`;
}

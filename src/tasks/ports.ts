// Listening TCP ports of a task's container: the one command that lists them and a pure parser of
// its output (/proc/net/tcp and /proc/net/tcp6 lines, hostile input).
import type { LoopbackAddress } from '../containers/index.js';
import type { TaskWorkspace } from './workspace.js';

/** Where a listening port is reached from inside the container: its IPv4 or IPv6 loopback. */
export type LoopbackHost = LoopbackAddress;

export interface ListeningPort {
  port: number;
  /** The address a forwarded connection goes to. */
  host: LoopbackHost;
}

/** sshd: the container's own door, never a preview. */
export const SSH_PORT = 22;
/** At most this many ports are reported (a container listening on thousands is not a dev server). */
export const MAX_PORTS = 64;
/** Lines read at most: the command cuts its output there, the parser too. */
const MAX_LINES = 2048;

/**
 * Only sockets in LISTEN state, from both tables, in one exec. The kernel writes the header and
 * one line per socket; `head` bounds what crosses the SSH channel whatever the container holds.
 * First, the uid of the egress proxy's user (empty without one): its listeners are caic's own.
 */
export const LIST_LISTENERS_COMMAND = `printf 'egress-uid %s\\n' "$(id -u caic-egress 2>/dev/null)"; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep ' 0A ' | head -n ${MAX_LINES}`;

/** `0100007F` (a little-endian 32-bit word per 4 bytes, as the kernel prints it) → bytes in network order. */
function addressBytes(hex: string): number[] | null {
  if (!/^[0-9A-Fa-f]+$/.test(hex) || (hex.length !== 8 && hex.length !== 32)) return null;
  const out: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8);
    for (let b = 6; b >= 0; b -= 2) out.push(parseInt(word.slice(b, b + 2), 16));
  }
  return out;
}

/**
 * How a listener on this local address is reached over the loopback, or null when it is not:
 * wildcard and 127.0.0.1 listeners (also as IPv4-mapped IPv6, and `::`, which Linux makes
 * dual-stack by default) through 127.0.0.1; `::1` through ::1. A listener bound to one other
 * address (the container's bridge IP, 127.0.0.2) is not on the loopback the forward reaches.
 */
function reachVia(bytes: number[]): LoopbackHost | null {
  const v4 = (b: number[]) => (b.every((x) => x === 0) || (b[0] === 127 && b[1] === 0 && b[2] === 0 && b[3] === 1) ? '127.0.0.1' : null);
  if (bytes.length === 4) return v4(bytes);
  if (bytes.every((x) => x === 0)) return '127.0.0.1';
  if (bytes.slice(0, 15).every((x) => x === 0) && bytes[15] === 1) return '::1';
  const mapped = bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? v4(bytes.slice(12)) : null;
}

/**
 * The ports listened on, ascending, from /proc/net/tcp{,6} text: LISTEN (state 0A) lines whose
 * address the loopback reaches, sshd's port and the egress proxy's listeners (the first line names
 * its uid) left out; a port heard on both loopbacks is reached through 127.0.0.1. Malformed lines
 * are skipped; at most MAX_PORTS ports.
 */
export function parseListeners(text: string): ListeningPort[] {
  const found = new Map<number, LoopbackHost>();
  const lines = text.split('\n', MAX_LINES + 1);
  // The egress proxy's user: its proxy and trap listen on the loopback but are no app to preview.
  const egressUid = /^egress-uid ([0-9]{1,10})$/.exec(lines[0] ?? '')?.[1];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    // sl, local_address, rem_address, st, tx_queue:rx_queue, tr:when, retrnsmt, uid, ...
    if (egressUid !== undefined && fields[7] === egressUid) continue;
    // sl, local_address, rem_address, st, ...
    if (fields.length < 4 || !/^[0-9]+:$/.test(fields[0]!) || !/^[0-9A-Fa-f]+:[0-9A-Fa-f]{4}$/.test(fields[2]!) || fields[3] !== '0A') continue;
    const [addr, portHex, extra] = fields[1]!.split(':');
    if (extra !== undefined || !portHex || !/^[0-9A-Fa-f]{4}$/.test(portHex)) continue;
    const bytes = addressBytes(addr ?? '');
    if (!bytes) continue;
    const port = parseInt(portHex, 16);
    if (port === 0 || port === SSH_PORT) continue;
    const via = reachVia(bytes);
    if (!via) continue;
    if (found.get(port) !== '127.0.0.1') found.set(port, via);
  }
  return [...found].sort((a, b) => a[0] - b[0]).slice(0, MAX_PORTS).map(([port, host]) => ({ port, host }));
}

/** The container's listening ports, read over the task's SSH connection (one exec, bounded). */
export async function listeningPorts(ws: Pick<TaskWorkspace, 'exec'>): Promise<ListeningPort[]> {
  const r = await ws.exec(LIST_LISTENERS_COMMAND, { timeoutMs: 10_000, maxBuffer: 512 * 1024 });
  return parseListeners(r.stdout);
}

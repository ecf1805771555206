// localizeAddr: turns the `[server] http` value into a bind host and port; a bare port never binds all interfaces.
export interface ListenAddr {
  host: string;
  port: number;
}

function parsePort(text: string, original: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error(`invalid port in "${original}"`);
  const port = Number(text);
  if (port > 65535) throw new Error(`port out of range in "${original}"`);
  return port;
}

/**
 * `":2242"` and `"2242"` → 127.0.0.1:2242. `"0.0.0.0:2242"`, `"[::]:2242"`, `"host:port"` bind as
 * written: listening on every interface must be spelled out.
 */
export function localizeAddr(addr: string): ListenAddr {
  const value = addr.trim();
  if (/^\d+$/.test(value)) return { host: '127.0.0.1', port: parsePort(value, addr) };
  if (value.startsWith('[')) {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(value);
    if (!m) throw new Error(`invalid address "${addr}" (expected [ipv6]:port)`);
    return { host: m[1]!, port: parsePort(m[2]!, addr) };
  }
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw new Error(`invalid address "${addr}" (expected host:port or :port)`);
  const host = value.slice(0, colon);
  if (host.includes(':')) throw new Error(`invalid address "${addr}" (write IPv6 hosts as [addr]:port)`);
  return { host: host === '' ? '127.0.0.1' : host, port: parsePort(value.slice(colon + 1), addr) };
}

/** The URL a local user should open for a bind address (wildcards are reached via loopback). */
export function urlForListen({ host, port }: ListenAddr): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** Whether a bind host is reachable from this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

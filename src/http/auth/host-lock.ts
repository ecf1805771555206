// Host lock: the daemon answers one public hostname (explicit external_url, or the first FQDN seen).
import { isIP } from 'node:net';

/** The hostname of a Host header value, lower-cased, without port or trailing dot. */
export function hostnameOf(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[')) return name.slice(1, name.indexOf(']') >= 0 ? name.indexOf(']') : undefined);
  const colon = name.lastIndexOf(':');
  if (colon >= 0 && name.indexOf(':') === colon) name = name.slice(0, colon);
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** A DNS name with a dot that is not an IP literal; only those are locked. */
export function isFqdn(hostname: string): boolean {
  return hostname.includes('.') && isIP(hostname) === 0;
}

export class HostLock {
  private locked: URL | null;
  /** The last Host value accepted; once accepted a value stays acceptable, so it short-cuts the parse. */
  private lastAccepted: string | undefined;

  constructor(
    externalUrl: URL | null,
    private readonly onLock: (url: string) => void = () => {},
  ) {
    this.locked = externalUrl;
  }

  /** The public URL once known (explicit, or pinned in `auto` mode), else null. */
  get externalUrl(): string | null {
    return this.locked ? this.locked.origin : null;
  }

  /**
   * Accepts bare IPs and single-label names (localhost) always; the first FQDN pins the lock in
   * `auto` mode; any other FQDN is refused.
   */
  check(hostHeader: string | undefined, scheme: 'http' | 'https'): boolean {
    if (!hostHeader || hostHeader === this.lastAccepted) return true;
    const ok = this.judge(hostHeader, scheme);
    if (ok) this.lastAccepted = hostHeader;
    return ok;
  }

  private judge(hostHeader: string, scheme: 'http' | 'https'): boolean {
    const hostname = hostnameOf(hostHeader);
    if (!isFqdn(hostname)) return true;
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/.test(hostHeader.trim().toLowerCase())) return false;
    if (!this.locked) {
      this.locked = new URL(`${scheme}://${hostHeader.trim().toLowerCase()}`);
      this.onLock(this.locked.origin);
      return true;
    }
    return this.locked.hostname === hostname;
  }
}

// IP address parsing shared by the gate: IPv4, IPv6, IPv4-mapped IPv6 folded to IPv4, zones dropped.
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface ParsedIp {
  kind: 'ipv4' | 'ipv6';
  /** Network-order bytes: 4 for IPv4, 16 for IPv6. */
  bytes: number[];
  /** Canonical text (IPv4 dotted, IPv6 compressed), used in logs and lookups. */
  text: string;
}

/** Recently parsed addresses: the same few clients send most requests. Bounded, cleared when full. */
const recent = new Map<string, ParsedIp | null>();
const RECENT_MAX = 10_000;

export function parseIp(value: string | undefined): ParsedIp | null {
  if (!value) return null;
  let parsed = recent.get(value);
  if (parsed === undefined) {
    parsed = parseUncached(value);
    if (recent.size >= RECENT_MAX) recent.clear();
    recent.set(value, parsed);
  }
  return parsed;
}

function parseUncached(value: string): ParsedIp | null {
  // Fast path for the common case, a plain dotted quad (node's check is strict: no "127.1", no octal).
  if (isIPv4(value)) return { kind: 'ipv4', bytes: value.split('.').map(Number), text: value };
  let text = value.trim();
  // Brackets come from some proxies ("[2001:db8::1]"), zones ("fe80::1%eth0") from link-local sockets.
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!ipaddr.isValid(text)) return null;
  // Strict forms only: ipaddr.isValid also accepts legacy shorthands like "127.1" or octal parts.
  if (!ipaddr.IPv4.isValidFourPartDecimal(text) && !ipaddr.IPv6.isValid(text)) return null;
  const addr = ipaddr.process(text);
  return { kind: addr.kind(), bytes: addr.toByteArray(), text: addr.toString() };
}

export interface ParsedCidr {
  kind: 'ipv4' | 'ipv6';
  bytes: number[];
  bits: number;
  text: string;
}

/** Parses "a.b.c.d/n" or "v6/n"; an IPv4-mapped IPv6 prefix (::ffff:0:0/96 and longer) folds to IPv4. */
export function parseCidr(value: string): ParsedCidr | null {
  try {
    const [addr, bits] = ipaddr.parseCIDR(value.trim());
    if (addr.kind() === 'ipv6' && bits >= 96 && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      const v4 = (addr as ipaddr.IPv6).toIPv4Address();
      return { kind: 'ipv4', bytes: v4.toByteArray(), bits: bits - 96, text: `${v4.toString()}/${bits - 96}` };
    }
    return { kind: addr.kind(), bytes: addr.toByteArray(), bits, text: `${addr.toString()}/${bits}` };
  } catch {
    return null;
  }
}

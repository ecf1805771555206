// Which address a request comes from: the socket peer, or X-Forwarded-For when the peer is a trusted proxy.
import { parseIp, type ParsedIp } from './ip.js';

export interface ClientAddress {
  /** The client as judged by the gate; null when a trusted proxy forwarded an unparseable address. */
  ip: ParsedIp | null;
  /** The socket peer is a trusted proxy: its forwarded headers (XFF, X-Forwarded-Host/Proto) count. */
  viaTrustedProxy: boolean;
}

/**
 * Only a trusted peer's X-Forwarded-For is read, right to left, skipping trusted proxies: the
 * rightmost untrusted entry is the last hop no one we trust could have forged.
 */
export function resolveClientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  isTrusted: (ip: ParsedIp) => boolean,
): ClientAddress {
  const peerIp = parseIp(peer);
  if (!peerIp || !isTrusted(peerIp)) return { ip: peerIp, viaTrustedProxy: false };
  if (!forwardedFor || forwardedFor.length === 0) return { ip: peerIp, viaTrustedProxy: true };
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  let leftmost: ParsedIp = peerIp;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop === '') continue;
    const ip = parseIp(hop);
    if (!ip) return { ip: null, viaTrustedProxy: true };
    if (!isTrusted(ip)) return { ip, viaTrustedProxy: true };
    leftmost = ip;
  }
  // Every hop is one of our proxies: the request started inside the trusted network.
  return { ip: leftmost, viaTrustedProxy: true };
}

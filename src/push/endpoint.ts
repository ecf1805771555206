// Which push endpoints caic sends to: public https push services only (a subscription must not make the daemon call into its own network).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent } from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface EndpointPolicy {
  /** Tests only: loopback and private addresses are allowed (a local push-service stand-in). */
  allowPrivate: boolean;
}

/** True for an address a push service may have: global unicast, not loopback, private, link-local, CGNAT... */
export function isPublicAddress(addr: string): boolean {
  if (!ipaddr.isValid(addr)) return false;
  let ip = ipaddr.parse(addr);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() === 'unicast';
}

/**
 * Why `endpoint` is refused, or null when caic may send to it. The hostname is checked here; the
 * address it resolves to is checked again when connecting (pushAgent), against DNS rebinding.
 */
export function endpointProblem(endpoint: string, policy: EndpointPolicy): string | null {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'endpoint is not a URL';
  }
  if (url.protocol !== 'https:') return 'endpoint must be an https:// URL';
  if (url.username || url.password) return 'endpoint must not carry credentials';
  if (policy.allowPrivate) return null;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (ipaddr.isValid(host)) return isPublicAddress(host) ? null : 'endpoint must be a public push service, not a private or loopback address';
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal') || !host.includes('.')) {
    return 'endpoint must be a public push service, not a local host name';
  }
  return null;
}

/** A DNS lookup that fails for names resolving to non-public addresses. */
export function publicOnlyLookup(): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const ok = addresses.filter((a) => isPublicAddress(a.address));
      if (!ok.length) {
        const e = Object.assign(new Error(`${hostname} resolves to no public address`), { code: 'EPUSHPRIVATE' });
        return callback(e, '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
      return callback(null, ok[0]!.address, ok[0]!.family);
    });
  };
}

/** The https agent pushes go through: keep-alive, and (outside tests) connections to public addresses only. */
export function pushAgent(policy: EndpointPolicy, tls: { ca?: string } = {}): Agent {
  return new Agent({ keepAlive: true, maxSockets: 8, ...(tls.ca ? { ca: tls.ca } : {}), ...(policy.allowPrivate ? {} : { lookup: publicOnlyLookup() }) });
}

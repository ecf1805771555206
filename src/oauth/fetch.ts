// Fetching Client ID Metadata Documents: https only, public addresses only, bounded in size and time.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent, request } from 'node:https';
import { Readable } from 'node:stream';
import ipaddr from 'ipaddr.js';

export interface GuardedFetchOptions {
  /** Tests only: allow loopback and private addresses (a local https server). */
  allowPrivate?: boolean;
  /** Tests only: extra CA certificates (PEM) to trust. */
  ca?: string;
}

/** Whether an address is one a metadata document may be fetched from: public unicast only. */
export function isPublicAddress(ip: string): boolean {
  try {
    let addr = ipaddr.parse(ip);
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
    return addr.range() === 'unicast';
  } catch {
    return false;
  }
}

/**
 * A `fetch` for oidc-provider's outgoing requests. The address is checked after DNS resolution,
 * on the address actually connected to, so a name that resolves to 127.0.0.1 (or rebinds to it)
 * is refused. No redirects are followed; oidc-provider adds the timeout and the body limit.
 */
export function guardedFetch(opts: GuardedFetchOptions = {}) {
  // Its own agent without keep-alive: a pooled socket (opened under another policy) would skip the address check.
  const agent = new Agent({ keepAlive: false });
  return (input: string | URL, init: { method?: string; headers?: Headers; signal?: AbortSignal } = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      if (url.protocol !== 'https:') return reject(new Error('only https URLs are fetched'));
      const headers: Record<string, string> = {};
      init.headers?.forEach((v, k) => (headers[k] = v));
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          agent,
          headers,
          ...(init.signal ? { signal: init.signal } : {}),
          ...(opts.ca ? { ca: opts.ca } : {}),
          lookup: (hostname, options, callback) => {
            dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
              if (err) return callback(err, '', 0);
              const bad = addresses.find((a) => !isPublicAddress(a.address));
              if (bad && !opts.allowPrivate) return callback(new Error(`${hostname} resolves to a non-public address`), '', 0);
              if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
              callback(null, addresses[0]!.address, addresses[0]!.family);
            });
          },
        },
        (res) => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
          const body = res.statusCode === 204 || res.statusCode === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
          resolve(new Response(body, { status: res.statusCode ?? 500, headers: h }));
        },
      );
      req.on('error', reject);
      req.end();
    });
}

// Header rewriting of the preview proxy, as pure functions over raw header lists: what goes to the
// app (no hop-by-hop headers, no caic cookies, our Host and X-Forwarded-*) and what comes back
// (no hop-by-hop headers, cookies kept to the preview host, loopback redirects made public).

/** Hop-by-hop headers (RFC 9110 §7.6.1) and proxy credentials: never forwarded either way. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);
/** What a client says about itself or its route that only caic may say to the app. */
const CLIENT_CLAIMS = new Set(['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-real-ip']);
/** Cookies under this prefix are caic's (the preview cookie, a tossed session): the app never sees them, nor sets them. */
export const CAIC_COOKIE_PREFIX = 'caic_';

/** Node's rawHeaders: name, value, name, value... */
export type RawHeaders = readonly string[];

function pairs(raw: RawHeaders): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/** Header names a Connection header lists (they are hop-by-hop for this message). */
function connectionListed(list: [string, string][]): Set<string> {
  const named = new Set<string>();
  for (const [k, v] of list) if (k.toLowerCase() === 'connection') for (const t of v.split(',')) named.add(t.trim().toLowerCase());
  return named;
}

/** A Cookie header without caic's cookies; null when nothing is left. */
export function stripCaicCookies(header: string): string | null {
  const kept = header
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '' && !c.toLowerCase().startsWith(CAIC_COOKIE_PREFIX));
  return kept.length ? kept.join('; ') : null;
}

export interface UpstreamContext {
  /** The preview host as the browser named it (with its port), passed on as Host. */
  publicHost: string;
  proto: 'http' | 'https';
  /** A WebSocket upgrade: Connection and Upgrade are kept (as `Upgrade`, `websocket`). */
  websocket: boolean;
}

/**
 * The request headers for the app: hop-by-hop headers and those Connection names dropped, the
 * client's own forwarding claims dropped (the app learns nothing of the user's address), caic's
 * cookies removed, then Host (the preview host: apps build absolute URLs and check allowed hosts
 * from it) and X-Forwarded-Host/-Proto. A body keeps its framing: Content-Length, or chunked.
 */
export function upstreamRequestHeaders(raw: RawHeaders, ctx: UpstreamContext): string[] {
  const list = pairs(raw);
  const named = connectionListed(list);
  const out: string[] = [];
  let chunked = false;
  for (const [k, v] of list) {
    const lk = k.toLowerCase();
    if (lk === 'transfer-encoding' && /chunked/i.test(v)) chunked = true;
    if (HOP_BY_HOP.has(lk) || named.has(lk) || CLIENT_CLAIMS.has(lk) || lk === 'host') continue;
    if (lk === 'cookie') {
      const kept = stripCaicCookies(v);
      if (kept !== null) out.push(k, kept);
      continue;
    }
    out.push(k, v);
  }
  out.push('Host', ctx.publicHost, 'X-Forwarded-Host', ctx.publicHost, 'X-Forwarded-Proto', ctx.proto);
  if (chunked && !ctx.websocket) out.push('Transfer-Encoding', 'chunked');
  if (ctx.websocket) out.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
  return out;
}

/**
 * A Set-Cookie from the app, made safe for caic: a cookie named like caic's is dropped (null), and
 * any Domain attribute is removed, so the cookie is host-only to this preview's host and can never
 * reach the caic host or another preview.
 */
export function rewriteSetCookie(value: string): string | null {
  const [first = '', ...attrs] = value.split(';');
  const name = first.split('=')[0]!.trim().toLowerCase();
  if (name.startsWith(CAIC_COOKIE_PREFIX) || name.startsWith(`__host-${CAIC_COOKIE_PREFIX}`) || name.startsWith(`__secure-${CAIC_COOKIE_PREFIX}`)) return null;
  return [first, ...attrs.filter((a) => a.split('=')[0]!.trim().toLowerCase() !== 'domain')].join(';');
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '0.0.0.0', '[::1]', '[::]']);

/**
 * A Location the app wrote with its own loopback origin (`http://localhost:3000/x`, what a server
 * that does not read Host says) points at the user's machine: it becomes the preview's origin.
 * Relative locations and other hosts are left alone.
 */
export function rewriteLocation(location: string, port: number, previewOrigin: string): string {
  let u: URL;
  try {
    if (!/^https?:\/\//i.test(location)) return location;
    u = new URL(location);
  } catch {
    return location;
  }
  const uport = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
  if (!LOOPBACK_NAMES.has(u.hostname) || uport !== port) return location;
  return `${previewOrigin}${u.pathname}${u.search}${u.hash}`;
}

/** Headers of the app's answer that must not reach the browser: hop-by-hop ones, and Alt-Svc (it could name another host for this origin). */
const RESPONSE_DROPPED = new Set(['alt-svc']);

export interface DownstreamContext {
  port: number;
  /** `http://p3000-<task>.localhost:2242`: where loopback redirects go. */
  previewOrigin: string;
  /** The answer to an upgrade: keep Connection and Upgrade. */
  upgrade: boolean;
}

/** The app's response headers as they go to the browser (flat raw list, duplicates kept). */
export function downstreamResponseHeaders(raw: RawHeaders, ctx: DownstreamContext): string[] {
  const list = pairs(raw);
  const named = connectionListed(list);
  const out: string[] = [];
  for (const [k, v] of list) {
    const lk = k.toLowerCase();
    if (ctx.upgrade && (lk === 'connection' || lk === 'upgrade')) {
      out.push(k, v);
      continue;
    }
    if (HOP_BY_HOP.has(lk) || named.has(lk) || RESPONSE_DROPPED.has(lk)) continue;
    if (lk === 'set-cookie') {
      const c = rewriteSetCookie(v);
      if (c !== null) out.push(k, c);
      continue;
    }
    out.push(k, lk === 'location' ? rewriteLocation(v, ctx.port, ctx.previewOrigin) : v);
  }
  return out;
}

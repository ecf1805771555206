// The preview proxy's two paths over one forwarded TCP connection per request: HTTP (streamed both
// ways, never buffered) and WebSocket upgrades (the app's 101, then bytes piped both ways).
import { request as httpRequest, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { escapeHtml, htmlPage } from '../errors.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';

/** One proxied exchange: where it goes and how the connection to it is made. */
export interface ProxyTarget {
  port: number;
  /** The preview host as the browser named it, with its port (what the app gets as Host). */
  publicHost: string;
  proto: 'http' | 'https';
  /** `http://p3000-<task>.localhost:2242` */
  previewOrigin: string;
  /** Opens the forwarded connection (over the task's SSH connection). */
  connect(): Promise<Duplex>;
  /** Registers something to destroy when the task stops; returns its removal. */
  track(destroy: () => void): () => void;
  /** Seconds the app may take before its response headers arrive. */
  responseTimeoutMs: number;
  /** One line per exchange (status and duration), for the log. */
  done(status: number, detail?: string): void;
}

/** A failed connection, in words for the page: nothing listening, or the container too slow. */
export function connectFailure(err: unknown, port: number): { status: 502 | 504; text: string } {
  const msg = err instanceof Error ? err.message : String(err);
  if (/within .* s\b/.test(msg)) return { status: 504, text: `The task's container did not open a connection to port ${port} in time.` };
  if (/refused|failure|closed|no container|not a /i.test(msg))
    return { status: 502, text: `Nothing answers on port ${port} in the task's container (the server is not running, or listens elsewhere).` };
  return { status: 502, text: `The connection to port ${port} in the task's container failed.` };
}

/** A small page for refusals and failures; no script may run in it. */
export function previewPage(status: number, text: string): { headers: Record<string, string>; body: string } {
  const title = `${status} ${STATUS_CODES[status] ?? ''}`.trim();
  return {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors *",
      'x-content-type-options': 'nosniff',
    },
    body: htmlPage(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p><p>caic preview</p>`),
  };
}

/** Answers on a response that has not started; a started one can only be cut. */
export function sendPage(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const page = previewPage(status, text);
  res.writeHead(status, { ...page.headers, ...extra, 'content-length': Buffer.byteLength(page.body) });
  res.end(page.body);
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Proxies one HTTP request: a forwarded connection per request (`Connection: close` upstream, so
 * the channel ends with the answer), the body piped up and the answer piped down with backpressure.
 * Connection failures answer 502/504 pages; a cut on either side destroys the other.
 */
export async function proxyHttp(req: IncomingMessage, res: ServerResponse, t: ProxyTarget): Promise<void> {
  let channel: Duplex;
  try {
    channel = await t.connect();
  } catch (err) {
    const f = connectFailure(err, t.port);
    sendPage(res, f.status, f.text);
    t.done(f.status, err instanceof Error ? err.message : String(err));
    return;
  }
  let finished = false;
  const untrack = t.track(() => {
    channel.destroy();
    res.destroy();
  });
  const up = httpRequest({
    method: req.method,
    path: req.url,
    headers: upstreamRequestHeaders(req.rawHeaders, { publicHost: t.publicHost, proto: t.proto, websocket: false }),
    setHost: false,
    createConnection: () => channel,
  });
  const timer = setTimeout(() => {
    up.destroy();
    channel.destroy();
    sendPage(res, 504, `The server on port ${t.port} did not answer within ${Math.round(t.responseTimeoutMs / 1000)} s.`);
    finish(504);
  }, t.responseTimeoutMs);
  const finish = (status: number, detail?: string) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    untrack();
    t.done(status, detail);
  };
  up.on('response', (upRes) => {
    clearTimeout(timer);
    const headers = downstreamResponseHeaders(upRes.rawHeaders, { port: t.port, previewOrigin: t.previewOrigin, upgrade: false });
    if (res.destroyed) {
      upRes.destroy();
      channel.destroy();
      return finish(499);
    }
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, headers);
    upRes.pipe(res);
    upRes.on('error', () => res.destroy());
    upRes.on('end', () => finish(upRes.statusCode ?? 502));
    upRes.on('close', () => {
      if (!upRes.complete) res.destroy();
      channel.destroy();
    });
  });
  up.on('error', (err) => {
    channel.destroy();
    if (!res.headersSent) sendPage(res, 502, `The server on port ${t.port} closed the connection without an answer.`);
    else res.destroy();
    finish(502, err.message);
  });
  // The browser went away: nothing more to fetch for it.
  res.on('close', () => {
    if (!res.writableFinished) {
      up.destroy();
      channel.destroy();
      finish(499);
    }
  });
  if (hasBody(req)) req.pipe(up);
  else up.end();
}

/** The start of a raw HTTP/1.1 response on a socket (an upgrade's answer). */
function responseHead(status: number, message: string | undefined, headers: string[]): string {
  const lines = [`HTTP/1.1 ${status} ${message ?? STATUS_CODES[status] ?? ''}`];
  for (let i = 0; i + 1 < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]!.replace(/[\r\n]/g, '')}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Proxies a WebSocket upgrade: the handshake goes to the app as an HTTP request; its 101 goes back
 * and the two sockets are piped until either side ends (or the task stops). Any other answer is
 * passed on as a plain response and the connection closed.
 */
export async function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, t: ProxyTarget): Promise<void> {
  const fail = (status: number, text: string, detail?: string) => {
    const page = previewPage(status, text);
    const headers = Object.entries({ ...page.headers, 'content-length': String(Buffer.byteLength(page.body)), connection: 'close' }).flat();
    if (socket.writable) socket.end(responseHead(status, undefined, headers) + page.body);
    else socket.destroy();
    t.done(status, detail);
  };
  let channel: Duplex;
  try {
    channel = await t.connect();
  } catch (err) {
    const f = connectFailure(err, t.port);
    return fail(f.status, f.text, err instanceof Error ? err.message : String(err));
  }
  if (socket.destroyed) {
    channel.destroy();
    return t.done(499);
  }
  const untrack = t.track(() => {
    channel.destroy();
    socket.destroy();
  });
  const up = httpRequest({
    method: req.method,
    path: req.url,
    headers: upstreamRequestHeaders(req.rawHeaders, { publicHost: t.publicHost, proto: t.proto, websocket: true }),
    setHost: false,
    createConnection: () => channel,
  });
  const timer = setTimeout(() => {
    up.destroy();
    channel.destroy();
    untrack();
    fail(504, `The server on port ${t.port} did not answer the WebSocket handshake within ${Math.round(t.responseTimeoutMs / 1000)} s.`);
  }, t.responseTimeoutMs);
  socket.on('error', () => channel.destroy());
  up.on('upgrade', (upRes, upSocket, upHead) => {
    clearTimeout(timer);
    const headers = downstreamResponseHeaders(upRes.rawHeaders, { port: t.port, previewOrigin: t.previewOrigin, upgrade: true });
    socket.write(responseHead(101, upRes.statusMessage, headers));
    if (upHead.length) socket.write(upHead);
    upSocket.on('error', () => socket.destroy());
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    const end = () => {
      upSocket.destroy();
      socket.destroy();
      untrack();
    };
    upSocket.once('close', end);
    socket.once('close', end);
    t.done(101);
  });
  up.on('response', (upRes) => {
    clearTimeout(timer);
    const headers = downstreamResponseHeaders(upRes.rawHeaders, { port: t.port, previewOrigin: t.previewOrigin, upgrade: false });
    // Hop-by-hop headers are gone, so the body (decoded) ends with the connection.
    socket.write(responseHead(upRes.statusCode ?? 502, upRes.statusMessage, [...headers, 'Connection', 'close']));
    upRes.pipe(socket);
    upRes.on('close', () => {
      channel.destroy();
      untrack();
    });
    t.done(upRes.statusCode ?? 502);
  });
  up.on('error', (err) => {
    clearTimeout(timer);
    channel.destroy();
    untrack();
    if (!socket.destroyed) fail(502, `The server on port ${t.port} closed the connection without an answer.`, err.message);
  });
  // Bytes the client sent after its handshake follow the request head upstream.
  if (head.length) up.once('finish', () => channel.write(head));
  up.end();
}

// The edge: one onRequest hook running gate → security headers → auth, the first code every request
// meets, and the same edge for what Fastify and Node answer before any hook (malformed requests).
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, statusOfCode, type ErrorCode } from '../api/index.js';
import type { Logger } from '../log/index.js';
import { createAuthStep, type AuthStepOptions } from './auth/hooks.js';
import { sendError } from './errors.js';
import { resolveClientAddress } from './gate/client-ip.js';
import { createGateStep } from './gate/hook.js';
import type { Gate } from './gate/index.js';
import { applySecurityHeaders, COMMON_SECURITY_HEADERS } from './headers.js';

/**
 * One hook rather than three: each Fastify hook costs on every request, and the steps run in a
 * fixed order anyway. A step that answers (403/401) ends the chain.
 */
export function installEdge(
  app: FastifyInstance,
  opts: AuthStepOptions & {
    gate: Gate;
    /**
     * Right after the gate: answers a request for another host it serves (app previews, on hosts of
     * their own that never meet caic's host lock, session or routes) and returns true.
     */
    dispatchHost?: (req: FastifyRequest, reply: FastifyReply) => boolean;
  },
): void {
  const gateStep = createGateStep(opts.gate);
  const authStep = createAuthStep(opts);
  const dispatchHost = opts.dispatchHost;
  app.decorateRequest('client', null);
  app.decorateRequest('user', null);
  app.addHook('onRequest', (req, reply, done) => {
    if (!gateStep(req, reply)) return;
    if (dispatchHost?.(req, reply)) return;
    applySecurityHeaders(req, reply);
    authStep(req, reply, done);
  });
}

/**
 * Fastify's `frameworkErrors`: a request whose URL the router cannot take (bad percent-encoding,
 * an over-long parameter) is answered before routing and so before the edge hook. It gets the
 * same edge: the gate decides first, then the envelope with the security headers. The message
 * never repeats the path.
 */
export function createFrameworkErrorHandler(gate: Gate) {
  const gateStep = createGateStep(gate);
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    // No onResponse hook runs out here: the access line is promised before anything answers.
    reply.server.accessLog?.noteError(reply, true);
    if (!gateStep(req, reply)) return;
    applySecurityHeaders(req, reply);
    if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') sendError(reply, 'BAD_REQUEST', 'a path segment of the URL is too long');
    else if (err.code === 'FST_ERR_BAD_URL') sendError(reply, 'BAD_REQUEST', 'the URL is malformed (invalid percent-encoding)');
    else sendError(reply, 'BAD_REQUEST', 'the request cannot be routed');
  };
}

/** Node's own parser errors, mapped to what the client did wrong. */
function parserError(code: string | undefined): { code: ErrorCode; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { code: 'REQUEST_TIMEOUT', message: 'the request was not received in time' };
  if (code === 'HPE_HEADER_OVERFLOW') return { code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' };
  return { code: 'BAD_REQUEST', message: 'malformed HTTP request' };
}

/** True while a response on this socket is under way: nothing may be written in the middle of it. */
function responseStarted(socket: Socket): boolean {
  // Node's own default handler looks at the same field (the response bound to the socket).
  return Boolean((socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent);
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses (headers too large, malformed
 * lines, a request not received within the request/headers timeout) never becomes a request,
 * so it is answered here on the raw socket, as the edge would: a peer the gate refuses gets 403,
 * every answer is the JSON envelope with the security headers, and the connection is closed.
 */
export function createClientErrorHandler(gate: Gate, logger: Logger) {
  const isTrusted = gate.isTrustedProxy.bind(gate);
  return (err: Error & { code?: string }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    if (!socket.writable || responseStarted(socket)) {
      socket.destroy();
      return;
    }
    // Headers may not have been parsed, so only the socket peer is known; behind a trusted proxy
    // the real client is unknown and the parser's answer goes back to the proxy.
    const peer = resolveClientAddress(socket.remoteAddress, undefined, isTrusted);
    const verdict = peer.ip && !peer.viaTrustedProxy ? gate.evaluate(peer.ip) : null;
    const refused = !peer.ip || (verdict !== null && !verdict.allowed);
    const { code, message } = refused
      ? { code: 'FORBIDDEN' as const, message: `origin ${peer.ip?.text ?? 'unknown'} (${verdict?.origin || 'unknown'}) not allowed` }
      : parserError(err.code);
    const status = statusOfCode[code];
    const body = JSON.stringify(errorBody(code, message));
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
      'content-type: application/json; charset=utf-8',
      `content-length: ${Buffer.byteLength(body)}`,
      ...Object.entries(COMMON_SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}`),
      'connection: close',
    ];
    logger.info(
      { ip: peer.ip?.text ?? socket.remoteAddress, origin: verdict?.origin ?? '', status, parserError: err.code },
      'request refused by the HTTP layer',
    );
    // Close once the answer is out, whatever the client keeps sending.
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  };
}


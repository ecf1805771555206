// The gate step of the edge hook: resolve the client address, evaluate the allowlist, refuse with 403.
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../errors.js';
import { resolveClientAddress, type ClientAddress } from './client-ip.js';
import type { Gate } from './gate.js';

/** Returns the gate step: true when the request may go on, false when it was answered (403). */
export function createGateStep(gate: Gate): (req: FastifyRequest, reply: FastifyReply) => boolean {
  const isTrusted = gate.isTrustedProxy.bind(gate);
  // Keep-alive connections carry many requests from one peer: judge the peer once per socket.
  const peers = new WeakMap<Socket, ClientAddress>();
  return (req, reply) => {
    const socket = req.raw.socket;
    let peer = peers.get(socket);
    if (!peer) {
      peer = resolveClientAddress(socket.remoteAddress, undefined, isTrusted);
      peers.set(socket, peer);
    }
    const forwarded = req.headers['x-forwarded-for'];
    const { ip, viaTrustedProxy } =
      peer.viaTrustedProxy && forwarded ? resolveClientAddress(socket.remoteAddress, forwarded, isTrusted) : peer;
    if (!ip) {
      req.client = { ip: '', origin: '', country: null, allowed: false, viaTrustedProxy };
      sendError(reply, 'FORBIDDEN', 'cannot determine the client address (malformed X-Forwarded-For from a trusted proxy)');
      return false;
    }
    const verdict = gate.evaluate(ip);
    req.client = { ip: ip.text, origin: verdict.origin, country: verdict.country, allowed: verdict.allowed, viaTrustedProxy };
    if (!verdict.allowed) {
      sendError(reply, 'FORBIDDEN', `origin ${ip.text} (${verdict.origin || 'unknown'}) not allowed`);
      return false;
    }
    return true;
  };
}

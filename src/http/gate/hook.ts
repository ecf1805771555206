// The first onRequest hook: resolve the client address, evaluate the allowlist, refuse with 403.
import type { FastifyInstance } from 'fastify';
import { sendError } from '../errors.js';
import { resolveClientAddress } from './client-ip.js';
import type { Gate } from './gate.js';

export function installGate(app: FastifyInstance, gate: Gate): void {
  const isTrusted = gate.isTrustedProxy.bind(gate);
  app.decorateRequest('client', null);
  app.addHook('onRequest', (req, reply, done) => {
    const socket = req.raw.socket;
    const { ip, viaTrustedProxy } = resolveClientAddress(socket.remoteAddress, req.headers['x-forwarded-for'], isTrusted);
    if (!ip) {
      req.client = { ip: '', origin: '', country: null, allowed: false, viaTrustedProxy, startBytes: socket.bytesWritten };
      sendError(reply, 'FORBIDDEN', 'cannot determine the client address (malformed X-Forwarded-For from a trusted proxy)');
      return;
    }
    const verdict = gate.evaluate(ip);
    req.client = { ip: ip.text, ...verdict, viaTrustedProxy, startBytes: socket.bytesWritten };
    if (!verdict.allowed) {
      sendError(reply, 'FORBIDDEN', `origin ${ip.text} (${verdict.origin || 'unknown'}) not allowed`);
      return;
    }
    done();
  });
}

// The edge: one onRequest hook running gate → security headers → auth, the first code every request meets.
import type { FastifyInstance } from 'fastify';
import { createAuthStep, type AuthStepOptions } from './auth/hooks.js';
import { createGateStep } from './gate/hook.js';
import type { Gate } from './gate/index.js';
import { applySecurityHeaders } from './headers.js';

/**
 * One hook rather than three: each Fastify hook costs on every request, and the steps run in a
 * fixed order anyway. A step that answers (403/401) ends the chain.
 */
export function installEdge(app: FastifyInstance, opts: AuthStepOptions & { gate: Gate }): void {
  const gateStep = createGateStep(opts.gate);
  const authStep = createAuthStep(opts);
  app.decorateRequest('client', null);
  app.decorateRequest('user', null);
  app.addHook('onRequest', (req, reply, done) => {
    if (!gateStep(req, reply)) return;
    applySecurityHeaders(req, reply);
    authStep(req, reply, done);
  });
}

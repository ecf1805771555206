// GET /: a server-rendered status page (version, login state, sign-in buttons) when there is no web UI build.
import type { FastifyInstance } from 'fastify';
import type { AuthProvider } from '../api/index.js';
import { escapeHtml, htmlPage } from './errors.js';
import { htmlHeaders } from './headers.js';

const PROVIDER_LABEL: Record<AuthProvider, string> = { github: 'GitHub', gitlab: 'GitLab' };

export function landingPage(app: FastifyInstance, opts: { version: string; providers: readonly AuthProvider[] }): void {
  app.get('/', { config: { access: 'public' } }, (req, reply) => {
    const parts = [`<h1>caic ${escapeHtml(opts.version)}</h1>`, '<p>Coding agents in containers.</p>'];
    if (opts.providers.length === 0) {
      parts.push('<p>Login is off (no-auth mode): every client that passes the IP allowlist can use this server.</p>');
    } else if (req.user) {
      parts.push(`<p>Signed in as <strong>${escapeHtml(req.user.username)}</strong> (${PROVIDER_LABEL[req.user.provider]}).</p>`);
    } else {
      parts.push('<p>Sign in to continue:</p><p>');
      for (const p of opts.providers) {
        parts.push(`<a class="btn" href="/api/v1/auth/${p}/start">Sign in with ${PROVIDER_LABEL[p]}</a>`);
      }
      parts.push('</p>');
    }
    parts.push('<p><a href="/api/v1/server/config">/api/v1/server/config</a> · <a href="/healthz">/healthz</a></p>');
    return htmlHeaders(reply).header('cache-control', 'no-cache').send(htmlPage('Status', parts.join('\n')));
  });
}

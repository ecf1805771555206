// Serves the built web UI (web/dist): precompressed assets, cache headers, and index.html for the UI's own routes.
import { existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pathOf } from './context.js';
import { htmlHeaders } from './headers.js';

/** web/dist of the package: this module runs as dist/src/http/static.js, three levels below the root. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../web/dist', import.meta.url));

/** Hashed file names never change content, so browsers may keep them forever without asking. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Unhashed files (favicon...) may change with an upgrade: an hour of staleness at most. */
const HOUR = 'public, max-age=3600';
/**
 * The service worker and the manifest are checked on every load: a new build's worker (with its new
 * cache of hashed assets) must replace the old one at once, not an hour later.
 */
const REVALIDATE: Record<string, string> = { 'sw.js': 'text/javascript; charset=utf-8', 'manifest.webmanifest': 'application/manifest+json; charset=utf-8' };

/**
 * Paths the server owns. An unknown path under one of them is a client's mistake and stays a
 * 404: an API client or a webhook sender must never get the UI's HTML with a 200, and a missing
 * hashed asset (an old page asking for a chunk of a previous build) must fail as a 404 rather
 * than run HTML as a script.
 */
const SERVER_PREFIXES = ['/api', '/.well-known', '/webhooks', '/healthz', '/readyz', '/assets'];

/** The directory to serve, or null when it holds no build (no index.html): the status page stays at `/`. */
export function webUiDir(dir: string = DEFAULT_WEB_DIR): string | null {
  const abs = resolve(dir);
  return existsSync(join(abs, 'index.html')) ? abs : null;
}

function isServerPath(path: string): boolean {
  return SERVER_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

/** index.html is what every UI route answers; no-cache so a new build is picked up on the next load. */
function sendIndex(reply: FastifyReply): FastifyReply {
  // 200 explicitly: the not-found handler calls this, and @fastify/static keeps a status already set.
  return reply.code(200).sendFile('index.html');
}

/**
 * The not-found handler's fallback: a GET or HEAD of a path the UI's router may own answers
 * index.html. Returns false (and sends nothing) when the path stays a 404.
 */
export function spaFallback(req: FastifyRequest, reply: FastifyReply): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (isServerPath(pathOf(req.url))) return false;
  sendIndex(reply);
  return true;
}

/**
 * Registers the UI's files under `/` and index.html at `/`. Unknown paths go on to the not-found
 * handler. `connectOrigins`: other origins the UI calls (a standalone voice gateway); `frameSources`:
 * hosts it frames (app previews).
 */
export async function serveWebUi(app: FastifyInstance, dir: string, connectOrigins: readonly string[] = [], frameSources: readonly string[] = []): Promise<void> {
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // One wildcard route rather than one route per file found at startup: a rebuild while the
    // daemon runs (new hashed names) is served without a restart.
    wildcard: true,
    index: false,
    redirect: false,
    // The Vite build writes .br and .gz next to each compressible file; no compression per request.
    preCompressed: true,
    // Our own Cache-Control below, per kind of file.
    cacheControl: false,
    dotfiles: 'ignore',
    setHeaders: (reply, path) => {
      // `path` is the file chosen on disk, possibly the .br/.gz sibling; classify by the original name.
      const name = relative(dir, path).replace(/\.(br|gz)$/, '');
      if (name.endsWith('.html')) htmlHeaders(reply, connectOrigins, frameSources).header('cache-control', 'no-cache');
      else if (Object.hasOwn(REVALIDATE, name)) reply.header('content-type', REVALIDATE[name]).header('cache-control', 'no-cache');
      else reply.header('cache-control', name.startsWith(`assets${sep}`) ? IMMUTABLE : HOUR);
    },
  });
  app.get('/', { config: { access: 'public' } }, (_req, reply) => sendIndex(reply));
}

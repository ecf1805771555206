// Which caic server the command talks to (--server, CAIC_SERVER, else the local daemon) and the
// check that a URL is one it may send tokens to.
import { isLoopbackHost, loadConfig, urlForListen, UserError } from '../config/index.js';

/**
 * The origin of a server URL the user gave. Refuses what is not an http(s) origin, and plain
 * http:// to a host other than this machine unless `insecure`: a bearer token sent in clear over a
 * network is a token given away.
 */
export function checkServerUrl(raw: string, insecure: boolean, what = 'the server URL'): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserError(`${what}: "${raw}" is not a URL (e.g. https://caic.example.com)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UserError(`${what}: ${url.protocol} is not http:// or https://`);
  if (url.username || url.password) throw new UserError(`${what}: no user name or password in the URL`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw new UserError(`${what}: give the server's origin only (${url.origin}), without a path`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol === 'http:' && !isLoopbackHost(host) && !insecure) {
    throw new UserError(`${what}: refusing http:// to ${host}, which is not this machine: tokens would cross the network in clear; use https:// (or --insecure)`);
  }
  return url.origin;
}

/** The server of this invocation: --server, else $CAIC_SERVER, else the local daemon's URL (as `caic --print-url` says). */
export function resolveServer(opts: { server?: string | undefined; insecure: boolean; configDir: string; env: NodeJS.ProcessEnv }): string {
  if (opts.server !== undefined) return checkServerUrl(opts.server, opts.insecure, '--server');
  const fromEnv = opts.env.CAIC_SERVER;
  if (fromEnv) return checkServerUrl(fromEnv, opts.insecure, 'CAIC_SERVER');
  return urlForListen(loadConfig({ configDir: opts.configDir }).listen);
}

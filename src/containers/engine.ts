// Which engine socket caic talks to: [core] runtime and the environment ($DOCKER_HOST, $CONTAINER_HOST)
// resolved to one Docker-compatible endpoint, the way the docker and podman CLIs find theirs.
import { existsSync } from 'node:fs';
import Dockerode from 'dockerode';
import { DockerUnavailableError } from './errors.js';

export type RuntimeChoice = '' | 'docker' | 'podman';

export const DOCKER_SOCKET = '/var/run/docker.sock';
export const PODMAN_ROOT_SOCKET = '/run/podman/podman.sock';
export const PODMAN_FIX = 'start Podman\'s API socket: `systemctl --user enable --now podman.socket` (as root: `systemctl enable --now podman.socket`), or set CONTAINER_HOST';

export interface EngineEndpoint {
  /** `unix:///path` or `tcp://host:port`. */
  url: string;
  /** Where it came from: `DOCKER_HOST`, `CONTAINER_HOST` or `default`. */
  from: 'DOCKER_HOST' | 'CONTAINER_HOST' | 'default';
}

export interface ResolveEnv {
  env: (name: string) => string | undefined;
  uid: number;
  exists?: (path: string) => boolean;
}

/** Podman's own socket for this user: root's, else the one under $XDG_RUNTIME_DIR. */
export function podmanSocket(env: (name: string) => string | undefined, uid: number): string {
  if (uid === 0) return PODMAN_ROOT_SOCKET;
  return `${env('XDG_RUNTIME_DIR') || `/run/user/${uid}`}/podman/podman.sock`;
}

/**
 * The endpoint for a runtime choice. A variable that is set wins (Docker's first for "docker" and
 * "", Podman's first for "podman"); otherwise the default sockets are looked for: Docker's, then
 * Podman's for "". None there: an error naming every path tried and how to start Podman's.
 */
export function resolveEngine(runtime: RuntimeChoice, opts: ResolveEnv): EngineEndpoint {
  const exists = opts.exists ?? existsSync;
  const dockerHost = opts.env('DOCKER_HOST');
  const containerHost = opts.env('CONTAINER_HOST');
  const podman = podmanSocket(opts.env, opts.uid);
  const vars: [EngineEndpoint['from'], string | undefined][] =
    runtime === 'podman' ? [['CONTAINER_HOST', containerHost], ['DOCKER_HOST', dockerHost]] : runtime === 'docker' ? [['DOCKER_HOST', dockerHost]] : [['DOCKER_HOST', dockerHost], ['CONTAINER_HOST', containerHost]];
  for (const [from, url] of vars) if (url) return { url, from };
  const sockets = runtime === 'podman' ? [podman] : runtime === 'docker' ? [DOCKER_SOCKET] : [DOCKER_SOCKET, podman];
  const found = sockets.find((s) => exists(s));
  if (found) return { url: `unix://${found}`, from: 'default' };
  // Docker's socket missing is the daemon's usual "not reachable, retrying" (Docker may come up later).
  if (runtime !== 'podman') return { url: `unix://${DOCKER_SOCKET}`, from: 'default' };
  throw new DockerUnavailableError(`no Podman socket at ${sockets.join(' or ')} and CONTAINER_HOST/DOCKER_HOST are not set; ${PODMAN_FIX}`);
}

/** A client for the endpoint: unix:// and tcp:// (plain HTTP, as docker and podman mean it). */
export function engineClient(endpoint: EngineEndpoint): Dockerode {
  const { url, from } = endpoint;
  if (url.startsWith('unix://')) {
    // host cleared: docker-modem would otherwise let the process's DOCKER_HOST win over socketPath.
    return new Dockerode({ socketPath: url.slice('unix://'.length), host: undefined, port: undefined, protocol: 'http' } as unknown as Dockerode.DockerOptions);
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DockerUnavailableError(`${from}="${url}" is not a URL (expected unix:///path/to/socket or tcp://host:port)`);
  }
  if (u.protocol === 'tcp:' && u.hostname && u.port) return new Dockerode({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port), protocol: 'http' });
  throw new DockerUnavailableError(`${from}="${url}": caic reaches an engine through unix:///path/to/socket or tcp://host:port (forward a remote engine's socket with ssh -L)`);
}

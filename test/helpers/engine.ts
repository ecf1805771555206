// The container engine the tests run on, chosen by CAIC_TEST_ENGINE: Docker (the default), or
// Podman's Docker-compatible socket run as root (`podman`) or as a user (`podman-rootless`).
// Every test reaches the engine through here, so a suite runs unchanged on each.
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import Dockerode from 'dockerode';
import { DockerRuntime } from '../../src/containers/index.js';

export type TestEngine = 'docker' | 'podman' | 'podman-rootless';

const ENGINES: readonly TestEngine[] = ['docker', 'podman', 'podman-rootless'];

function chosen(): TestEngine {
  const v = process.env.CAIC_TEST_ENGINE ?? 'docker';
  if (!(ENGINES as readonly string[]).includes(v)) throw new Error(`CAIC_TEST_ENGINE="${v}": expected one of ${ENGINES.join(', ')}`);
  return v as TestEngine;
}

export const TEST_ENGINE = chosen();
export const ON_PODMAN = TEST_ENGINE !== 'docker';
export const ROOTLESS = TEST_ENGINE === 'podman-rootless';
/**
 * Rootless Podman on a cgroup v1 host drops CPU, memory and pids limits (the user owns no cgroup),
 * and its stats are the host's: what needs limits cannot hold there.
 */
export const NO_LIMITS = ROOTLESS && !existsSync('/sys/fs/cgroup/cgroup.controllers');

/** The sockets .ci/podman.sh starts its services on (each may be moved by its variable). */
export const ENGINE_SOCKET: string = {
  docker: '/var/run/docker.sock',
  podman: process.env.CAIC_TEST_PODMAN_SOCKET ?? '/run/caic-podman/podman.sock',
  'podman-rootless': process.env.CAIC_TEST_PODMAN_ROOTLESS_SOCKET ?? '/run/caic-podman-rootless/podman/podman.sock',
}[TEST_ENGINE];

/** The engine on its socket (never through a DOCKER_HOST a test points elsewhere). */
export function engineDocker(): Dockerode {
  // docker-modem lets DOCKER_HOST's host win over an explicit socket path unless host is cleared.
  return new Dockerode({ socketPath: ENGINE_SOCKET, host: undefined, port: undefined, protocol: 'http' } as unknown as Dockerode.DockerOptions);
}

/**
 * A runtime on the engine under test, sharing a daemon's config dir (its SSH key): what a test uses
 * to reach a task's container. Never `DockerRuntime.open` alone, which finds Docker's socket first.
 */
export function engineRuntime(configDir: string): Promise<DockerRuntime> {
  return DockerRuntime.open({ configDir, docker: engineDocker() });
}

/** The environment a daemon under test finds its engine with ([core] runtime "" honours both). */
export function engineEnv(): Record<string, string> {
  return ON_PODMAN ? { CONTAINER_HOST: `unix://${ENGINE_SOCKET}` } : { DOCKER_HOST: `unix://${ENGINE_SOCKET}` };
}

/**
 * For a test's `skip` option: the reason it cannot hold on this engine (printed by the runner), or
 * false. Name the engines and say why.
 */
export function unsupportedOn(engines: readonly TestEngine[], reason: string): string | false {
  return engines.includes(TEST_ENGINE) ? `not on ${TEST_ENGINE}: ${reason}` : false;
}

/** The `docker` CLI against the engine under test (it speaks to Podman's socket just as well). */
export function dockerCli(args: string[], opts: ExecFileSyncOptions = {}): string {
  const out = execFileSync('docker', args, { ...opts, encoding: 'utf8', env: { ...process.env, DOCKER_HOST: `unix://${ENGINE_SOCKET}` } });
  return typeof out === 'string' ? out : '';
}

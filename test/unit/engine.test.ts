// Finding the engine: [core] runtime and the environment to one socket, and Podman's rootless mode.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEngine } from '../../src/containers/docker.js';
import { DockerUnavailableError, engineClient, isRootlessPodman, normalizeImageRef, resolveEngine, type RuntimeChoice } from '../../src/containers/index.js';

const env = (vars: Record<string, string>) => (name: string) => vars[name];
const only = (...paths: string[]) => (p: string) => paths.includes(p);

test('a variable that is set wins: Docker\'s first, Podman\'s first with runtime "podman"', () => {
  const both = env({ DOCKER_HOST: 'unix:///d.sock', CONTAINER_HOST: 'unix:///p.sock' });
  const r = (runtime: RuntimeChoice, e = both) => resolveEngine(runtime, { env: e, uid: 1000, exists: () => true });
  assert.deepEqual(r(''), { url: 'unix:///d.sock', from: 'DOCKER_HOST' });
  assert.deepEqual(r('docker'), { url: 'unix:///d.sock', from: 'DOCKER_HOST' });
  assert.deepEqual(r('podman'), { url: 'unix:///p.sock', from: 'CONTAINER_HOST' });
  assert.deepEqual(r('', env({ CONTAINER_HOST: 'unix:///p.sock' })), { url: 'unix:///p.sock', from: 'CONTAINER_HOST' });
  assert.deepEqual(r('podman', env({ DOCKER_HOST: 'tcp://127.0.0.1:2375' })), { url: 'tcp://127.0.0.1:2375', from: 'DOCKER_HOST' });
  // Podman's variable does not redirect a daemon told to use Docker.
  assert.deepEqual(r('docker', env({ CONTAINER_HOST: 'unix:///p.sock' })), { url: 'unix:///var/run/docker.sock', from: 'default' });
});

test('default sockets: Docker, then Podman; root\'s Podman socket, a user\'s under XDG_RUNTIME_DIR', () => {
  const none = env({});
  const xdg = env({ XDG_RUNTIME_DIR: '/run/user/1001' });
  assert.equal(resolveEngine('', { env: none, uid: 0, exists: only('/var/run/docker.sock', '/run/podman/podman.sock') }).url, 'unix:///var/run/docker.sock');
  assert.equal(resolveEngine('', { env: none, uid: 0, exists: only('/run/podman/podman.sock') }).url, 'unix:///run/podman/podman.sock');
  assert.equal(resolveEngine('podman', { env: xdg, uid: 1001, exists: only('/run/user/1001/podman/podman.sock') }).url, 'unix:///run/user/1001/podman/podman.sock');
  assert.equal(resolveEngine('', { env: xdg, uid: 1001, exists: only('/run/user/1001/podman/podman.sock') }).url, 'unix:///run/user/1001/podman/podman.sock');
  // No XDG_RUNTIME_DIR: where logind would have made it.
  assert.equal(resolveEngine('podman', { env: none, uid: 1002, exists: only('/run/user/1002/podman/podman.sock') }).url, 'unix:///run/user/1002/podman/podman.sock');
  // Nothing anywhere: Docker's socket, so the daemon says Docker is not reachable and keeps trying.
  assert.equal(resolveEngine('', { env: none, uid: 1001, exists: () => false }).url, 'unix:///var/run/docker.sock');
});

test('runtime "podman" with no socket: an error naming the paths tried and the fix', () => {
  const attempt = (uid: number, vars: Record<string, string>) => () => resolveEngine('podman', { env: env(vars), uid, exists: () => false });
  assert.throws(attempt(1001, { XDG_RUNTIME_DIR: '/run/user/1001' }), (err: Error) => {
    assert.ok(err instanceof DockerUnavailableError);
    assert.match(err.message, /no Podman socket at \/run\/user\/1001\/podman\/podman\.sock/);
    assert.match(err.message, /systemctl --user enable --now podman\.socket/);
    return true;
  });
  assert.throws(attempt(0, {}), /no Podman socket at \/run\/podman\/podman\.sock.*systemctl enable --now podman\.socket/);
});

test('engine clients: unix sockets and plain tcp; anything else is refused with the reason', () => {
  assert.equal(describeEngine(engineClient({ url: 'unix:///run/caic/podman.sock', from: 'CONTAINER_HOST' })), '/run/caic/podman.sock');
  assert.equal(describeEngine(engineClient({ url: 'tcp://127.0.0.1:2375', from: 'DOCKER_HOST' })), 'http://127.0.0.1:2375');
  assert.throws(() => engineClient({ url: 'ssh://core@host/run/podman/podman.sock', from: 'CONTAINER_HOST' }), /CONTAINER_HOST="ssh:\/\/core@host\/run\/podman\/podman\.sock": caic reaches an engine through unix/);
  assert.throws(() => engineClient({ url: 'not a url', from: 'DOCKER_HOST' }), /DOCKER_HOST="not a url" is not a URL/);
});

test('rootless Podman: from its /info (Rootless), as Podman 4 says it; Docker rootless is not Podman', () => {
  const podman = { Components: [{ Name: 'Podman Engine', Version: '4.3.1' }] } as Parameters<typeof isRootlessPodman>[0];
  const docker = { Components: [{ Name: 'Engine', Version: '20.10.24' }] } as Parameters<typeof isRootlessPodman>[0];
  assert.equal(isRootlessPodman(podman, { SecurityOptions: ['name=seccomp,profile=default'], Rootless: true }), true);
  assert.equal(isRootlessPodman(podman, { SecurityOptions: ['name=seccomp,profile=default'], Rootless: false }), false);
  assert.equal(isRootlessPodman(podman, { SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'] }), true);
  assert.equal(isRootlessPodman(docker, { SecurityOptions: ['name=rootless'] }), false);
});

test("Podman's image names are the configured ones: docker.io/library/ and localhost/ dropped", () => {
  assert.equal(normalizeImageRef('docker.io/library/caic-agent:latest'), 'caic-agent:latest');
  assert.equal(normalizeImageRef('localhost/caic-agent-claude:latest'), 'caic-agent-claude:latest');
  assert.equal(normalizeImageRef('localhost/caic-base:bookworm'), 'caic-base:bookworm');
  assert.equal(normalizeImageRef('caic-agent'), 'caic-agent:latest');
  assert.equal(normalizeImageRef('registry.example.com:5000/team/caic-agent'), 'registry.example.com:5000/team/caic-agent:latest');
});

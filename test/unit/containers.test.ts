// Pure parts of the container layer: create options, names, labels, env file, secrets, numstat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Dockerode from 'dockerode';
import { describeEngine } from '../../src/containers/docker.js';
import {
  BASE_CAPABILITIES,
  buildCreateOptions,
  containerName,
  decodeLabels,
  defaultCpus,
  encodeLabels,
  fingerprint,
  generateSudoPassword,
  parseNumstat,
  renderEnvFile,
  sanitizeName,
  SUDO_CAPABILITIES,
} from '../../src/containers/index.js';

type HostConfig = Record<string, unknown> & { PortBindings: Record<string, { HostIp: string; HostPort: string }[]> };

test('create options: hardened profile, with and without sudo', () => {
  const cases = [
    { sudo: false, caps: [...BASE_CAPABILITIES], secopt: ['no-new-privileges:true'] },
    { sudo: true, caps: [...BASE_CAPABILITIES, ...SUDO_CAPABILITIES].sort(), secopt: [] },
  ];
  for (const c of cases) {
    const o = buildCreateOptions({ name: 'caic-r-b', image: 'img', labels: { caic: 't1' }, sudo: c.sudo, cpus: 3, memoryBytes: 1 << 30, pidsLimit: 100 });
    const hc = o._body.HostConfig as HostConfig;
    assert.deepEqual(o._query, { name: 'caic-r-b' }, 'name only in the query');
    assert.deepEqual(hc.CapDrop, ['ALL']);
    assert.deepEqual(hc.CapAdd, c.caps);
    assert.deepEqual(hc.SecurityOpt, c.secopt, 'default seccomp: no seccomp=unconfined');
    assert.deepEqual(hc.PortBindings, { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    assert.equal(hc.Privileged, false);
    assert.equal(hc.NetworkMode, 'bridge');
    assert.equal(hc.IpcMode, 'private');
    assert.equal(hc.PidMode, undefined);
    assert.equal(hc.Binds, undefined);
    assert.equal(hc.Mounts, undefined);
    assert.equal(hc.Init, true);
    // sshd binds port 22 with no NET_BIND_SERVICE on every engine (Podman does not set this itself).
    assert.deepEqual(hc.Sysctls, { 'net.ipv4.ip_unprivileged_port_start': '0' });
    assert.equal(hc.PidsLimit, 100);
    assert.equal(hc.NanoCpus, 3e9);
    assert.equal(hc.Memory, 1 << 30);
    assert.equal(hc.MemorySwap, 1 << 30);
    assert.deepEqual(o._body.Env, []);
    assert.deepEqual(o._body.Labels, { caic: 't1' });
    assert.doesNotMatch(JSON.stringify(o), /docker\.sock|unconfined|"host"/);
  }
  const defaults = buildCreateOptions({ name: 'n', image: 'i', labels: {}, sudo: false });
  assert.equal(defaults._body.HostConfig.NanoCpus, defaultCpus() * 1e9);
  assert.equal(defaults._body.HostConfig.Memory, undefined);
  assert.equal(defaultCpus(2), 2);
  assert.equal(defaultCpus(16), 14);
});

test('names are sanitised and derived from repo and branch', () => {
  assert.equal(containerName('caic', 'feature/foo', 't1'), 'caic-caic-feature-foo');
  assert.equal(containerName('My Repo!', 'caic-12', 't1'), 'caic-My-Repo-caic-12');
  assert.equal(containerName(undefined, undefined, '01JABC'), 'caic-task-01JABC');
  assert.equal(sanitizeName('..//__weird..name--'), 'weird-name');
  assert.equal(sanitizeName('ü@#'), 'unnamed');
  assert.ok(containerName('r'.repeat(200), 'b', 't').length <= 100);
});

test('labels round-trip; foreign containers decode to null', () => {
  const set = {
    taskId: 't9',
    harness: 'claude',
    repos: [{ name: 'caic', branch: 'caic-3', baseBranch: 'main' }],
    sudo: true,
    sudoPassword: 'pw',
    hostKeyFingerprint: 'SHA256:abc',
  };
  const labels = encodeLabels(set);
  assert.equal(labels['caic.sudo-password'], 'pw');
  assert.deepEqual(decodeLabels(labels), set);
  const noSudo = encodeLabels({ ...set, sudo: false });
  assert.equal(noSudo['caic.sudo-password'], undefined, 'no password label without sudo');
  assert.equal(decodeLabels({ other: 'x' }), null);
  assert.deepEqual(decodeLabels({ ...labels, 'caic.repos': 'not base64 json' })?.repos, []);
});

test('env file: quoted values, validated names', () => {
  assert.equal(renderEnvFile({}), '');
  const text = renderEnvFile({ GITHUB_TOKEN: "ghp_x'y", EMPTY: '', MULTI: 'a\nb $HOME `x`' });
  assert.match(text, /^GITHUB_TOKEN='ghp_x'\\''y'$/m);
  assert.match(text, /^EMPTY=''$/m);
  assert.ok(text.includes("MULTI='a\nb $HOME `x`'"));
  for (const bad of ['1X', 'A-B', 'A B', '', 'X;rm']) assert.throws(() => renderEnvFile({ [bad]: 'v' }), /invalid environment variable name/);
  assert.throws(() => renderEnvFile({ A: 'a\0b' }), /NUL/);
});

test('sudo passwords: long enough, base62, different every time', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const pw = generateSudoPassword();
    assert.match(pw, /^[A-Za-z0-9]{24}$/);
    seen.add(pw);
  }
  assert.equal(seen.size, 200);
});

test('fingerprints match ssh-keygen format', () => {
  // ssh-keygen -lf of this key prints SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU.
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl comment';
  assert.equal(fingerprint(key), 'SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU');
});

test('numstat parsing: text, binary, tabs in names', () => {
  assert.deepEqual(parseNumstat('3\t1\ta.txt\n-\t-\timg.png\n0\t2\tdir/with\ttab\n'), [
    { path: 'a.txt', added: 3, deleted: 1, binary: false },
    { path: 'img.png', added: 0, deleted: 0, binary: true },
    { path: 'dir/with\ttab', added: 0, deleted: 2, binary: false },
  ]);
  assert.deepEqual(parseNumstat(''), []);
  // Git quotes unusual names (core.quotePath): the entries carry the real ones.
  assert.deepEqual(parseNumstat('1\t0\t"caf\\303\\251 \\"x\\".txt"\n'), [{ path: 'café "x".txt', added: 1, deleted: 0, binary: false }]);
});

test('the engine is named by its socket or URL, never by the source of docker-modem default function', () => {
  const saved = process.env.DOCKER_HOST;
  try {
    delete process.env.DOCKER_HOST;
    const where = describeEngine(new Dockerode());
    assert.doesNotMatch(where, /function|=>|\{/);
    assert.match(where, /docker\.sock/);
    assert.equal(describeEngine(new Dockerode({ socketPath: '/run/x.sock' })), '/run/x.sock');
    assert.equal(describeEngine(new Dockerode({ host: '127.0.0.1', port: 2375, protocol: 'http' })), 'http://127.0.0.1:2375');
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  }
});

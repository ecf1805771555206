// Network egress inside real containers: the packet filter, the proxy and the traps of
// images/agent/entrypoint.sh, tried from the agent's side (uid 1000 over SSH) against two servers on
// a Docker network of the test's own: one allowed, one not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type Dockerode from 'dockerode';
import type { EgressBlocked, EventMessage, Task } from '../../src/api/index.js';
import { BASE_CAPABILITIES, buildTar, DEFAULT_IMAGE, EGRESS_CAPABILITIES, EGRESS_LABEL, type ContainerHandle } from '../../src/containers/index.js';
import { follow } from '../../src/containers/images.js';
import { RUN_LABEL, testRuntime, type TestRuntime } from '../helpers/containers.js';
import { ROOTLESS } from '../helpers/engine.js';
import { taskEnv } from '../helpers/task-env.js';
import { waitUntil } from '../helpers/wait.js';

const IMAGE = DEFAULT_IMAGE;

/** A test server: HTTP on 8080 and 8081 (both families), a DNS-ish UDP listener on 53; every hit is logged. */
const SERVER = `
const http = require('http'), dgram = require('dgram');
for (const port of [8080, 8081]) http.createServer((req, res) => { console.log('hit ' + port + ' ' + req.url); res.end('hello from ' + process.env.NAME + ' on ' + port + '\\n'); }).listen(port, '::');
for (const type of ['udp4', 'udp6']) { const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' }); s.on('message', (m, r) => { console.log('dns ' + m.length); s.send(m, r.port, r.address); }); s.bind(53); }
console.log('listening');
`;

/** What the agent runs: a direct connection, a CONNECT through the proxy, a DNS query to a resolver of its choosing. */
const PROBE = `
import net from 'node:net'; import dgram from 'node:dgram';
const [mode, host, port] = process.argv.slice(2);
const done = (s) => { console.log(s); process.exit(0); };
setTimeout(() => done('timeout'), 5000);
if (mode === 'direct') {
  const s = net.connect({ host, port: Number(port) }, () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));
  let got = ''; s.on('data', (d) => (got += d)); s.on('end', () => done(got.split('\\n').filter(Boolean).pop() || 'closed'));
  s.on('error', (e) => done('error ' + e.code));
} else if (mode === 'proxy') {
  const p = new URL(process.env.HTTPS_PROXY);
  const s = net.connect({ host: p.hostname, port: Number(p.port) }, () => s.write('CONNECT ' + host + ':' + port + ' HTTP/1.1\\r\\nHost: ' + host + '\\r\\n\\r\\n'));
  let got = ''; let sent = false;
  s.on('data', (d) => { got += d; if (!sent && got.startsWith('HTTP/1.1 200')) { sent = true; got = ''; s.write('GET / HTTP/1.0\\r\\n\\r\\n'); } else if (!sent) done(got.split('\\r\\n')[0]); });
  s.on('end', () => done(got.split('\\n').filter(Boolean).pop() || 'closed'));
  s.on('error', (e) => done('error ' + e.code));
} else if (mode === 'dns') {
  const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const q = Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...port.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
  s.on('message', (m) => done('answer rcode ' + (m[3] & 15)));
  s.on('error', (e) => done('error ' + e.code));
  s.send(q, 53, host);
}
`;

const PROBE_PATH = '/tmp/probe.mjs';
/** Linux capabilities by bit (linux/capability.h). */
const CAP_NAMES = ['CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF', 'CHECKPOINT_RESTORE'];
const NET_ADMIN_BIT = 12n;

describe('network egress in real containers', () => {
  let t: TestRuntime;
  let network: Dockerode.Network;
  let netName: string;
  let noNftImage = '';
  const servers: Record<'allowed' | 'blocked', { name: string; v4: string; v6: string; container: Dockerode.Container }> = {} as never;

  const hits = async (which: 'allowed' | 'blocked') => (await servers[which].container.logs({ stdout: true, stderr: true })).toString('latin1');
  const probe = async (h: ContainerHandle, ...args: string[]) => {
    const r = await t.rt.exec(h, `node ${PROBE_PATH} "$@"`, { args });
    return r.stdout.trim();
  };
  /**
   * The container's capabilities as the kernel holds them (its init's bounding set), by name: not
   * the engine's inspect, whose CapAdd is what was asked on Docker but what differs from its own
   * default set on Podman.
   */
  const containerCaps = async (h: ContainerHandle) => {
    const bnd = (await t.rt.exec(h, "awk '/^CapBnd:/ { print $2 }' /proc/1/status")).stdout.trim();
    assert.match(bnd, /^[0-9a-f]{16}$/);
    return CAP_NAMES.filter((_, bit) => (BigInt(`0x${bnd}`) >> BigInt(bit)) & 1n)
      .concat(BigInt(`0x${bnd}`) >> BigInt(CAP_NAMES.length) ? ['(bits beyond CHECKPOINT_RESTORE)'] : [])
      .sort();
  };
  /**
   * The probe in place, and the proxy up: sshd answers while the proxy still starts (the agent's
   * boot relay waits for it, as this does; a command over SSH in the first moments may not).
   */
  const withProbe = async (h: ContainerHandle) => {
    await t.rt.writeFile(h, PROBE_PATH, PROBE, 0o644);
    await waitUntil(() => t.rt.exec(h, 'test ! -e /etc/caic-proxy.sh || test -f /run/caic-egress/ready'), (r) => r.code === 0, { what: 'the egress proxy up' });
    return h;
  };

  before(async () => {
    t = await testRuntime();
    netName = `caic-egress-test-${t.runId}`;
    const sub = randomBytes(2).toString('hex');
    network = await t.docker.createNetwork({
      Name: netName,
      Labels: { [RUN_LABEL]: t.runId },
      EnableIPv6: true,
      IPAM: { Config: [{ Subnet: `fd00:ca1c:${sub}::/64` }] },
    });
    for (const which of ['allowed', 'blocked'] as const) {
      const name = `caic-egress-${which}-${t.runId}`;
      const container = await t.docker.createContainer({
        name,
        Image: IMAGE,
        Entrypoint: ['node', '-e', SERVER],
        Env: [`NAME=${which}`],
        Labels: { [RUN_LABEL]: t.runId },
        HostConfig: { NetworkMode: netName },
      });
      await container.start();
      await waitUntil(() => container.logs({ stdout: true }).then((b) => b.toString()), (s) => s.includes('listening'), { what: `${which} server up` });
      const info = await container.inspect();
      const ep = info.NetworkSettings.Networks[netName]!;
      servers[which] = { name, v4: ep.IPAddress, v6: ep.GlobalIPv6Address, container };
    }
    assert.ok(servers.blocked.v6, 'the test network gives IPv6 addresses');
    noNftImage = `caic-egress-no-nft:${t.runId}`;
    // An nft that refuses every table, as one without the kernel's support would (COPY, not RUN:
    // rootless Podman runs no build steps here).
    const tar = await buildTar([
      { path: 'Dockerfile', content: `FROM ${IMAGE}\nCOPY nft /usr/sbin/nft\n`, mode: 0o644 },
      { path: 'nft', content: '#!/bin/sh\necho "nft: this kernel has no nf_tables" >&2\nexit 1\n', mode: 0o755 },
    ]);
    await follow(t.docker, await t.docker.buildImage(tar as unknown as NodeJS.ReadableStream, { t: noNftImage, labels: { [RUN_LABEL]: t.runId } }), () => {});
  });

  after(async () => {
    await t[Symbol.asyncDispose]();
    if (noNftImage) await t.docker.getImage(noNftImage).remove({ force: true }).catch(() => undefined);
    await network?.remove().catch(() => undefined);
  });

  // The filter goes in with nft; where nft fails or is missing (a base made before nftables joined)
  // the same filter goes in from iptables. Both are held to every check.
  for (const filter of ['nft', 'iptables'] as const) {
    test(`allowlist (filter by ${filter}): the allowed server by name through the proxy, nothing else by any way`, async () => {
      const h = await withProbe(await t.launch({ image: filter === 'nft' ? IMAGE : noNftImage, network: netName, egress: { mode: 'allowlist', allow: [`${servers.allowed.name}:8080`] } }));
      assert.equal((await t.rt.exec(h, 'cat /run/caic-egress/filter')).stdout.trim(), filter);
      assert.deepEqual(await containerCaps(h), [...BASE_CAPABILITIES, ...EGRESS_CAPABILITIES].sort());

      // The agent's environment points at the proxy; a real client that honours it (git's libcurl) gets through.
      assert.equal((await t.rt.exec(h, 'echo "$HTTPS_PROXY $http_proxy"')).stdout.trim(), 'http://127.0.0.1:51080 http://127.0.0.1:51080');
      const git = await t.rt.exec(h, `git ls-remote http://${servers.allowed.name}:8080/repo.git`);
      assert.notEqual(git.code, 0, 'not a git server');
      // The engine's log of the server lags a little behind its output.
      await waitUntil(() => hits('allowed'), (log) => /hit 8080 \/repo\.git\/info\/refs/.test(log), { what: 'the allowed server seeing git' });
      assert.equal(await probe(h, 'proxy', servers.allowed.name, '8080'), 'hello from allowed on 8080');

      // Refused: the other server by name, the allowed one on another port, IP literals, IPv6.
      assert.equal(await probe(h, 'proxy', servers.blocked.name, '8080'), 'HTTP/1.1 403 Forbidden');
      assert.equal(await probe(h, 'proxy', servers.allowed.name, '8081'), 'HTTP/1.1 403 Forbidden');
      assert.equal(await probe(h, 'proxy', servers.blocked.v4, '8080'), 'HTTP/1.1 403 Forbidden');
      assert.equal(await probe(h, 'proxy', `[${servers.blocked.v6}]`, '8080'), 'HTTP/1.1 403 Forbidden');
      const viaGit = await t.rt.exec(h, `git ls-remote http://${servers.blocked.name}:8080/repo.git`);
      assert.match(viaGit.stderr, /403/);
      // Around the proxy: straight to the addresses (even the allowed server's), v4 and v6.
      for (const [host, port] of [[servers.blocked.v4, '8080'], [servers.allowed.v4, '8080'], [servers.blocked.v6, '8080'], [servers.blocked.v4, '8081']] as const) {
        assert.match(await probe(h, 'direct', host, port), /^error (ECONNRESET|ECONNREFUSED)$/, `direct ${host}:${port}`);
      }
      // DNS: its own resolver (the blocked server, v4 and v6) and the container's own (names do not resolve outside the proxy).
      assert.equal(await probe(h, 'dns', servers.blocked.v4, 'exfil.example'), 'answer rcode 5');
      assert.equal(await probe(h, 'dns', servers.blocked.v6, 'exfil6.example'), 'answer rcode 5');
      assert.notEqual((await t.rt.exec(h, `getent hosts ${servers.blocked.name}`)).code, 0);
      const blockedLog = await hits('blocked');
      assert.doesNotMatch(blockedLog, /hit|dns/, 'the blocked server saw nothing');
      assert.doesNotMatch(await hits('allowed'), /hit 8081/);

      // The table of refusals, as the daemon reads it.
      const table = await waitUntil(
        async () => JSON.parse((await t.rt.exec(h, 'cat /run/caic-egress/blocked.json')).stdout) as { blocked: { host: string; port: number; count: number; lastAt: string }[] },
        (v) => v.blocked.some((b) => b.host === servers.blocked.name && b.port === 0),
        { what: 'the blocked table' },
      );
      const count = (host: string, port: number) => table.blocked.find((b) => b.host === host && b.port === port)?.count ?? 0;
      assert.equal(count(servers.blocked.name, 8080), 2, 'CONNECT and git');
      assert.equal(count(servers.allowed.name, 8081), 1);
      assert.equal(count(servers.blocked.v4, 8080), 2, 'through the proxy and directly');
      assert.equal(count(servers.allowed.v4, 8080), 1, 'direct, trapped');
      assert.equal(count(servers.blocked.v6, 8080), 2);
      assert.equal(count(servers.blocked.v4, 8081), 1);
      assert.equal(count('exfil.example', 0), 1);
      assert.ok(count(servers.blocked.name, 0) >= 1, 'the container resolver lookup');

      // The policy cannot be lifted: no process the user can see holds NET_ADMIN, even in its bounding set.
      const caps = await t.rt.exec(h, `for f in /proc/[0-9]*/status; do awk -v f="$f" '/^(Name|Uid|CapBnd|CapEff|CapPrm):/ { printf "%s ", $2 } END { print f }' "$f" 2>/dev/null; done`);
      const procs = caps.stdout.trim().split('\n').map((l) => l.split(' '));
      assert.ok(procs.some(([name]) => name === 'perl') && procs.some(([name]) => name === 'sshd'), caps.stdout);
      for (const [name, uid, prm, eff, bnd, file] of procs) {
        if (file === '/proc/1/status') continue; // docker-init, the engine's, outside the agent's reach
        for (const set of [prm!, eff!, bnd!]) assert.equal((BigInt(`0x${set}`) >> NET_ADMIN_BIT) & 1n, 0n, `${name} (uid ${uid}, ${file}) holds NET_ADMIN`);
      }
      for (const lift of ['iptables -F', 'ip6tables -F', 'iptables -t nat -F', 'nft flush ruleset', 'nft delete table inet caic_egress']) {
        assert.notEqual((await t.rt.exec(h, lift)).code, 0, lift);
      }
      assert.equal(await probe(h, 'direct', servers.blocked.v4, '8080'), 'error ECONNRESET', 'still filtered');
    });
  }

  test('none: nothing leaves, SSH still works', async () => {
    const h = await withProbe(await t.launch({ image: IMAGE, network: netName, egress: { mode: 'none', allow: [`${servers.allowed.name}:8080`] } }));
    assert.equal((await t.rt.exec(h, 'id -u')).stdout.trim(), '1000');
    assert.equal((await t.rt.exec(h, 'cat /run/caic-egress/filter')).stdout.trim(), 'nft');
    assert.equal(await probe(h, 'proxy', servers.allowed.name, '8080'), 'HTTP/1.1 403 Forbidden');
    assert.match(await probe(h, 'direct', servers.allowed.v4, '8080'), /^error ECONNRESET$/);
    assert.equal(await probe(h, 'dns', servers.allowed.v4, 'a.example'), 'answer rcode 5');
    // A stopped and revived container gets a new network namespace: the entrypoint puts the filter
    // and the proxy in place again, and the table keeps counting.
    await t.rt.stop(h);
    const again = await withProbe(await t.rt.revive(h));
    assert.match(await probe(again, 'direct', servers.allowed.v4, '8080'), /^error ECONNRESET$/);
    const table = await waitUntil(
      async () => JSON.parse((await t.rt.exec(again, 'cat /run/caic-egress/blocked.json')).stdout) as { blocked: { host: string; port: number; count: number }[] },
      (v) => v.blocked.find((b) => b.host === servers.allowed.v4 && b.port === 8080)?.count === 2,
      { what: 'the count of both starts' },
    );
    assert.ok(table.blocked.some((b) => b.host === servers.allowed.name && b.port === 8080), table.blocked.map((b) => `${b.host}:${b.port}`).join(' '));
  });

  test('open: as before (no filter, no proxy, no added capability)', async () => {
    const h = await withProbe(await t.launch({ image: IMAGE, network: netName, egress: { mode: 'open', allow: [] } }));
    assert.deepEqual(await containerCaps(h), [...BASE_CAPABILITIES].sort());
    assert.equal((await t.rt.exec(h, 'echo "[$HTTPS_PROXY]"; test -e /run/caic-egress && echo proxy')).stdout.trim(), '[]');
    assert.equal(await probe(h, 'direct', servers.blocked.v4, '8081'), 'hello from blocked on 8081');
    assert.equal(await probe(h, 'dns', servers.blocked.v4, 'a.example'), 'answer rcode 0');
  });

  test('an image whose entrypoint predates egress policies is refused for one (the task would run unfiltered)', async () => {
    const tag = `caic-egress-old:${t.runId}`;
    const tar = await buildTar([{ path: 'Dockerfile', content: `FROM ${IMAGE}\nLABEL ${EGRESS_LABEL}=""\n`, mode: 0o644 }]);
    await follow(t.docker, await t.docker.buildImage(tar as unknown as NodeJS.ReadableStream, { t: tag, labels: { [RUN_LABEL]: t.runId } }), () => {});
    try {
      await assert.rejects(t.launch({ image: tag, network: netName, egress: { mode: 'none', allow: [] } }), /cannot enforce an egress policy/);
      assert.deepEqual(await t.docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${t.runId}`], ancestor: [tag] } }), [], 'no container left');
      // Open tasks run on it as before.
      const h = await t.launch({ image: tag, network: netName });
      assert.equal((await t.rt.exec(h, 'id -u')).stdout.trim(), '1000');
      await t.rt.purge(h);
    } finally {
      await t.docker.getImage(tag).remove({ force: true }).catch(() => undefined);
    }
  });

  test('through the API: validation, sudo refused, the policy on the task, refusals as egress events', async () => {
    await using env = await taskEnv({ image: IMAGE, network: netName, extraConfig: '[egress]\nmode = "none"\npoll_interval = "200ms"\n[limits]\nstats_interval = "0"\ngc_interval = "0"\n' });
    const bad = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'x' }, egress: { mode: 'allowlist', allow: ['not a host!'] } });
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.body, /egress/);
    const sudo = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'x' }, sudo: true });
    assert.equal(sudo.status, 400, sudo.body);
    assert.match(sudo.body, /sudo cannot have an egress policy \(none\)/);
    const open = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'x' }, sudo: true, egress: { mode: 'open' } });
    // The web UI offers the sudo toggle only where the engine can give it.
    const caps = (await env.api('GET', '/api/v1/server/config')).json<{ capabilities: { sudoAvailable: boolean } }>().capabilities;
    assert.equal(caps.sudoAvailable, !ROOTLESS, 'sudoAvailable says what the engine gives');
    if (ROOTLESS) {
      // No sudo at all there: refused for what the engine cannot give, after the policy's own check.
      assert.equal(open.status, 400, open.body);
      assert.match(open.body, /sudo is not available with rootless Podman/);
    } else {
      assert.equal(open.status, 200, open.body);
      assert.deepEqual(open.json<Task>().egress, { mode: 'open', allow: [] });
    }

    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' }, egress: { mode: 'allowlist', allow: [`${servers.allowed.name}:8080`, '@registries'] } });
    assert.equal(task.egress.mode, 'allowlist');
    assert.equal(task.egress.allow[0], `${servers.allowed.name}:8080`);
    assert.ok(task.egress.allow.includes('registry.npmjs.org') && !task.egress.allow.includes('@registries'), 'presets expanded');
    const stream = env.stream(task.id);
    await env.waitState(task.id, 'waiting');
    // The config's default (none) for a task that does not choose.
    const plain = await env.create({ harness: 'fake', prompt: { text: 'x' }, repos: [{ name: 'proj' }] });
    assert.deepEqual(plain.egress, { mode: 'none', allow: [] });
    // Up before the test ends: a launch still under way when the environment goes would create its
    // container after the environment's clean-up (each CI run left one behind).
    await env.waitState(plain.id, 'waiting');
    if (!ROOTLESS) await env.waitState(open.json<Task>().id, 'waiting');

    // docker exec is no login: the environment the agent gets over SSH comes from /etc/caic-env.sh.
    const r = await env.execIn(task.id, `. /etc/caic-env.sh; git ls-remote http://${servers.blocked.name}:8080/x.git; git ls-remote http://${servers.blocked.name}:8080/y.git`, 'user');
    assert.notEqual(r.code, 0);
    const egress = () => stream.messages<EventMessage>().filter((e): e is Extract<EventMessage, { kind: 'egress' }> => e.kind === 'egress');
    const row = (b: EgressBlocked[]) => b.find((x) => x.host === servers.blocked.name && x.port === 8080);
    await stream.waitFor(() => egress().some((e) => (row(e.blocked)?.count ?? 0) >= 2), 30_000, 'an egress event with both refusals');
    const last = row(egress().at(-1)!.blocked)!;
    assert.equal(last.count, 2);
    assert.ok(Date.parse(last.lastAt) > 0);
    // One event per change, not per read.
    const seen = egress().length;
    await env.execIn(task.id, `. /etc/caic-env.sh; git ls-remote http://${servers.allowed.name}:8081/z.git`, 'user');
    await stream.waitFor(() => egress().some((e) => e.blocked.some((b) => b.host === servers.allowed.name && b.port === 8081)), 30_000, 'the next refusal');
    assert.equal(egress().length, seen + 1);
  });
});

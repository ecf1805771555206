// The container layer on a real Docker engine, real sshd and real git.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Dockerode from 'dockerode';
import {
  BASE_CAPABILITIES,
  ContainerError,
  DockerRuntime,
  DockerUnavailableError,
  HostKeyMismatchError,
  SUDO_CAPABILITIES,
  type ContainerHandle,
  type DieEvent,
} from '../../src/containers/index.js';
import { makeHostRepo, RUN_LABEL, testRuntime, type TestRuntime } from '../helpers/containers.js';
import { engineDocker, ON_PODMAN, ROOTLESS, unsupportedOn } from '../helpers/engine.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { until, waitUntil } from '../helpers/wait.js';
import { assets, bootCommand, relayHeader, relaySocket } from '../../src/agents/index.js';

const git = (repo: string, ...args: string[]) => execFileSync('git', args, { cwd: repo }).toString();

/** Docker's default capability set: what CapDrop and CapAdd are relative to (Podman's inspect lists them so). */
const ENGINE_DEFAULT_CAPS = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];

/** The capabilities a container gets, from its inspected CapDrop and CapAdd (Docker says ALL + adds, Podman the differences). */
function effectiveCapabilities(hc: { CapAdd?: string[] | null; CapDrop?: string[] | null }): string[] {
  const drop = hc.CapDrop ?? [];
  const kept = drop.includes('ALL') ? [] : ENGINE_DEFAULT_CAPS.filter((c) => !drop.includes(c));
  return [...new Set([...kept, ...(hc.CapAdd ?? [])])].sort();
}

/**
 * Whether the engine enforces CPU, memory and pids limits: rootless Podman on cgroup v1 cannot (the
 * user owns no cgroup) and drops them; with cgroup v2 and delegated controllers it can.
 */
async function limitsEnforced(): Promise<boolean> {
  if (!ROOTLESS) return true;
  const info = (await engineDocker().info()) as { CgroupVersion?: string };
  return info.CgroupVersion !== '1';
}

describe('containers on a real engine', () => {
  let t: TestRuntime;
  let plain: ContainerHandle;
  before(async () => {
    t = await testRuntime();
    plain = await t.launch();
  });
  after(() => t[Symbol.asyncDispose]());

  test('launch + connect: sshd on 127.0.0.1, user 1000, a pooled connection', async () => {
    assert.ok(plain.sshPort > 0);
    assert.equal(plain.state, 'running');
    const conn = await t.rt.connect(plain);
    assert.equal(await t.rt.connect(plain), conn, 'the same pooled connection');
    const r = await t.rt.exec(plain, 'id -u; id -nG; pwd');
    assert.deepEqual(r, { code: 0, stdout: '1000\nuser\n/home/user\n', stderr: '' });
    // The daemon's client key: created on first use, private.
    assert.equal((await stat(join(t.dir.path, 'config', 'ssh', 'id_ed25519'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(t.dir.path, 'config', 'ssh'))).mode & 0o777, 0o700);
  });

  test('docker inspect shows the hardened profile', async () => {
    const info = await t.docker.getContainer(plain.id).inspect();
    const hc = info.HostConfig;
    assert.deepEqual(effectiveCapabilities(hc), [...BASE_CAPABILITIES].sort());
    assert.equal(hc.Privileged, false);
    assert.deepEqual((hc.SecurityOpt as string[] | undefined)?.map((o: string) => o.replace(/:true$/, '')), ['no-new-privileges']);
    assert.equal(hc.NetworkMode, 'bridge');
    assert.notEqual(hc.PidMode, 'host');
    assert.notEqual(hc.IpcMode, 'host');
    assert.equal(hc.Init, true);
    if (await limitsEnforced()) {
      assert.ok((hc.PidsLimit ?? 0) > 0);
      assert.ok((hc.NanoCpus ?? 0) >= 2e9);
    }
    assert.deepEqual(hc.Binds ?? [], []);
    assert.deepEqual(info.Mounts, []);
    const bindings = info.NetworkSettings.Ports['22/tcp'] ?? [];
    assert.ok(bindings.length > 0 && bindings.every((b) => b.HostIp === '127.0.0.1'), JSON.stringify(bindings));
    assert.equal(info.Config.Labels['caic.host-key'], plain.hostKeyFingerprint);
    assert.equal(info.Config.Labels['caic.sudo'], '0');
    assert.equal(info.Config.Labels['caic.sudo-password'], undefined);
    // Inside: no capabilities for the user, and nothing can raise them.
    const caps = await t.rt.exec(plain, "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status");
    assert.match(caps.stdout, /CapEff:\s+0000000000000000/);
    assert.match(caps.stdout, /NoNewPrivs:\s+1/);
    assert.match(caps.stdout, /CapBnd:\s+00000000200400c9/, 'bounding set: CHOWN, FOWNER, SETGID, SETUID, SYS_CHROOT, AUDIT_WRITE');
    const sshd = await t.rt.exec(plain, 'sshd -T 2>/dev/null | grep -E "^(passwordauthentication|permitrootlogin)" || grep -hE "^(PasswordAuthentication|PermitRootLogin)" /etc/ssh/sshd_config.d/caic.conf');
    assert.match(sshd.stdout, /^passwordauthentication no$/im);
    assert.match(sshd.stdout, /^permitrootlogin no$/im);
  });

  test('exec streams output as it is produced, with stdin, exit codes, cwd and stderr', async () => {
    const stdin = new PassThrough();
    const seen: string[] = [];
    const pending = t.rt.exec(plain, 'echo first; read line; echo "got $line"; echo oops >&2; exit 3', {
      stdin,
      onStdout: (c) => {
        seen.push(c.toString());
        // The process is blocked on `read` until we answer: "first" arrived while it ran.
        if (c.toString().includes('first')) stdin.end('reply\n');
      },
    });
    const r = await pending;
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'first\ngot reply\n');
    assert.equal(r.stderr, 'oops\n');
    assert.equal(seen[0], 'first\n');
    assert.equal((await t.rt.exec(plain, 'pwd', { cwd: '/tmp' })).stdout, '/tmp\n');
    await assert.rejects(t.rt.exec(plain, 'sleep 30', { timeoutMs: 200 }), /timed out after 200 ms/);
    const ac = new AbortController();
    // Aborted once the background child exists: the line after it says so.
    const aborted = t.rt.exec(plain, 'sleep 31 & echo started; sleep 32; echo never', { signal: ac.signal, onStdout: () => ac.abort() });
    await assert.rejects(aborted, /aborted/);
    await assert.rejects(t.rt.exec(plain, 'sleep 33', { signal: AbortSignal.abort() }), /aborted/, 'a signal aborted before the command started');
    // The whole process group goes, background children included.
    await until(async () => (await t.rt.exec(plain, 'pgrep -c -x sleep || true')).stdout.trim() === '0', 'no sleep process left', 10_000, 100);
  });

  test('many concurrent commands on one connection each report their own exit status', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => t.rt.exec(plain, `echo ${i}; exit ${i % 7}`)));
    results.forEach((r, i) => assert.deepEqual(r, { code: i % 7, stdout: `${i}\n`, stderr: '' }, `command ${i}`));
  });

  test('spawn gives raw streams to a long-running process', async () => {
    const p = await t.rt.spawn(plain, 'cat');
    const out: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stdin.write('hello ');
    p.stdin.end('relay\n');
    assert.deepEqual(await p.wait(), { code: 0 });
    assert.equal(Buffer.concat(out).toString(), 'hello relay\n');
    const sleeper = await t.rt.spawn(plain, 'sleep 60');
    sleeper.kill();
    const ended = await sleeper.wait();
    assert.notEqual(ended.code, 0);
  });

  test('writeFile: content and mode, atomically', async () => {
    await t.rt.writeFile(plain, '/home/user/notes.txt', 'a\nb\n', 0o640);
    assert.equal((await t.rt.exec(plain, 'stat -c %a notes.txt; cat notes.txt; ls -a | grep -c caic-write || true')).stdout, '640\na\nb\n0\n');
  });

  test('a host key mismatch is refused at once, never retried', async () => {
    // Through a proxy that counts connections: one banner probe, one handshake, nothing more.
    await using proxy = await startTcpProxy(new URL(`ssh://127.0.0.1:${plain.sshPort}`));
    const port = Number(new URL(proxy.url).port);
    const forged = { ...plain, id: `${plain.id}-forged`, sshPort: port, hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };
    await assert.rejects(t.rt.connect(forged, { deadlineMs: 20_000 }), (err: Error) => {
      assert.ok(err instanceof HostKeyMismatchError, String(err));
      assert.match(err.message, /does not match the one pinned/);
      return true;
    });
    assert.equal(proxy.connections, 2, 'fails on the first handshake, not at the deadline');
  });

  test('~/.env: 0600, loaded by shells; the token never reaches inspect, labels, env or logs', async () => {
    const token = `ghp_${'Z'.repeat(8)}planted${Date.now()}`;
    await t.rt.injectEnv(plain, { GITHUB_TOKEN: token, QUOTED: "it's $HOME" });
    const r = await t.rt.exec(plain, 'stat -c "%a %U" ~/.env; echo "$GITHUB_TOKEN"; echo "$QUOTED"; bash -c \'echo "$GITHUB_TOKEN"\'');
    assert.equal(r.stdout, `600 user\n${token}\n${token.length ? "it's $HOME" : ''}\n${token}\n`);
    const info = JSON.stringify(await t.docker.getContainer(plain.id).inspect());
    assert.ok(!info.includes(token), 'not in docker inspect (env, labels, args)');
    const environ = await t.rt.exec(plain, 'cat /proc/1/environ 2>/dev/null | tr "\\0" "\\n"; env -i /usr/bin/env');
    assert.ok(!environ.stdout.includes(token), 'not in the container environment');
    assert.ok(!t.logs.text.includes(token), 'not in the logs');
    await assert.rejects(t.rt.injectEnv(plain, { 'BAD-NAME': 'x' }), /invalid environment variable name/);
  });

  test('rootless Podman refuses sudo, saying why', { skip: !ROOTLESS && 'only on podman-rootless' }, async () => {
    await assert.rejects(t.launch({ sudo: true }), /sudo is not available with rootless Podman; use Docker or rootful Podman for tasks that need sudo/);
    assert.deepEqual(await t.docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${t.runId}`, 'caic.sudo=1'] } }), [], 'nothing was created');
  });

  test('sudo works with the password only when enabled', { skip: unsupportedOn(['podman-rootless'], 'no root in a user namespace to give; caic refuses sudo there (test above)') }, async () => {
    const withSudo = await t.launch({ sudo: true });
    const pw = await t.rt.sudoPassword(withSudo);
    assert.ok(pw && pw.length >= 20);
    const info = await t.docker.getContainer(withSudo.id).inspect();
    assert.deepEqual(effectiveCapabilities(info.HostConfig), [...BASE_CAPABILITIES, ...SUDO_CAPABILITIES].sort());
    assert.match((await t.rt.exec(withSudo, 'grep ^CapBnd /proc/self/status')).stdout, /CapBnd:\s+00000000200400cb/, 'the base set and DAC_OVERRIDE');
    assert.ok(!JSON.stringify(info.Config.Env).includes(pw), 'the password is not in the environment');
    const ok = await t.rt.exec(withSudo, 'sudo -S -p "" whoami', { stdin: `${pw}\n` });
    assert.equal(ok.stdout, 'root\n', ok.stderr);
    const wrong = await t.rt.exec(withSudo, 'sudo -S -p "" whoami', { stdin: 'not-the-password\n' });
    assert.notEqual(wrong.code, 0);
    assert.equal((await t.rt.exec(withSudo, 'ls -A /etc/caic 2>&1 || true')).stdout.includes('sudo_password'), false, 'delivered file removed');

    assert.equal(await t.rt.sudoPassword(plain), null);
    const denied = await t.rt.exec(plain, 'sudo -S -p "" whoami', { stdin: `${pw}\n` });
    assert.notEqual(denied.code, 0);
    assert.doesNotMatch(denied.stdout, /root/);
    const su = await t.rt.exec(plain, 'su -c whoami root </dev/null');
    assert.notEqual(su.code, 0);
  });

  test('push a repo of a few hundred files, commit inside, fetch back, numstat and diff', async () => {
    const repo = await makeHostRepo(t.dir.path, 300);
    const h = await t.launch({ repos: [{ name: 'proj', branch: 'caic-1', baseBranch: 'main' }] });
    await t.rt.pushRepo(h, { hostRepo: repo, name: 'proj', branch: 'caic-1', baseBranch: 'main', baseRef: 'main', originUrl: 'https://example.com/o/proj.git' });
    const state = await t.rt.exec(h, 'cd ~/src/proj && git rev-parse --abbrev-ref HEAD @{upstream} && git ls-files | wc -l && git status --porcelain | wc -l && git remote get-url origin');
    assert.equal(state.stdout, 'caic-1\norigin/main\n300\n0\nhttps://example.com/o/proj.git\n');
    assert.deepEqual((await t.rt.diff(h, 'proj')).stat, []);

    await t.rt.exec(h, 'cd ~/src/proj && printf "one\\ntwo\\n" >> dir1/file1.txt && git commit -qam "edit" && rm dir2/file2.txt && echo new > added.txt && printf "\\000\\001bin\\000" > blob.bin');
    const { stat, patch } = await t.rt.diff(h, 'proj', { patch: true });
    assert.deepEqual(
      stat.sort((a, b) => a.path.localeCompare(b.path)),
      [
        { path: 'added.txt', added: 1, deleted: 0, binary: false },
        { path: 'blob.bin', added: 0, deleted: 0, binary: true },
        { path: 'dir1/file1.txt', added: 2, deleted: 0, binary: false },
        { path: 'dir2/file2.txt', added: 0, deleted: 2, binary: false },
      ],
    );
    assert.match(patch!, /\+\+\+ b\/dir1\/file1.txt\n@@ -1,2 \+1,4 @@\n file 1\n x\n\+one\n\+two\n/);
    const onePath = await t.rt.diff(h, 'proj', { patch: true, path: 'added.txt' });
    assert.deepEqual(onePath.stat.map((s) => s.path), ['added.txt']);
    assert.equal((await t.rt.exec(h, 'cd ~/src/proj && git status --porcelain | sort')).stdout, ' D dir2/file2.txt\n?? added.txt\n?? blob.bin\n', 'the real index is untouched');

    // Author and message reach git as they are: no shell expansion, the message whole (on stdin).
    const message = "Add files: it's `done` $(touch /tmp/pwned)\n\nSecond paragraph; \"quoted\"\n# not a comment";
    const author = { name: "O'Neil $(id) `x`", email: 'oneil@example.com' };
    const fetched = await t.rt.fetchRepo(h, { hostRepo: repo, name: 'proj', branch: 'caic-1', commit: { message, author } });
    assert.equal(fetched.ref, `refs/remotes/${h.name}/caic-1`);
    assert.equal(git(repo, 'log', '--format=%s', fetched.ref).trim(), "Add files: it's `done` $(touch /tmp/pwned)\nedit\ninitial");
    assert.equal(git(repo, 'log', '-1', '--format=%B', fetched.ref), `${message}\n\n`);
    assert.equal(git(repo, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', fetched.ref).trim(), "O'Neil $(id) `x` <oneil@example.com>|O'Neil $(id) `x` <oneil@example.com>");
    assert.equal((await t.rt.exec(h, 'test -e /tmp/pwned; echo $?')).stdout.trim(), '1', 'nothing ran');
    assert.equal(git(repo, 'diff', '--numstat', 'main', fetched.ref).trim().split('\n').length, 4);
    assert.equal(git(repo, 'rev-parse', 'caic-1').trim(), git(repo, 'rev-parse', 'main').trim(), 'host branches untouched');

    await t.rt.purge(h, { hostRepos: [repo] });
    assert.equal(git(repo, 'for-each-ref', `refs/remotes/${h.name}/`), '', 'host-side refs removed');
    await assert.rejects(t.docker.getContainer(h.id).inspect(), /no such container/i);
  });

  test('a relay given with the launch starts with the container, as the user in an SSH session environment, once; its socket is reached over SSH', async () => {
    const relay = assets().relay;
    const dir = '/home/user/.caic/sessions/1';
    // The agent prints who and where it is, then echoes its input.
    const agent = ['bash', '-c', 'printf \'{"uid":"%s","home":"%s","path":"%s","bashenv":"%s","hostname":"%s","cwd":"%s"}\\n\' "$(id -u)" "$HOME" "$PATH" "$BASH_ENV" "$(printenv HOSTNAME)" "$PWD"; exec cat'];
    const h = await t.launch({ files: [{ path: relay.path, content: relay.content, mode: 0o644 }], boot: bootCommand(relay.path, dir, '/home/user', true, false, agent) });
    await assert.rejects(t.rt.openSocket(h, '/home/user/nothing.sock'), /cannot reach \/home\/user\/nothing\.sock/);
    const proc = await waitUntil(() => t.rt.openSocket(h, relaySocket(dir)).catch(() => null), (p) => p !== null, { what: 'the relay listening' });
    proc!.stdin.write(relayHeader(0));
    let out = '';
    proc!.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('\n'), 'the agent line', 20_000);
    assert.deepEqual(JSON.parse(out.split('\n')[0]!), { uid: '1000', home: '/home/user', path: '/usr/local/bin:/usr/bin:/bin:/usr/games', bashenv: '/etc/caic-env.sh', hostname: '', cwd: '/home/user' });
    proc!.stdin.write(`${JSON.stringify({ type: 'user', text: 'echo' })}\n`);
    await until(() => out.split('\n').length > 3, 'the echo (and the input logged before it)', 20_000);
    proc!.stdin.write('\0');
    await proc!.wait();
    // Once: the command line is gone from the container, and a revive starts no relay.
    await t.rt.stop(h);
    const again = await t.rt.revive(h);
    assert.equal((await t.rt.exec(again, `pgrep -u user -x node || echo none; cat ${dir}/relay.log | grep -c 'started agent'`)).stdout, 'none\n1\n');
    const inbox = await t.docker.getContainer(h.id).exec({ Cmd: ['sh', '-c', 'ls -A /etc/caic'], User: 'root', AttachStdout: true });
    const stream = await inbox.start({ hijack: true, stdin: false });
    let listing = '';
    stream.on('data', (d: Buffer) => (listing += d.toString('latin1')));
    await new Promise((r) => stream.on('end', r));
    assert.equal(listing.replace(/[\s\S]{8}/, '').trim(), '', 'nothing left in /etc/caic');
  });

  test('stop and revive keep files and the host key; a restarted daemon adopts by label', async () => {
    const h = await t.launch({ repos: [{ name: 'x', branch: 'caic-7', baseBranch: 'main' }] });
    await t.rt.writeFile(h, '/home/user/keep.txt', 'kept\n');
    await t.rt.stop(h);
    assert.equal((await t.docker.getContainer(h.id).inspect()).State.Running, false);
    const listed = (await t.rt.list()).find((c) => c.id === h.id)!;
    assert.equal(listed.state, 'exited');
    assert.equal(listed.sshPort, 0);
    await assert.rejects(t.rt.connect(listed), ContainerError);

    const revived = await t.rt.revive(h);
    assert.equal(revived.hostKeyFingerprint, h.hostKeyFingerprint);
    assert.equal((await t.rt.exec(revived, 'cat keep.txt')).stdout, 'kept\n', 'pinned key still accepted, files kept');

    const restarted = await t.reopen();
    const found = (await restarted.adopt()).find((c) => c.handle.id === h.id)!;
    assert.equal(found.ssh, 'ok', 'connected with the pinned host key');
    const adopted = found.handle;
    assert.deepEqual(
      { taskId: adopted.taskId, harness: adopted.harness, repos: adopted.repos, sudo: adopted.sudo, port: adopted.sshPort },
      { taskId: h.taskId, harness: 'fake', repos: [{ name: 'x', branch: 'caic-7', baseBranch: 'main' }], sudo: false, port: revived.sshPort },
    );
    assert.equal((await restarted.exec(adopted, 'cat keep.txt')).stdout, 'kept\n');
  });

  test('a taken name (the same repository and branch again) gets a random suffix, on every engine', async () => {
    const repos = [{ name: 'twice', branch: 'caic-3', baseBranch: 'main' }];
    const first = await t.launch({ repos });
    const second = await t.launch({ repos });
    assert.equal(first.name, 'caic-twice-caic-3');
    assert.match(second.name, /^caic-twice-caic-3-[0-9a-f]{8}$/);
    assert.equal(second.state, 'running');
  });

  test('Podman: no repository image is made (its load needs every layer); the repository goes in over SSH', { skip: !ON_PODMAN && 'only on Podman' }, async () => {
    const repo = await makeHostRepo(t.dir.path, 3);
    const spec = { hostRepo: repo, name: 'proj', branch: 'caic-1', baseBranch: 'main', baseRef: 'main' };
    assert.equal(await t.rt.repoImage(spec, { build: true }), null);
    const h = await t.launch({ repos: [{ name: 'proj', branch: 'caic-1', baseBranch: 'main' }] });
    await t.rt.pushRepo(h, spec);
    assert.equal((await t.rt.exec(h, 'cd ~/src/proj && git ls-files | wc -l')).stdout, '3\n');
  });

  test('errors say what failed in user terms', async () => {
    await assert.rejects(t.launch({ image: 'caic-no-such-image:x' }), /image caic-no-such-image:x not found; build it with `caic image build`/);
    await assert.rejects(
      DockerRuntime.open({ configDir: t.dir.path, docker: new Dockerode({ socketPath: '/nonexistent/docker.sock' }) }),
      (err: Error) => err instanceof DockerUnavailableError && /Docker engine not reachable at \/nonexistent\/docker\.sock/.test(err.message),
    );
    await assert.rejects(t.rt.pushRepo(plain, { hostRepo: t.dir.path, name: '../escape', branch: 'b', baseBranch: 'main' }), /invalid repository name/);
  });

  test('docker kill produces a die event; stats report usage', async () => {
    const h = await t.launch();
    if (await limitsEnforced()) {
      const stats = await t.rt.stats(h);
      assert.ok(stats.memoryBytes > 0 && stats.pids > 0, JSON.stringify(stats));
    }
    // Events are read from the moment the iterator starts (Docker replays them `since` then), so
    // the kill may come before the stream is open. Other tests' containers die too: wait for ours.
    const ac = new AbortController();
    const timeout = setTimeout(() => ac.abort(), 30_000);
    const events = t.rt.dieEvents(ac.signal)[Symbol.asyncIterator]();
    const first = events.next();
    await t.docker.getContainer(h.id).kill();
    let value: DieEvent | undefined;
    for (let next = await first; !next.done; next = await events.next()) {
      if (next.value.id === h.id) {
        value = next.value;
        break;
      }
    }
    clearTimeout(timeout);
    ac.abort();
    assert.ok(value, 'a die event for the killed container within 30 s');
    assert.equal(value.id, h.id);
    assert.equal(value.taskId, h.taskId);
    assert.equal(value.name, h.name);
    assert.notEqual(value.exitCode, 0);
  });
});

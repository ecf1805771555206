// Resource hygiene with real Docker, sshd and the fake agent: the memory cap on the container, the
// disk budget (warned, then the task stopped with the reason in its transcript), and clean-up
// removing only what it should (an old stopped container of a task: removed, branch and log kept;
// an orphan of this daemon: removed after the grace; another daemon's and an unlabelled container,
// an image a container uses: untouched); the doctor route per user; `caic doctor --json`.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import type { DoctorResp, EventMessage, Task } from '../../src/api/index.js';
import { INSTANCE_LABEL } from '../../src/containers/index.js';
import { buildTar } from '../../src/containers/archive.js';
import { SseClient } from '../helpers/sse.js';
import { githubLoginToml, startStubForge, type StubForge, type StubUser } from '../helpers/stub-forge.js';
import { signInCookie } from '../helpers/login.js';
import { NO_LIMITS } from '../helpers/engine.js';
import { hostDocker, taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const HOST = 'caic.test';
const MiB = 1024 * 1024;
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd }).toString();

/** Signs `user` in through the stand-in GitHub login; the session cookie (name=value). */
const signIn = (url: string, stub: StubForge, user: StubUser) => signInCookie(url, HOST, stub, user);

describe('limits: memory cap and disk budget', () => {
  let env: TaskEnv;
  before(async () => {
    env = await taskEnv({ extraConfig: '[limits]\nmemory = "512m"\ndisk = "64m"\ndisk_warn_percent = 50\nstats_interval = "1s"\ngc_interval = "0"\n' });
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
  });

  test('the container has the memory cap; stats flow; the disk budget warns once, then stops the task with the reason', { skip: NO_LIMITS && 'not on podman-rootless with cgroup v1: the engine drops memory limits and its stats are the host\'s' }, async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    const stream = env.stream(task.id);
    await env.waitState(task.id, 'waiting');
    const c = await env.container(task.id);
    assert.ok(c);
    const info = await env.docker.getContainer(c.Id).inspect();
    assert.equal(info.HostConfig.Memory, 512 * MiB);
    const stats = () => stream.messages<EventMessage>().filter((e): e is Extract<EventMessage, { kind: 'stats' }> => e.kind === 'stats');
    await stream.waitFor(() => stats().some((s) => typeof s.diskBytes === 'number'), 60_000, 'a stats event with the disk use');
    const first = stats().find((s) => typeof s.diskBytes === 'number')!;
    assert.equal(first.diskLimitBytes, 64 * MiB);
    assert.equal(first.memoryLimitBytes, 512 * MiB);
    assert.ok(first.diskBytes! < 32 * MiB, `starts below the warning: ${first.diskBytes}`);
    // Past 50% of the budget, below 100%: a warning, and the task goes on.
    const fill = Math.ceil((40 * MiB - first.diskBytes!) / MiB);
    const r = await env.execIn(task.id, `dd if=/dev/zero of=/home/user/fill1 bs=1M count=${fill} status=none`, 'user');
    assert.equal(r.code, 0, r.output);
    const warnings = () => stream.messages<EventMessage>().filter((e) => e.kind === 'log' && e.phase === 'limits');
    await stream.waitFor(() => warnings().length > 0, 60_000, 'the disk warning');
    assert.match((warnings()[0] as { message: string }).message, /disk: the task uses .* of the 64 MiB disk budget/);
    assert.equal((await env.task(task.id)).state, 'waiting');
    // Past the budget: stopped, the reason in the transcript.
    const r2 = await env.execIn(task.id, 'dd if=/dev/zero of=/home/user/fill2 bs=1M count=40 status=none', 'user');
    assert.equal(r2.code, 0, r2.output);
    const stopped = await env.waitState(task.id, 'stopped', { timeoutMs: 60_000 });
    await stream.waitFor((ev) => ev.some((e) => (e.id ?? 0) >= stopped.lastEventId), 10_000, 'events up to the stop');
    const errors = stream.messages<EventMessage>().filter((e) => e.kind === 'error');
    assert.ok(errors.some((e) => /uses .* of the 64 MiB disk budget \(\[limits\] disk\): it was stopped/.test((e as { message: string }).message)), JSON.stringify(errors));
    assert.equal(warnings().length, 1, 'warned once');
    assert.equal((await env.container(task.id))?.State, 'exited');
  });
});

describe('idle stop', () => {
  test('a task waiting with nothing happening for idle_stop is stopped, the reason in its transcript', async () => {
    await using env = await taskEnv({ extraConfig: '[limits]\nidle_stop = "2s"\ngc_interval = "1s"\nstats_interval = "0"\n' });
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    const stream = env.stream(task.id);
    const stopped = await env.waitState(task.id, 'stopped', { timeoutMs: 90_000 });
    await stream.waitFor((ev) => ev.some((e) => (e.id ?? 0) >= stopped.lastEventId), 10_000, 'events up to the stop');
    const events = stream.messages<EventMessage>();
    assert.ok(events.some((e) => e.kind === 'result'), 'the agent finished its turn first');
    assert.ok(events.some((e) => e.kind === 'error' && /stopped after waiting with nothing happening for \d+ s \(idle_stop\)/.test(e.message)), JSON.stringify(events.filter((e) => e.kind === 'error')));
    assert.equal((await env.container(task.id))?.State, 'exited', 'the container is stopped, not removed');
  });

  test('idle time goes on across a daemon restart: a task whose log was last written long ago is stopped soon after the restart', async () => {
    await using env = await taskEnv({ extraConfig: '[limits]\nidle_stop = "1h"\ngc_interval = "1s"\nstats_interval = "0"\n' });
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    await env.waitState(task.id, 'waiting');
    await env.d.daemon.close();
    // The agent has been waiting for two hours by the log's clock (its last write).
    const log = join(env.d.cacheDir, 'tasks', `${task.id}.jsonl`);
    assert.ok(existsSync(log), log);
    const then = new Date(Date.now() - 2 * 3600_000);
    await utimes(log, then, then);
    await env.restart();
    await env.waitState(task.id, 'stopped', { timeoutMs: 90_000 });
    assert.equal((await env.container(task.id))?.State, 'exited');
  });
});

describe('free disk', () => {
  test("a task start is refused (503, what is free, what to do) while Docker's data disk is below min_free_disk", async () => {
    await using env = await taskEnv({ extraConfig: '[limits]\nmin_free_disk = "1000t"\ngc_interval = "0"\nstats_interval = "0"\n' });
    const r = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } });
    assert.equal(r.status, 503, r.body);
    const body = r.json<{ error: { code: string; message: string }; details: { freeBytes: number; minFreeBytes: number } }>();
    assert.equal(body.error.code, 'SERVICE_UNAVAILABLE');
    assert.match(body.error.message, /Docker's data disk \(.+\) has .* free, less than \[limits\] min_free_disk \(1000 TiB\)/);
    assert.equal(body.details.minFreeBytes, 1000 * 1024 ** 4);
    assert.deepEqual((await env.api('GET', '/api/v1/tasks')).json<Task[]>(), [], 'nothing was created');
  });
});

describe('clean-up and the doctor report', () => {
  let stub: StubForge;
  let env: TaskEnv;
  let alice: string;
  let bob: string;
  const run = randomBytes(4).toString('hex');
  const TEST_LABEL = 'test.caic.hygiene';
  const docker: Dockerode = hostDocker();
  const made: string[] = [];
  const images: string[] = [];
  const as = (cookie: string) => ({ host: HOST, cookie });
  /** This run's images become candidates once all of them (and the container using one) exist. */
  let armed = false;

  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({
      extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(stub, ['alice', 'bob'])}[limits]\nremove_stopped_after = "1s"\norphan_grace = "1s"\ngc_interval = "1s"\nstats_interval = "0"\n`,
      // Only this run's images are candidates: other tests' images on this engine stay.
      daemon: { hygieneImageFilter: (labels) => armed && labels[TEST_LABEL] === run },
    });
    alice = await signIn(env.d.url, stub, { id: 501, username: 'alice' });
    bob = await signIn(env.d.url, stub, { id: 502, username: 'bob' });
  });
  after(async () => {
    try {
      await Promise.all(made.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
      for (const id of images) await docker.getImage(id).remove({ force: true }).catch(() => undefined);
      await env?.[Symbol.asyncDispose]();
    } finally {
      await stub?.close();
    }
  });

  /** An image of this run made from the agent image, untagged (as a rebuild leaves the old one). */
  async function untaggedAgentImage(variant: string): Promise<string> {
    const tar = await buildTar([{ path: 'Dockerfile', content: 'FROM caic-agent:latest\n', mode: 0o644 }]);
    const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, { labels: { [TEST_LABEL]: run, variant }, rm: true, forcerm: true });
    const out = await new Promise<{ aux?: { ID?: string } }[]>((resolve, reject) => docker.modem.followProgress(stream, (err, res) => (err ? reject(err) : resolve(res as never))));
    const id = out.find((o) => o.aux?.ID)?.aux?.ID;
    assert.ok(id, JSON.stringify(out.slice(-3)));
    images.push(id);
    return id;
  }

  async function created(opts: Dockerode.ContainerCreateOptions): Promise<string> {
    const c = await docker.createContainer({ Entrypoint: ['/bin/true'], Cmd: [], HostConfig: { NetworkMode: 'none' }, ...opts });
    made.push(c.id);
    return c.id;
  }
  /** False only when the engine says it is gone (404); any other failure fails the test. */
  const gone = (err: Error & { statusCode?: number }) => {
    if (err.statusCode === 404) return false;
    throw err;
  };
  const exists = async (id: string) => docker.getContainer(id).inspect().then(() => true, gone);
  const imageExists = async (id: string) => docker.getImage(id).inspect().then(() => true, gone);
  const doctor = async (cookie: string) => {
    const r = await env.api('GET', '/api/v1/server/doctor', undefined, as(cookie));
    assert.equal(r.status, 200, r.body);
    return { report: r.json<DoctorResp>(), body: r.body };
  };

  test('doctor: each user sees their own containers; others are counted, their task ids never shown', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } }, as(alice));
    await env.waitState(task.id, 'waiting', { headers: as(alice) });
    const mine = await doctor(alice);
    assert.equal(mine.report.engine.reachable, true);
    assert.ok(mine.report.containers.items.some((c) => c.taskId === task.id), mine.body);
    assert.ok(mine.report.images.some((i) => i.current && i.tags.includes('caic-agent:latest')), mine.body);
    const theirs = await doctor(bob);
    assert.ok(theirs.report.containers.running >= 1, theirs.body);
    assert.ok(!theirs.body.includes(task.id), `bob's report names alice's task: ${theirs.body}`);
    const anon = await env.api('GET', '/api/v1/server/doctor', undefined, { host: HOST });
    assert.equal(anon.status, 401, anon.body);
  });

  test('GC removes an old stopped container (branch and log kept), an orphan after the grace, a stale image; nothing else', async () => {
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'hello' } }, as(alice));
    await env.waitState(task.id, 'waiting', { headers: as(alice) });
    const branch = (await env.task(task.id, as(alice))).repos[0]!.branch;
    const instance = env.d.daemon.instance;
    // An orphan: our label and instance, no task log.
    const orphan = await created({ Image: 'caic-agent:latest', Labels: { caic: `orphan${run}`, [INSTANCE_LABEL]: instance, [TEST_LABEL]: run } });
    // Another daemon's container, an older caic's (no instance) and one without the caic label: never touched.
    const otherDaemon = await created({ Image: 'caic-agent:latest', Labels: { caic: `other${run}`, [INSTANCE_LABEL]: 'another-daemon', [TEST_LABEL]: run } });
    const legacy = await created({ Image: 'caic-agent:latest', Labels: { caic: `legacy${run}`, [TEST_LABEL]: run } });
    const unlabelled = await created({ Image: 'caic-agent:latest', Labels: { [INSTANCE_LABEL]: instance, [TEST_LABEL]: run } });
    // Two untagged agent images of this run: one a container uses (kept), one nothing uses (pruned).
    const usedImage = await untaggedAgentImage('used');
    const user = await created({ Image: usedImage, Labels: { [TEST_LABEL]: run } });
    const staleImage = await untaggedAgentImage('stale');
    armed = true;

    const stop = await env.api('POST', `/api/v1/tasks/${task.id}/stop`, undefined, as(alice));
    assert.equal(stop.status, 200, stop.body);
    await env.waitState(task.id, 'purged', { timeoutMs: 60_000, headers: as(alice) });
    await waitUntil(async () => (await exists(orphan)) || (await imageExists(staleImage)), (left) => !left, { timeoutMs: 60_000, what: 'orphan and stale image removed' });
    // One more full run after that: what stays, stays.
    await new Promise<void>((resolve) => {
      const off = env.d.daemon.hygiene.onRun(() => {
        off();
        resolve();
      });
    });
    assert.equal(await env.container(task.id), undefined, "the task's container is gone");
    assert.ok(existsSync(join(env.d.cacheDir, 'tasks', `${task.id}.jsonl`)), 'the task log stays');
    assert.match(git(join(env.root, 'proj'), 'branch', '--list', branch), new RegExp(branch), 'the branch stays');
    const stream = new SseClient(`${env.d.url}/api/v1/tasks/${task.id}/events`, as(alice));
    try {
      await stream.waitFor((ev) => ev.some((e) => e.event === 'ready'), 10_000, 'history');
      assert.ok(stream.messages<EventMessage>().some((e) => e.kind === 'log' && e.phase === 'hygiene' && /remove_stopped_after/.test(e.message)), 'the reason is in the transcript');
    } finally {
      stream.close();
    }
    for (const [what, id] of [['another daemon’s', otherDaemon], ['an older caic’s', legacy], ['an unlabelled', unlabelled], ['a user', user]] as const) {
      assert.ok(await exists(id), `${what} container stays`);
    }
    assert.ok(await imageExists(usedImage), 'an image a container uses stays');
  });
});

describe('caic doctor', () => {
  test('--json as a child process (no daemon needed): the engine, the current image, the disk, the limits', async () => {
    await using dir = await tempDir('caic-doctor-');
    await mkdir(join(dir.path, 'config'));
    await writeFile(join(dir.path, 'config', 'config.toml'), `[core]\nroot = "${dir.path}"\n[limits]\nmemory = "1g"\n`);
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/src/daemon-cli.js', 'doctor', '--json', '--config-dir', join(dir.path, 'config')], {
      env: { ...process.env, XDG_CACHE_HOME: join(dir.path, 'cache') },
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`caic doctor failed: ${err.stderr ?? ''}${err.stdout ?? ''}`);
    });
    const report = JSON.parse(stdout) as DoctorResp;
    assert.equal(report.engine.reachable, true, stdout);
    assert.ok(report.images.some((i) => i.current && i.tags.includes('caic-agent:latest')), stdout);
    assert.ok(report.disk && report.disk.freeBytes > 0 && report.disk.path.length > 0, stdout);
    assert.equal(report.limits.memoryBytes, 1024 ** 3);
    assert.deepEqual(report.containers.items, [], 'a fresh state directory has no containers');
  });
});

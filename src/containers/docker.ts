// DockerRuntime: task containers on a Docker (or Podman) engine via dockerode, reached over ssh2.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import Dockerode from 'dockerode';
import type { Logger } from '../log/index.js';
import { buildTar, type ArchiveEntry } from './archive.js';
import { ensureClientKey, type ClientKey } from './client-key.js';
import { buildCreateOptions } from './create-options.js';
import { renderEnvFile, shellQuote } from './env-file.js';
import { ContainerError, DockerUnavailableError } from './errors.js';
import { containerRefPrefix, deleteRefs, fetchFromContainer, git, parseNumstat, type BridgeTarget } from './git.js';
import { INSTANCE_LABEL } from './hygiene.js';
import { BOOT_LABEL, DEFAULT_IMAGE, EGRESS_LABEL } from './images.js';
import { decodeLabels, encodeLabels, LABEL } from './labels.js';
import { containerName } from './naming.js';
import { checkoutInsideCommand, prepareRepo, repoHeadFiles, resolveCommits, type RepoPackage } from './repo-delivery.js';
import { RepoImages } from './repo-image.js';
import type { AdoptedContainer, ContainerRuntime } from './runtime.js';
import { fingerprint, generateEd25519, generateSudoPassword } from './secrets.js';
import { waitForSsh, type SshConnection } from './ssh.js';
import type {
  ContainerHandle,
  ContainerStats,
  DiffResult,
  DieEvent,
  ExecOptions,
  ExecResult,
  FetchSpec,
  LaunchSpec,
  LoopbackAddress,
  PushSpec,
  PtySize,
  RepoImageResult,
  ShellChannel,
  SpawnedProcess,
} from './types.js';

const HOME = '/home/user';
/** uid and gid of `user` in the agent image. */
const USER_ID = 1000;
const STOP_TIMEOUT_S = 5;

export interface DockerRuntimeOptions {
  /** Where the daemon's SSH client key lives (`<configDir>/ssh/id_ed25519`). */
  configDir: string;
  /** Defaults to the environment (DOCKER_HOST) or /var/run/docker.sock. */
  docker?: Dockerode;
  /** Image for containers that do not name one (default caic-agent:latest). */
  image?: string;
  logger?: Logger;
  /** How long to wait for sshd in a fresh container (default 30 s). */
  sshDeadlineMs?: number;
  /** This daemon's instance id (hygiene.ts), put on every container it makes: clean-up touches only its own. */
  instance?: string;
}

type DockerErrorLike = Error & { statusCode?: number; code?: string; json?: { message?: string } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The container name is taken: Docker answers 409; Podman (4.3) a 500 whose cause says so. */
function isNameConflict(err: DockerErrorLike): boolean {
  const cause = (err.json as { cause?: string } | undefined)?.cause ?? '';
  return err.statusCode === 409 || /name is already in use/.test(cause);
}

/** The repository directory name inside /home/user/src; refuses anything that could escape it. */
function repoDir(name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') throw new ContainerError(`invalid repository name "${name}"`);
  return `${HOME}/src/${name}`;
}

/**
 * Entries for files of the user's (LaunchSpec.files), with every directory between /home/user and
 * them, so none is created root-owned by the archive's extraction.
 */
function userFiles(files: NonNullable<LaunchSpec['files']>): ArchiveEntry[] {
  const dirs = new Set<string>();
  const out: ArchiveEntry[] = [];
  for (const f of files) {
    const rel = f.path.startsWith(`${HOME}/`) ? f.path.slice(1) : '';
    if (!rel || rel.split('/').some((c) => c === '' || c === '.' || c === '..')) throw new ContainerError(`cannot place "${f.path}": files go under ${HOME}`);
    const parts = rel.split('/');
    for (let i = 3; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      out.push({ path: dir, mode: 0o755, uid: USER_ID, gid: USER_ID });
    }
    out.push({ path: rel, content: f.content, mode: f.mode, uid: USER_ID, gid: USER_ID });
  }
  return out;
}

/** A URL for the container's `origin`: whatever user or token was written into it stays on the host. */
function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    throw new ContainerError('the origin URL is not a URL');
  }
}

function isGitRefName(name: string): boolean {
  return /^[A-Za-z0-9._/-]+$/.test(name) && !name.includes('..') && !name.startsWith('-') && !name.endsWith('/');
}

export class DockerRuntime implements ContainerRuntime {
  private readonly pool = new Map<string, Promise<SshConnection>>();
  private readonly image: string;
  private readonly repoImages: RepoImages;
  readonly sudoRefusal: string | null;

  private constructor(
    readonly docker: Dockerode,
    private readonly key: ClientKey,
    private readonly opts: DockerRuntimeOptions,
    rootlessPodman: boolean,
    /**
     * Podman's image load needs every layer in the archive: a repository image (one layer on top of
     * the task image, loaded without the parent's layers) cannot be made there.
     */
    private readonly repoImagesSupported: boolean,
  ) {
    this.image = opts.image ?? DEFAULT_IMAGE;
    // Rootless Podman's root in the container is the engine user's own uid: sudo would hand the
    // agent that user's files and the engine itself (spec: refused there).
    this.sudoRefusal = rootlessPodman ? 'sudo is not available with rootless Podman; use Docker or rootful Podman for tasks that need sudo' : null;
    this.repoImages = new RepoImages(docker, opts.logger);
  }

  /** Connects to the engine (a clear error when it does not answer) and loads the client key. */
  static async open(opts: DockerRuntimeOptions): Promise<DockerRuntime> {
    const docker = opts.docker ?? new Dockerode();
    const where = describeEngine(docker);
    let rootlessPodman: boolean;
    let podman: boolean;
    try {
      const [version, info] = await Promise.all([docker.version(), docker.info() as Promise<EngineInfo>]);
      podman = isPodman(version);
      rootlessPodman = isRootlessPodman(version, info);
    } catch (err) {
      throw new DockerUnavailableError(`Docker engine not reachable at ${where}: ${(err as Error).message}`);
    }
    if (podman) opts.logger?.info({ rootless: rootlessPodman }, 'the engine is Podman: repositories go into containers over SSH (no repository images)');
    return new DockerRuntime(docker, await ensureClientKey(opts.configDir), opts, rootlessPodman, !podman);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = err as DockerErrorLike;
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES') {
        throw new DockerUnavailableError(`Docker engine not reachable at ${describeEngine(this.docker)} (${e.code}) while trying to ${what}`);
      }
      const message = e.json?.message ?? e.message;
      throw new ContainerError(`cannot ${what}: ${message}`);
    }
  }

  // ---- lifecycle -------------------------------------------------------------------------

  async launch(spec: LaunchSpec): Promise<ContainerHandle> {
    const phase = spec.onPhase ?? (() => {});
    const image = spec.image ?? this.image;
    const sudo = Boolean(spec.sudo);
    if (sudo && this.sudoRefusal) throw new ContainerError(this.sudoRefusal);
    for (const k of Object.keys(spec.labels ?? {})) {
      if (k === LABEL.task || k.startsWith('caic.')) throw new ContainerError(`label "${k}" is reserved for caic`);
    }
    const egress = spec.egress && spec.egress.mode !== 'open' ? spec.egress : null;
    // root can become the proxy's user: only a packet filter sudo cannot lift would do (tasks refuse the pair first).
    if (egress && sudo) throw new ContainerError('an egress policy cannot be enforced in a container with sudo');
    const placed = userFiles(spec.files ?? []);
    if (spec.boot?.some((a) => a.includes('\0'))) throw new ContainerError('the boot command line cannot hold a NUL byte');
    let t = Date.now();
    let name = containerName(spec.repos[0]?.name, spec.repos[0]?.branch, spec.taskId);
    // A fresh host key for every container: no container can impersonate another's sshd.
    const hostKey = generateEd25519(`caic-host-${name}`);
    const hostKeyFingerprint = fingerprint(hostKey.publicKey);
    const sudoPassword = sudo ? generateSudoPassword() : undefined;
    const labels = {
      ...spec.labels,
      ...encodeLabels({ taskId: spec.taskId, harness: spec.harness, repos: spec.repos, sudo, ...(sudoPassword ? { sudoPassword } : {}), hostKeyFingerprint }),
      ...(this.opts.instance ? { [INSTANCE_LABEL]: this.opts.instance } : {}),
    };
    phase('prepare', Date.now() - t);
    t = Date.now();
    const options = buildCreateOptions({
      name,
      image,
      labels,
      sudo,
      ...(spec.cpus !== undefined ? { cpus: spec.cpus } : {}),
      ...(spec.memoryBytes !== undefined ? { memoryBytes: spec.memoryBytes } : {}),
      ...(spec.pidsLimit !== undefined ? { pidsLimit: spec.pidsLimit } : {}),
      ...(egress ? { egress: true } : {}),
      ...(spec.network ? { network: spec.network } : {}),
    });
    // The name may be taken (a leftover container, a parallel launch for the same repo and branch):
    // on a conflict the next candidate gets a random suffix.
    let container: Dockerode.Container | undefined;
    for (let attempt = 0; !container; attempt++) {
      const candidate = attempt === 0 ? name : `${name.replace(/-[0-9a-f]{8}$/, '')}-${randomBytes(4).toString('hex')}`;
      name = candidate;
      options._query.name = candidate;
      options._body.Hostname = candidate.slice(0, 63);
      container = await this.call(`create container ${candidate}`, async () => {
        try {
          return await this.docker.createContainer(options as unknown as Dockerode.ContainerCreateOptions);
        } catch (err) {
          const status = (err as DockerErrorLike).statusCode;
          if (status === 404) throw new ContainerError(`image ${image} not found; build it with \`caic image build\``);
          if (isNameConflict(err as DockerErrorLike) && attempt < 3) return undefined;
          throw err;
        }
      });
    }
    phase('create', Date.now() - t);
    try {
      t = Date.now();
      // Delivered into the stopped container's filesystem, never through env or labels.
      const files: ArchiveEntry[] = [
        { path: 'etc/ssh/ssh_host_ed25519_key', content: hostKey.privateKey, mode: 0o600 },
        { path: 'etc/ssh/ssh_host_ed25519_key.pub', content: `${hostKey.publicKey}\n`, mode: 0o644 },
        { path: 'home/user/.ssh/authorized_keys', content: `${this.key.publicKey}\n`, mode: 0o600, uid: USER_ID, gid: USER_ID },
      ];
      if (sudoPassword) files.push({ path: 'etc/caic/sudo_password', content: sudoPassword, mode: 0o600 });
      // The policy stays: the entrypoint puts the filter in place again at every start (a revive).
      if (egress) files.push({ path: 'etc/caic/egress.json', content: `${JSON.stringify({ mode: egress.mode, allow: egress.mode === 'allowlist' ? egress.allow : [] })}\n`, mode: 0o600 });
      if (spec.boot) files.push({ path: 'etc/caic/boot', content: Buffer.concat(spec.boot.map((a) => Buffer.from(`${a}\0`))), mode: 0o600 });
      files.push(...placed);
      await this.call(`deliver keys to ${name}`, async () => container.putArchive(await buildTar(files), { path: '/' }));
      phase('deliver', Date.now() - t);
      t = Date.now();
      await this.call(`start container ${name}`, () => container.start());
      phase('start', Date.now() - t);
      t = Date.now();
      const info = await this.call(`inspect container ${name}`, () => container.inspect());
      phase('inspect', Date.now() - t);
      // An image whose entrypoint does not know the policy would run the task unfiltered.
      if (egress && info.Config?.Labels?.[EGRESS_LABEL] !== '1') throw new ContainerError(`image ${image} cannot enforce an egress policy (it predates them): rebuild it with \`caic image build\``);
      const handle = this.handleFromInspect(info);
      if (!handle || !handle.sshPort) throw new ContainerError(`container ${name} started without a published SSH port`);
      // The container's labels include its image's: only an entrypoint that says so read the boot file.
      return spec.boot ? { ...handle, booted: info.Config?.Labels?.[BOOT_LABEL] === '1' } : handle;
    } catch (err) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      throw err;
    }
  }

  async stop(h: ContainerHandle): Promise<void> {
    this.drop(h.id);
    await this.call(`stop container ${h.name}`, async () => {
      try {
        await this.docker.getContainer(h.id).stop({ t: STOP_TIMEOUT_S });
      } catch (err) {
        if ((err as DockerErrorLike).statusCode !== 304) throw err; // already stopped
      }
    });
  }

  async revive(h: ContainerHandle): Promise<ContainerHandle> {
    this.drop(h.id);
    const container = this.docker.getContainer(h.id);
    await this.call(`start container ${h.name}`, async () => {
      try {
        await container.start();
      } catch (err) {
        if ((err as DockerErrorLike).statusCode !== 304) throw err; // already running
      }
    });
    const handle = this.handleFromInspect(await this.call(`inspect container ${h.name}`, () => container.inspect()));
    if (!handle?.sshPort) throw new ContainerError(`container ${h.name} is not running after revive`);
    return handle;
  }

  async purge(h: ContainerHandle, opts: { hostRepos?: string[] } = {}): Promise<void> {
    this.drop(h.id);
    await this.call(`remove container ${h.name}`, async () => {
      try {
        await this.docker.getContainer(h.id).remove({ force: true, v: true });
      } catch (err) {
        if ((err as DockerErrorLike).statusCode !== 404) throw err;
      }
    });
    for (const repo of opts.hostRepos ?? []) await deleteRefs(repo, containerRefPrefix(h.name));
  }

  async list(): Promise<ContainerHandle[]> {
    const summaries = await this.call('list containers', () =>
      this.docker.listContainers({ all: true, filters: { label: [LABEL.task] } }),
    );
    return summaries.flatMap((s) => {
      const labels = decodeLabels(s.Labels);
      if (!labels) return [];
      const port = s.Ports.find((p) => p.PrivatePort === 22 && p.Type === 'tcp' && p.PublicPort)?.PublicPort ?? 0;
      return [
        {
          id: s.Id,
          name: (s.Names[0] ?? s.Id).replace(/^\//, ''),
          taskId: labels.taskId,
          harness: labels.harness,
          repos: labels.repos,
          sudo: labels.sudo,
          hostKeyFingerprint: labels.hostKeyFingerprint,
          sshPort: s.State === 'running' ? port : 0,
          state: s.State,
          labels: s.Labels,
        },
      ];
    });
  }

  async adopt(): Promise<AdoptedContainer[]> {
    const handles = await this.list();
    return Promise.all(
      handles.map(async (handle): Promise<AdoptedContainer> => {
        if (handle.state !== 'running' || !handle.sshPort) return { handle, ssh: 'stopped' };
        try {
          await this.connect(handle, { deadlineMs: 10_000 });
          return { handle, ssh: 'ok' };
        } catch (err) {
          this.opts.logger?.warn({ container: handle.name, err: (err as Error).message }, 'cannot reach adopted container over SSH');
          return { handle, ssh: { error: (err as Error).message } };
        }
      }),
    );
  }

  private handleFromInspect(info: Dockerode.ContainerInspectInfo): ContainerHandle | null {
    const labels = decodeLabels(info.Config.Labels);
    if (!labels) return null;
    const binding = info.NetworkSettings.Ports?.['22/tcp']?.find((b) => b.HostIp === '127.0.0.1' || b.HostIp === '');
    const startedAt = info.State.Running ? Date.parse(info.State.StartedAt) : NaN;
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      taskId: labels.taskId,
      harness: labels.harness,
      repos: labels.repos,
      sudo: labels.sudo,
      hostKeyFingerprint: labels.hostKeyFingerprint,
      sshPort: info.State.Running && binding ? Number(binding.HostPort) : 0,
      state: info.State.Status,
      labels: info.Config.Labels,
      ...(startedAt > 0 ? { startedAt } : {}),
    };
  }

  // ---- SSH -------------------------------------------------------------------------------

  connect(
    h: ContainerHandle,
    opts: { deadlineMs?: number; signal?: AbortSignal; onPhase?: (phase: string, ms: number) => void } = {},
  ): Promise<SshConnection> {
    const pooled = this.pool.get(h.id);
    if (pooled) return pooled;
    if (!h.sshPort) return Promise.reject(new ContainerError(`container ${h.name} is not running`));
    const pending = waitForSsh(
      { label: h.name, port: h.sshPort, privateKey: this.key.privateKey, hostKeyFingerprint: h.hostKeyFingerprint },
      { deadlineMs: opts.deadlineMs ?? this.opts.sshDeadlineMs ?? 30_000, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onPhase ? { onPhase: opts.onPhase } : {}) },
    ).then((conn) => {
      conn.onClose(() => {
        if (this.pool.get(h.id) === pending) this.pool.delete(h.id);
      });
      return conn;
    });
    this.pool.set(h.id, pending);
    pending.catch(() => {
      if (this.pool.get(h.id) === pending) this.pool.delete(h.id);
    });
    return pending;
  }

  private drop(id: string): void {
    const pooled = this.pool.get(id);
    this.pool.delete(id);
    pooled?.then((c) => c.close(), () => undefined);
  }

  /** Closes every pooled connection (daemon shutdown). */
  close(): void {
    for (const id of [...this.pool.keys()]) this.drop(id);
  }

  async exec(h: ContainerHandle, command: string, opts?: ExecOptions): Promise<ExecResult> {
    return (await this.connect(h)).exec(command, opts);
  }

  async spawn(h: ContainerHandle, command: string, opts?: { cwd?: string }): Promise<SpawnedProcess> {
    return (await this.connect(h)).spawn(command, opts);
  }

  async openSocket(h: ContainerHandle, path: string): Promise<SpawnedProcess> {
    return (await this.connect(h)).openSocket(path);
  }

  async shell(h: ContainerHandle, size: PtySize, term?: string): Promise<ShellChannel> {
    return (await this.connect(h)).shell(size, term);
  }

  async forwardTcp(h: ContainerHandle, port: number, host?: LoopbackAddress): Promise<Duplex> {
    return (await this.connect(h)).forwardOut(port, host);
  }

  async writeFile(h: ContainerHandle, path: string, data: string | Buffer, mode = 0o600): Promise<void> {
    await (await this.connect(h)).writeFile(path, data, mode);
  }

  async injectEnv(h: ContainerHandle, env: Record<string, string>): Promise<void> {
    await this.writeFile(h, `${HOME}/.env`, renderEnvFile(env), 0o600);
  }

  /** Read from the handle's labels (every handle carries them): no Engine API call. */
  sudoPassword(h: ContainerHandle): Promise<string | null> {
    return Promise.resolve(decodeLabels(h.labels)?.sudoPassword ?? null);
  }

  async stats(h: ContainerHandle): Promise<ContainerStats> {
    const s = (await this.call(`read stats of ${h.name}`, () => this.docker.getContainer(h.id).stats({ stream: false }))) as unknown as DockerStats;
    const cpuDelta = s.cpu_stats.cpu_usage.total_usage - (s.precpu_stats.cpu_usage?.total_usage ?? 0);
    const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
    const online = s.cpu_stats.online_cpus ?? s.cpu_stats.cpu_usage.percpu_usage?.length ?? 1;
    const cache = s.memory_stats.stats?.inactive_file ?? s.memory_stats.stats?.total_inactive_file ?? s.memory_stats.stats?.cache ?? 0;
    return {
      cpuPercent: systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0,
      memoryBytes: Math.max(0, (s.memory_stats.usage ?? 0) - cache),
      memoryLimitBytes: s.memory_stats.limit ?? 0,
      pids: s.pids_stats?.current ?? 0,
    };
  }

  // ---- git -------------------------------------------------------------------------------

  private bridge(h: ContainerHandle): BridgeTarget {
    return { label: h.name, port: h.sshPort, keyFile: this.key.path, hostKeyFingerprint: h.hostKeyFingerprint };
  }

  /**
   * The repository at the spec's commits as an image on top of the task image (`opts.image`, else
   * the runtime's): found, or, with `build`, loaded now (once per commit; tasks from the same
   * commit wait for the same load). Null when it does not exist and `build` is false.
   */
  async repoImage(spec: PushSpec, opts: { build: boolean; image?: string }): Promise<RepoImageResult | null> {
    const { dir, branchRef, baseRef, originUrl } = this.checkPush(spec);
    if (!this.repoImagesSupported) return null;
    const [branchSha, baseSha] = await resolveCommits(spec.hostRepo, branchRef, baseRef);
    const parent = opts.image ?? this.image;
    const imageSpec = { hostRepo: spec.hostRepo, dir, branchSha, baseSha };
    const r = opts.build ? await this.repoImages.ensure(parent, imageSpec) : await this.repoImages.find(parent, imageSpec);
    if (!r) return null;
    const delivery = { hostRepo: spec.hostRepo, dir, branch: spec.branch, baseBranch: spec.baseBranch, baseRef, ...(originUrl ? { originUrl } : {}) };
    return {
      image: r.image,
      branchSha,
      baseSha,
      files: r.files,
      built: r.built,
      place: repoHeadFiles(delivery, branchSha, baseSha),
      prepare: r.checkoutInside ? checkoutInsideCommand(dir) : null,
      release: r.release,
    };
  }

  /** A push spec checked: names that are refs, the directory, the origin URL without credentials. */
  private checkPush(spec: PushSpec): { dir: string; branchRef: string; baseRef: string; originUrl?: string } {
    const dir = repoDir(spec.name);
    for (const ref of [spec.branch, spec.baseBranch]) if (!isGitRefName(ref)) throw new ContainerError(`invalid branch name "${ref}"`);
    const baseRef = spec.baseRef ?? `refs/heads/${spec.branch}`;
    const branchRef = spec.branchRef ?? `refs/heads/${spec.branch}`;
    for (const ref of [baseRef, branchRef]) if (!isGitRefName(ref)) throw new ContainerError(`invalid commit "${ref}"`);
    return { dir, branchRef, baseRef, ...(spec.originUrl ? { originUrl: withoutCredentials(spec.originUrl) } : {}) };
  }

  /**
   * Host side of a repository delivery (no container needed yet): both commits resolved, their
   * objects packed, the work tree listed. Dispose of what it returns when it is not delivered.
   */
  async packRepo(spec: PushSpec): Promise<RepoPackage> {
    const { dir, branchRef, baseRef, originUrl } = this.checkPush(spec);
    return prepareRepo({ hostRepo: spec.hostRepo, dir, branch: spec.branch, branchRef, baseBranch: spec.baseBranch, baseRef, ...(originUrl ? { originUrl } : {}) });
  }

  /**
   * Unpacks a packed repository into /home/user/src/<name> over the pooled SSH connection (tar as
   * the user, so ownership and modes are the user's) and builds its index, in one command. The
   * branch is checked out and tracks `origin/<baseBranch>`; `caic.base` is the base commit.
   */
  async deliverRepo(h: ContainerHandle, pkg: RepoPackage, onPhase?: (phase: string, ms: number) => void): Promise<void> {
    const conn = await this.connect(h);
    const t = Date.now();
    const tar = pkg.tar();
    // A failing archive (git, a vanished file) ends the command instead of leaving tar waiting.
    const abort = new AbortController();
    let tarError: Error | undefined;
    tar.on('error', (err: Error) => {
      tarError = err;
      abort.abort();
    });
    let r;
    try {
      r = await conn.exec(pkg.command, { stdin: tar, signal: abort.signal });
    } catch (err) {
      throw new ContainerError(`cannot deliver the repository to ${h.name}: ${(tarError ?? (err as Error)).message}`);
    } finally {
      // A command that ended early leaves the archive unread: stop it (and its git process).
      tar.destroy();
    }
    if (r.code !== 0) throw new ContainerError(`cannot deliver the repository to ${h.name}: ${(r.stderr || r.stdout || `exit ${r.code ?? r.signal}`).trim().split('\n').slice(-3).join(' | ')}`);
    onPhase?.('deliver', Date.now() - t);
  }

  /** `packRepo` then `deliverRepo`. */
  async pushRepo(h: ContainerHandle, spec: PushSpec): Promise<void> {
    const pkg = await this.packRepo(spec);
    try {
      await this.deliverRepo(h, pkg);
    } finally {
      await pkg.dispose();
    }
  }

  /** Fetches the container's branch into `refs/remotes/<container>/<branch>` on the host. */
  async fetchRepo(h: ContainerHandle, spec: FetchSpec): Promise<{ ref: string; sha: string }> {
    const path = repoDir(spec.name);
    if (!isGitRefName(spec.branch)) throw new ContainerError(`invalid branch name "${spec.branch}"`);
    if (spec.commit) {
      const { message, author } = spec.commit;
      // Author and message come from users and agents: arguments ("$1"...), never command-line text.
      await (await this.connect(h)).run(
        `cd ${shellQuote(path)} && git add -A && (git diff --cached --quiet || git -c "user.name=$1" -c "user.email=$2" commit -q --no-verify --cleanup=verbatim -m "$3")`,
        { args: [author.name, author.email, message] },
      );
    }
    const ref = `${containerRefPrefix(h.name)}${spec.branch}`;
    if (spec.sha !== undefined) {
      // A commit by id: a ref made for it in the container lets any git fetch it (no
      // allowAnySHA1InWant needed), and goes again at once.
      if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(spec.sha)) throw new ContainerError(`invalid commit id "${spec.sha}"`);
      const tmp = 'refs/caic/fetch';
      const conn = await this.connect(h);
      const made = await conn.exec(`cd ${shellQuote(path)} && git update-ref ${tmp} "$1^{commit}"`, { args: [spec.sha] });
      if (made.code !== 0) throw new ContainerError(`commit ${spec.sha.slice(0, 10)} is not in the container's repository: ${(made.stderr || made.stdout).trim().split('\n').pop() ?? ''}`);
      try {
        await fetchFromContainer(spec.hostRepo, this.bridge(h), path, [`+${tmp}:${ref}`]);
      } finally {
        await conn.exec(`cd ${shellQuote(path)} && git update-ref -d ${tmp}`).catch(() => undefined);
      }
      return { ref, sha: (await git(spec.hostRepo, ['rev-parse', ref])).trim() };
    }
    await fetchFromContainer(spec.hostRepo, this.bridge(h), path, [`+refs/heads/${spec.branch}:${ref}`]);
    return { ref, sha: (await git(spec.hostRepo, ['rev-parse', ref])).trim() };
  }

  /**
   * Branch vs its base, uncommitted and untracked work included: everything is staged into a
   * throw-away index so the real one is never touched.
   */
  async diff(h: ContainerHandle, repo: string, opts: { patch?: boolean; path?: string } = {}): Promise<DiffResult> {
    const path = repoDir(repo);
    // The path is an argument ("$1"), never command-line text, and a literal path: no pathspec
    // magic (`:(glob)`, `*`) widens it.
    const only = opts.path !== undefined ? ' -- "$1"' : '';
    const script = [
      'set -e',
      `cd ${shellQuote(path)}`,
      'base=$(git config caic.base)',
      'dir=$(mktemp -d); trap \'rm -rf "$dir"\' EXIT',
      '[ -f .git/index ] && cp .git/index "$dir/index"',
      'export GIT_INDEX_FILE="$dir/index" GIT_OPTIONAL_LOCKS=0',
      'git add -A .',
      `git --literal-pathspecs diff --cached --no-renames --numstat "$base"${only}`,
      opts.patch ? `printf '\\0'; git --literal-pathspecs diff --cached --no-renames "$base"${only}` : '',
    ].filter(Boolean);
    const out = await (await this.connect(h)).run(script.join('\n'), { args: opts.path !== undefined ? [opts.path] : [] });
    const nul = out.indexOf('\0');
    const stat = parseNumstat(nul >= 0 ? out.slice(0, nul) : out);
    return opts.patch ? { stat, patch: nul >= 0 ? out.slice(nul + 1) : '' } : { stat };
  }

  // ---- events ----------------------------------------------------------------------------

  /**
   * Die events of our containers. The stream is opened again whenever it ends or breaks (the
   * engine restarted, a proxy dropped it), from the time of the last event seen: an event during
   * the gap is delivered late, not lost.
   */
  async *dieEvents(signal?: AbortSignal): AsyncIterable<DieEvent> {
    let since = Math.floor(Date.now() / 1000);
    let lastNano = 0;
    let connections = 0;
    while (!signal?.aborted) {
      let stream: NodeJS.ReadableStream;
      try {
        // Only the type is filtered by the engine: Podman (4.3) matches neither `event=die` (its own
        // name is "died") nor a label given without a value, and would send nothing at all.
        stream = await this.docker.getEvents({ since, filters: { type: ['container'] } } as unknown as Parameters<Dockerode['getEvents']>[0]);
      } catch (err) {
        this.opts.logger?.warn({ err: (err as Error).message }, 'docker events unavailable; retrying');
        await sleep(1_000);
        continue;
      }
      this.opts.logger?.debug({ since, connections: ++connections }, 'watching docker events');
      const onAbort = () => (stream as unknown as { destroy(): void }).destroy();
      // An abort while the request was pending would never fire the listener below.
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      let buffer = '';
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          buffer += chunk.toString('utf8');
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            const ev = JSON.parse(line) as DockerEvent;
            const attrs = ev.Actor?.Attributes ?? {};
            if ((ev.Action ?? ev.status) !== 'die' || attrs[LABEL.task] === undefined) continue;
            // `since` is inclusive: after a reconnect, events already delivered come again. A
            // repeated old die would stop a task that was revived since.
            const nano = ev.timeNano ?? (ev.time ?? 0) * 1e9;
            if (nano <= lastNano) continue;
            lastNano = nano;
            since = Math.max(since, ev.time ?? since);
            const exit = attrs.exitCode;
            yield {
              id: ev.id ?? ev.Actor?.ID ?? '',
              name: attrs.name ?? '',
              taskId: attrs[LABEL.task] ?? '',
              exitCode: exit === undefined ? null : Number(exit),
              // Whole seconds only: the latest moment in that second, so a death right after a
              // start is never taken for one before it (the task watcher's check).
              time: new Date(ev.timeNano ? Math.floor(ev.timeNano / 1e6) : ev.time !== undefined ? ev.time * 1000 + 999 : Date.now()),
            };
          }
        }
        if (!signal?.aborted) this.opts.logger?.warn('docker events stream ended; reconnecting');
      } catch (err) {
        if (!signal?.aborted) this.opts.logger?.warn({ err: (err as Error).message }, 'docker events stream broke; reconnecting');
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      if (!signal?.aborted) await sleep(1_000);
    }
  }
}

interface EngineInfo {
  SecurityOptions?: string[];
  /** Podman's compatible /info says it here (4.x); its SecurityOptions do not name rootless. */
  Rootless?: boolean;
}

/** Whether the engine is Podman (its compatible /version names a "Podman Engine" component). */
export function isPodman(version: Pick<Dockerode.DockerVersion, 'Components'>): boolean {
  return (version.Components ?? []).some((c) => /podman/i.test(c.Name));
}

/** Whether the engine is Podman running as a user (no real root: sudo cannot work in its containers). */
export function isRootlessPodman(version: Pick<Dockerode.DockerVersion, 'Components'>, info: EngineInfo): boolean {
  return isPodman(version) && (info.Rootless === true || (info.SecurityOptions ?? []).some((o) => o.includes('rootless')));
}

interface DockerEvent {
  id?: string;
  Action?: string;
  status?: string;
  time?: number;
  timeNano?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

interface DockerStats {
  cpu_stats: { cpu_usage: { total_usage: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage?: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  pids_stats?: { current?: number };
}

/** Where the engine is, for error messages. */
export function describeEngine(docker: Dockerode): string {
  const m = docker.modem as unknown as { socketPath?: unknown; socketPathCache?: string; host?: string; port?: number; protocol?: string };
  if (typeof m.socketPath === 'string') return m.socketPath;
  // docker-modem's default is a function that picks ~/.docker/run/docker.sock or /var/run/docker.sock
  // on first use (cached after): printing it would print its source code.
  if (m.socketPath) return m.socketPathCache ?? 'the default Docker socket (~/.docker/run/docker.sock, else /var/run/docker.sock)';
  return `${m.protocol ?? 'http'}://${m.host}:${m.port}`;
}

// The interface the task engine uses to run task containers; DockerRuntime implements it.
import type { RepoPackage } from './repo-delivery.js';
import type { SshConnection } from './ssh.js';
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
  RepoImageResult,
  PtySize,
  ShellChannel,
  SpawnedProcess,
} from './types.js';
import type { Duplex } from 'node:stream';

export interface AdoptedContainer {
  handle: ContainerHandle;
  /** `ok` (connected), `stopped`, or why SSH failed. */
  ssh: 'ok' | 'stopped' | { error: string };
}

export interface ContainerRuntime {
  /** Why this engine cannot give a container sudo (rootless Podman), or null when it can. */
  readonly sudoRefusal: string | null;
  /** Creates and starts a hardened container; returns once Docker reports it running. */
  launch(spec: LaunchSpec): Promise<ContainerHandle>;
  /** Waits for sshd (banner, then a pinned handshake); the connection is pooled per container. */
  connect(h: ContainerHandle, opts?: { deadlineMs?: number; signal?: AbortSignal; onPhase?: (phase: string, ms: number) => void }): Promise<SshConnection>;
  exec(h: ContainerHandle, command: string, opts?: ExecOptions): Promise<ExecResult>;
  spawn(h: ContainerHandle, command: string, opts?: { cwd?: string }): Promise<SpawnedProcess>;
  /** A byte stream to a Unix socket in the container, over SSH (no process started); fails when nothing listens. */
  openSocket(h: ContainerHandle, path: string): Promise<SpawnedProcess>;
  writeFile(h: ContainerHandle, path: string, data: string | Buffer, mode?: number): Promise<void>;
  /** An interactive login shell on a PTY, over the container's pooled SSH connection. */
  shell(h: ContainerHandle, size: PtySize, term?: string): Promise<ShellChannel>;
  /** A TCP connection to a port on the container's loopback, over SSH (no published port). */
  forwardTcp(h: ContainerHandle, port: number, host?: LoopbackAddress): Promise<Duplex>;
  /**
   * Host side of delivering a repository (no container needed): commits resolved, objects packed,
   * the tree listed. `dispose()` what it returns once delivered or abandoned.
   */
  packRepo(spec: PushSpec): Promise<RepoPackage>;
  /**
   * Unpacks a packed repository into the container over SSH (no git transport) and builds its
   * index: branch checked out, upstream `origin/<base>`, `caic.base` set.
   */
  deliverRepo(h: ContainerHandle, pkg: RepoPackage, onPhase?: (phase: string, ms: number) => void): Promise<void>;
  /**
   * The repository at the spec's commits as an image on top of the task image, found or (with
   * `build`) loaded once per commit: a container launched from it has the repository in place with
   * no file created inside. Null when it does not exist and `build` is false.
   */
  repoImage(spec: PushSpec, opts: { build: boolean; image?: string }): Promise<RepoImageResult | null>;
  /** `packRepo` + `deliverRepo`. */
  pushRepo(h: ContainerHandle, spec: PushSpec): Promise<void>;
  fetchRepo(h: ContainerHandle, spec: FetchSpec): Promise<{ ref: string; sha: string }>;
  diff(h: ContainerHandle, repo: string, opts?: { patch?: boolean; path?: string }): Promise<DiffResult>;
  /** Replaces ~/.env (mode 0600) with these variables, sent over SSH stdin. */
  injectEnv(h: ContainerHandle, env: Record<string, string>): Promise<void>;
  /** The container's sudo password, or null when it was launched without sudo. */
  sudoPassword(h: ContainerHandle): Promise<string | null>;
  stop(h: ContainerHandle): Promise<void>;
  /** Starts a stopped container again; the SSH port changes, files and host key stay. */
  revive(h: ContainerHandle): Promise<ContainerHandle>;
  /** Removes the container and the host-side refs fetched from it (`refs/remotes/<name>/`). */
  purge(h: ContainerHandle, opts?: { hostRepos?: string[] }): Promise<void>;
  /** Every container carrying our label, in any state, rebuilt from its labels. */
  list(): Promise<ContainerHandle[]>;
  /**
   * After a daemon restart: every container of ours, and for running ones an SSH connection
   * checked against the pinned host key (pooled for what follows).
   */
  adopt(): Promise<AdoptedContainer[]>;
  stats(h: ContainerHandle): Promise<ContainerStats>;
  /** Die events of containers with our label, until `signal` aborts (reconnects on its own). */
  dieEvents(signal?: AbortSignal): AsyncIterable<DieEvent>;
}

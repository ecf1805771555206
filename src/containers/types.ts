// Types of the container layer: what the task engine asks for and what it gets back.
import type { Duplex, Readable, Writable } from 'node:stream';

/** One repository of a task, as recorded in the container's `caic.repos` label. */
export interface RepoLabel {
  /** Directory name under /home/user/src in the container. */
  name: string;
  /** The task branch (caic-N). */
  branch: string;
  /** The branch it started from (e.g. main). */
  baseBranch: string;
}

export interface LaunchSpec {
  taskId: string;
  harness: string;
  repos: RepoLabel[];
  /** Image to run; defaults to the runtime's image. */
  image?: string;
  /** Opt-in root inside the container through sudo and a per-container password. */
  sudo?: boolean;
  /** CPU cap in cores (default max(2, ncpu − 2)). */
  cpus?: number;
  /** Memory cap in bytes (default: none). */
  memoryBytes?: number;
  /** Most processes the container may run (default 4096). */
  pidsLimit?: number;
  /** Extra labels (must not start with `caic`); tests mark their containers with one. */
  labels?: Record<string, string>;
  /**
   * Files put in place with the host key, before the container starts (no SSH round trip later):
   * absolute paths under /home/user, owned by the user, with their directories.
   */
  files?: LaunchFile[];
  /**
   * The agent's relay, started by the container's entrypoint at its first start, as the user, while
   * sshd comes up: the session directory, then the command line. Placed with the host key, so it
   * must hold no secret (the relay reads ~/.env, written over SSH, when it starts the agent).
   */
  boot?: string[];
  /**
   * The network egress policy (presets expanded): anything but open gives the container a packet
   * filter and a proxy (images/agent/entrypoint.sh). Absent: open, exactly as without a policy.
   */
  egress?: { mode: 'open' | 'allowlist' | 'none'; allow: string[] };
  /** A Docker network to attach to instead of the default bridge. */
  network?: string;
  /** Progress: each phase of the launch with its duration. */
  onPhase?: (phase: string, ms: number) => void;
  signal?: AbortSignal;
}

/** A file placed with the host key before the container starts (under /home/user, the user's). */
export interface LaunchFile {
  path: string;
  content: string | Buffer;
  mode: number;
}

/** A repository state as an image that task containers start from (DockerRuntime.repoImage). */
export interface RepoImageResult {
  /** The image to launch (LaunchSpec.image). */
  image: string;
  branchSha: string;
  baseSha: string;
  /** Files of the work tree. */
  files: number;
  /** This call loaded the image (the first task from this commit). */
  built: boolean;
  /** The task's own repository files (HEAD on its branch, config, refs), for LaunchSpec.files. */
  place: LaunchFile[];
  /** To run in the container before the agent starts (paths git checks out itself); null: nothing. */
  prepare: string | null;
  /**
   * Call once a container was created from it (or none will be): until then the image is leased,
   * and the runtime's eviction of old repository images leaves it.
   */
  release: () => void;
}

/** Everything needed to reach a container again; rebuilt from labels after a daemon restart. */
export interface ContainerHandle {
  id: string;
  name: string;
  taskId: string;
  harness: string;
  repos: RepoLabel[];
  sudo: boolean;
  /** `SHA256:<base64>` of the container's own SSH host key; connections pin it. */
  hostKeyFingerprint: string;
  /** Host port of sshd on 127.0.0.1 (0 while the container is not running). */
  sshPort: number;
  /** Docker state: running, exited, created... */
  state: string;
  labels: Record<string, string>;
  /**
   * When the engine last started this container (ms since the epoch, by the engine's clock), where
   * an inspect told it: a die event from before then belongs to an earlier run of the container.
   */
  startedAt?: number;
  /**
   * Only on the handle `launch` returns: the container's entrypoint started LaunchSpec.boot. False
   * when the image's entrypoint does not know it (an image built before it did, without the
   * `caic.boot` label): the caller then starts the relay itself.
   */
  booted?: boolean;
}

export interface ExecOptions {
  /** Working directory inside the container. */
  cwd?: string;
  stdin?: string | Buffer | Readable;
  /**
   * Arguments for the command, as its positional parameters ("$1", "$@"): they travel on stdin,
   * never on the command line, so no value (a path, a commit message) is ever shell text. Not
   * together with `stdin`. Needs bash (the container user's shell).
   */
  args?: readonly string[];
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Aborting closes the channel (and signals the process). */
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Keep at most this many bytes of each stream in the result (default 16 MiB). */
  maxBuffer?: number;
}

export interface ExecResult {
  /** Exit status, or null when the process was killed by a signal or the channel closed first. */
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** A long-running process (the agent relay): raw streams, no buffering. */
export interface SpawnedProcess {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Resolves when the process exits or the channel closes. */
  wait(): Promise<{ code: number | null; signal?: string }>;
  /** Sends a signal (TERM by default) and closes the channel. */
  kill(signal?: string): void;
}

export interface DiffStatEntry {
  path: string;
  added: number;
  deleted: number;
  binary: boolean;
}

export interface DiffResult {
  stat: DiffStatEntry[];
  /** Unified diff, when asked for. */
  patch?: string;
}

export interface PushSpec {
  /** Host repository (absolute path). */
  hostRepo: string;
  /** Directory name in the container (/home/user/src/<name>). */
  name: string;
  /** Branch to create and check out in the container. */
  branch: string;
  /** Commit-ish on the host the branch points at (default `refs/heads/<branch>`). */
  branchRef?: string;
  /** The base branch; its commit (`baseRef`) becomes `origin/<baseBranch>` and the diff base. */
  baseBranch: string;
  /** Commit-ish on the host the branch started from (default: `branch` itself). */
  baseRef?: string;
  /** URL of the host's upstream remote, set as `origin` inside (https form, no credentials). */
  originUrl?: string;
}

export interface FetchSpec {
  hostRepo: string;
  name: string;
  branch: string;
  /**
   * When set, uncommitted work in the container is committed first, with this message (sent on
   * stdin, never on a command line) and this author and committer.
   */
  commit?: { message: string; author: { name: string; email: string } };
  /**
   * Fetch this commit instead of the branch's head (one the branch may have left behind: a fork
   * from an earlier message). It reaches the host under the same ref.
   */
  sha?: string;
}

export interface ContainerStats {
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  pids: number;
}

export interface DieEvent {
  id: string;
  name: string;
  taskId: string;
  exitCode: number | null;
  /** When the container died, by the engine's clock (to the millisecond where the engine says it). */
  time: Date;
}

/** A container's loopback address, where a forwarded TCP connection goes. */
export type LoopbackAddress = '127.0.0.1' | '::1';

/** A terminal's size in character cells. */
export interface PtySize {
  cols: number;
  rows: number;
}

/**
 * An interactive login shell on a PTY in the container (one SSH session channel): `stream` carries
 * the terminal's bytes both ways (stdout and stderr are one stream on a PTY).
 */
export interface ShellChannel {
  stream: Duplex;
  resize(size: PtySize): void;
  /** Resolves when the shell exits or the channel closes. */
  wait(): Promise<{ code: number | null; signal?: string }>;
  close(): void;
}

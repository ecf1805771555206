// The Engine API body of a task container: the hardened profile, as a pure function.
import { cpus } from 'node:os';

/**
 * What sshd needs to log a user in (privilege separation: setuid/setgid, chroot) and to hand a
 * terminal's PTY to the user (chown, then chmod of a file it no longer owns; the login record of a
 * terminal session is written to the audit log or the session ends). Measured. The user's processes
 * hold none of them (CapEff 0, no-new-privileges).
 */
export const BASE_CAPABILITIES = ['AUDIT_WRITE', 'CHOWN', 'FOWNER', 'SETGID', 'SETUID', 'SYS_CHROOT'] as const;
/**
 * Added with sudo, so root can administer files it does not own (dpkg; with CHOWN and FOWNER of the
 * base set; AUDIT_WRITE of the base set keeps sudo from printing "unable to send audit message"). Measured.
 */
export const SUDO_CAPABILITIES = ['DAC_OVERRIDE'] as const;

/**
 * Added when the task's egress policy is not open, for the entrypoint alone: it installs the packet
 * filter (NET_ADMIN), then drops both from its bounding set for good (SETPCAP is what allows that),
 * before it starts anything else (images/agent/entrypoint.sh).
 */
export const EGRESS_CAPABILITIES = ['NET_ADMIN', 'SETPCAP'] as const;

export const DEFAULT_PIDS_LIMIT = 4096;

export function defaultCpus(ncpu = cpus().length): number {
  return Math.max(2, ncpu - 2);
}

export interface CreateOptionsInput {
  name: string;
  image: string;
  labels: Record<string, string>;
  sudo: boolean;
  cpus?: number;
  memoryBytes?: number;
  pidsLimit?: number;
  /** The task's egress policy is not open: the entrypoint needs EGRESS_CAPABILITIES once. */
  egress?: boolean;
  /** A Docker network to attach to instead of the default bridge (`[core] network`). */
  network?: string;
}

export interface CreateOptions {
  _query: { name: string };
  _body: Record<string, unknown> & { HostConfig: Record<string, unknown> };
}

/**
 * Options go as `{_query, _body}`: otherwise docker-modem also copies every option (labels with
 * the sudo password) into the request URL.
 */
export function buildCreateOptions(input: CreateOptionsInput): CreateOptions {
  const caps = [...BASE_CAPABILITIES, ...(input.sudo ? SUDO_CAPABILITIES : []), ...(input.egress ? EGRESS_CAPABILITIES : [])].sort();
  const hostConfig: Record<string, unknown> = {
    // sshd on a random port of the loopback interface only.
    PortBindings: { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    CapDrop: ['ALL'],
    CapAdd: caps,
    // The default seccomp profile stays on. Without sudo nothing may gain privileges (setuid
    // binaries included), so the user cannot become root even if a password leaked.
    SecurityOpt: input.sudo ? [] : ['no-new-privileges:true'],
    Privileged: false,
    NetworkMode: input.network || 'bridge',
    IpcMode: 'private',
    // docker-init as PID 1 reaps the relay's orphans and forwards SIGTERM to sshd.
    Init: true,
    PidsLimit: input.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    NanoCpus: Math.round((input.cpus ?? defaultCpus()) * 1e9),
    // sshd listens on 22 without NET_BIND_SERVICE: low ports are unprivileged in the container's own
    // network namespace. Docker sets this by itself; Podman does not, and sshd then cannot bind.
    Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
    RestartPolicy: { Name: 'no' },
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
  };
  if (input.memoryBytes) {
    hostConfig.Memory = input.memoryBytes;
    hostConfig.MemorySwap = input.memoryBytes; // no swap beyond the cap
  }
  return {
    _query: { name: input.name },
    _body: {
      Image: input.image,
      Hostname: input.name.slice(0, 63),
      Labels: input.labels,
      ExposedPorts: { '22/tcp': {} },
      // Nothing secret ever goes here: tokens reach ~/.env over SSH.
      Env: [],
      HostConfig: hostConfig,
    },
  };
}

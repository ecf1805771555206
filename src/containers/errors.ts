// Errors of the container layer, worded for the person reading them.
export class ContainerError extends Error {
  override readonly name = 'ContainerError';
}

/** The container presented an SSH host key other than the one pinned at creation: never retried. */
export class HostKeyMismatchError extends ContainerError {}

export class DockerUnavailableError extends ContainerError {}

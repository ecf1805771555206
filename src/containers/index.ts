// Public surface of src/containers: the runtime the task engine drives, images, and pure helpers.
export type { ContainerRuntime, AdoptedContainer } from './runtime.js';
export { DockerRuntime, isPodman, isRootlessPodman, type DockerRuntimeOptions } from './docker.js';
export { engineClient, podmanSocket, resolveEngine, DOCKER_SOCKET, PODMAN_FIX, PODMAN_ROOT_SOCKET, type EngineEndpoint, type RuntimeChoice } from './engine.js';
export { connectSsh, probeBanner, waitForSsh, type SshConnection, type SshTarget } from './ssh.js';
export { buildTar, type ArchiveEntry } from './archive.js';
export * from './types.js';
export { ContainerError, HostKeyMismatchError, DockerUnavailableError } from './errors.js';
export { buildCreateOptions, BASE_CAPABILITIES, SUDO_CAPABILITIES, EGRESS_CAPABILITIES, defaultCpus, type CreateOptions } from './create-options.js';
export { containerName, repoDirName, sanitizeName } from './naming.js';
export { encodeLabels, decodeLabels, LABEL, type LabelSet } from './labels.js';
export { renderEnvFile, isEnvName, shellQuote } from './env-file.js';
export { generateSudoPassword, generateEd25519, fingerprint } from './secrets.js';
export {
  buildAgentImage,
  buildOfflineBase,
  ensureAgentImage,
  imageInfo,
  DEFAULT_IMAGE,
  OFFLINE_BASE_IMAGE,
  BASE_PACKAGES,
  EGRESS_LABEL,
  ONLINE_BASE_IMAGE,
} from './images.js';
export { parseNumstat, deleteRefs, containerRefPrefix } from './git.js';
export { prepareRepo, type RepoPackage, type RepoDeliverySpec } from './repo-delivery.js';
export { addAgent, agentImageCurrent, agentVersion, AGENT_CLIS, AGENT_RECIPES, labelledAgents, normalizeImageRef, parseImageEvent, parseProbe, probeAgents, tarballName, watchImages, type AgentCli, type ImageEventInfo, type ImageWatchEvent } from './agent-clis.js';
export {
  dataDisk,
  dockerRootDir,
  engineSnapshot,
  instanceId,
  removeOwnContainer,
  removeUnusedImage,
  INSTANCE_LABEL,
  type CaicContainer,
  type CaicImage,
  type DiskInfo,
  type EngineInfo,
  type EngineSnapshot,
  type ImageKind,
} from './hygiene.js';

// What the Docker engine holds of caic (engine, data disk, containers, images), read directly for
// `caic doctor`, the Settings health panel and the clean-up (src/tasks/hygiene.ts), and the
// removals that clean-up does, each checked again against the labels right before it.
import { createHash } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import type Dockerode from 'dockerode';
import { labelledAgents, normalizeImageRef, type AgentCli } from './agent-clis.js';
import { LABEL } from './labels.js';
import { REPO_IMAGE_LABEL } from './repo-image.js';

/** Label of the daemon (its state directory) that created a container: clean-up touches only its own. */
export const INSTANCE_LABEL = 'caic.instance';
const REPO_PARENT_LABEL = 'caic.repo.parent';
const REPO_PATH_LABEL = 'caic.repo.path';
const AGENT_IMAGE_LABEL = 'caic.image';

/** The instance id of a daemon: a hash of its state (cache) directory, the same whether or not it runs. */
export function instanceId(cacheDir: string): string {
  return createHash('sha256').update(resolve(cacheDir)).digest('hex').slice(0, 16);
}

export interface EngineInfo {
  version: string;
  apiVersion: string;
  os: string;
  /** Docker's data directory (DockerRootDir), where images, containers and their layers live. */
  rootDir: string;
  storageDriver: string;
}

export interface DiskInfo {
  path: string;
  freeBytes: number;
  totalBytes: number;
}

export interface CaicContainer {
  id: string;
  name: string;
  taskId: string;
  /** The daemon that made it ('' when it predates the label). */
  instance: string;
  state: string;
  image: string;
  imageId: string;
  createdMs: number;
  /** When it last stopped (0 while it runs or when the engine does not say). */
  finishedMs: number;
  labels: Record<string, string>;
}

export type ImageKind = 'agent' | 'repo' | 'base';

export interface CaicImage {
  id: string;
  tags: string[];
  kind: ImageKind;
  sizeBytes: number;
  createdMs: number;
  /** Agent CLIs and versions its labels record. */
  agents: Partial<Record<AgentCli, string>>;
  /** A repository image's agent image (its id) and host repository. */
  parentId?: string;
  repoPath?: string;
  /** Containers (of anyone, in any state) made from it. */
  containers: number;
  labels: Record<string, string>;
}

export interface EngineSnapshot {
  engine: EngineInfo;
  disk: DiskInfo | null;
  containers: CaicContainer[];
  images: CaicImage[];
  /** Ids of every tagged image on the engine (a repository image's parent among them can still start tasks). */
  taggedImageIds: Set<string>;
}

/** Tags as configured (Podman reports `docker.io/library/…` and `localhost/…` for the same names). */
const tagsOf = (i: Dockerode.ImageInfo) => (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>').map(normalizeImageRef);
const timeMs = (iso: string | undefined) => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) && t > 0 ? t : 0;
};

function kindOf(i: Dockerode.ImageInfo): ImageKind | null {
  const labels = i.Labels ?? {};
  if (labels[REPO_IMAGE_LABEL]) return 'repo';
  const tags = tagsOf(i);
  if (labels[AGENT_IMAGE_LABEL] === 'agent' || tags.some((t) => t.startsWith('caic-agent'))) return 'agent';
  if (tags.some((t) => t.startsWith('caic-base'))) return 'base';
  return null;
}

/**
 * Free space of Docker's data directory: statfs of DockerRootDir on this machine. Null when the
 * engine is elsewhere (DOCKER_HOST on another host) or the directory cannot be reached.
 */
export async function dataDisk(rootDir: string): Promise<DiskInfo | null> {
  if (!rootDir) return null;
  try {
    const s = await statfs(rootDir);
    return { path: rootDir, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return null;
  }
}

/**
 * Docker's data directory, asked of the engine once per client: it does not move while the engine
 * runs, and a task start (the free-disk admission) must not pay two Engine API calls for it.
 */
const rootDirs = new WeakMap<Dockerode, Promise<string>>();
export function dockerRootDir(docker: Dockerode): Promise<string> {
  let dir = rootDirs.get(docker);
  if (!dir) {
    dir = (docker.info() as Promise<{ DockerRootDir?: string }>).then((i) => i.DockerRootDir ?? '');
    // A failed answer is not kept: the next start asks again.
    dir.catch(() => rootDirs.delete(docker));
    rootDirs.set(docker, dir);
  }
  return dir;
}

export async function engineInfo(docker: Dockerode): Promise<EngineInfo> {
  const [version, info] = await Promise.all([docker.version(), docker.info() as Promise<{ DockerRootDir?: string; Driver?: string; OperatingSystem?: string }>]);
  return {
    version: version.Version ?? '',
    apiVersion: version.ApiVersion ?? '',
    os: info.OperatingSystem ?? '',
    rootDir: info.DockerRootDir ?? '',
    storageDriver: info.Driver ?? '',
  };
}

/** Everything of caic's on the engine: containers labelled `caic`, agent, repository and base images. */
export async function engineSnapshot(docker: Dockerode): Promise<EngineSnapshot> {
  const engine = await engineInfo(docker);
  const [all, images, disk] = await Promise.all([docker.listContainers({ all: true }), docker.listImages(), dataDisk(engine.rootDir)]);
  const used = new Map<string, number>();
  for (const c of all) used.set(c.ImageID, (used.get(c.ImageID) ?? 0) + 1);
  const ours = all.filter((c) => c.Labels?.[LABEL.task]);
  const containers = await Promise.all(
    ours.map(async (c): Promise<CaicContainer> => {
      let finishedMs = 0;
      if (c.State !== 'running') {
        // The list does not say when a container stopped; only those that did are inspected.
        const info = await docker
          .getContainer(c.Id)
          .inspect()
          .catch(() => null);
        finishedMs = timeMs(info?.State?.FinishedAt);
      }
      return {
        id: c.Id,
        name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
        taskId: c.Labels[LABEL.task] ?? '',
        instance: c.Labels[INSTANCE_LABEL] ?? '',
        state: c.State,
        image: c.Image,
        imageId: c.ImageID,
        createdMs: c.Created * 1000,
        finishedMs,
        labels: c.Labels,
      };
    }),
  );
  const caicImages: CaicImage[] = [];
  for (const i of images) {
    const kind = kindOf(i);
    if (!kind) continue;
    const labels = i.Labels ?? {};
    caicImages.push({
      id: i.Id,
      tags: tagsOf(i),
      kind,
      sizeBytes: i.Size,
      createdMs: i.Created * 1000,
      agents: labelledAgents(labels),
      ...(labels[REPO_PARENT_LABEL] ? { parentId: labels[REPO_PARENT_LABEL] } : {}),
      ...(labels[REPO_PATH_LABEL] ? { repoPath: labels[REPO_PATH_LABEL] } : {}),
      containers: used.get(i.Id) ?? 0,
      labels,
    });
  }
  const taggedImageIds = new Set(images.filter((i) => tagsOf(i).length > 0).map((i) => i.Id));
  return { engine, disk, containers, images: caicImages, taggedImageIds };
}

type DockerErr = { statusCode?: number; message?: string };

/**
 * Removes a container only when it still carries the `caic` label for `taskId` and this daemon's
 * instance label (checked again now: an id can be reused, a list can be old). False when it is not
 * ours (or gone).
 */
export async function removeOwnContainer(docker: Dockerode, id: string, expect: { taskId: string; instance: string }): Promise<boolean> {
  const c = docker.getContainer(id);
  const info = await c.inspect().catch((err: DockerErr) => {
    if (err.statusCode === 404) return null;
    throw err;
  });
  const labels = info?.Config?.Labels ?? {};
  if (!info || labels[LABEL.task] !== expect.taskId || !expect.taskId || labels[INSTANCE_LABEL] !== expect.instance || !expect.instance) return false;
  await c.remove({ force: true, v: true }).catch((err: DockerErr) => {
    if (err.statusCode !== 404) throw err;
  });
  return true;
}

/** Removes an image by id unless a container uses it (the engine refuses then: 409, kept). True when removed. */
export async function removeUnusedImage(docker: Dockerode, id: string): Promise<boolean> {
  try {
    await docker.getImage(id).remove({ noprune: false });
    return true;
  } catch (err) {
    const e = err as DockerErr;
    if (e.statusCode === 409 || e.statusCode === 404) return false;
    throw err;
  }
}

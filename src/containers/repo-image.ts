// Repository images: the task image plus one layer holding a repository at one commit, loaded once
// per commit and shared by every task started from it. A container started from one creates none of
// the repository's files itself: on some kernels each file created inside a container costs ~0.7 ms
// (a 1,000-file checkout ~0.7 s), while the layer's files are created once, by the engine's load.
// Old images of a repository are removed as new ones come, and all of a repository deleted from the host;
// one a container still uses stays.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { extract, pack } from 'tar-stream';
import type { Logger } from '../log/index.js';
import { ContainerError } from './errors.js';
import { follow } from './images.js';
import { buildRepoLayer, type ParentDir } from './repo-delivery.js';

/** Label of a repository image: a hash of the host repository's path (for eviction per repository). */
export const REPO_IMAGE_LABEL = 'caic.repo';
const LABELS = {
  path: 'caic.repo.path',
  parent: 'caic.repo.parent',
  commit: 'caic.repo.commit',
  files: 'caic.repo.files',
  checkout: 'caic.repo.checkout',
  /** When it was loaded, in ms (the engine's own time has whole seconds only). */
  built: 'caic.repo.built',
};
/** Repository images kept per host repository (besides any a container still uses). */
export const KEEP_PER_REPO = 3;
/** Part of every image's key: a change to what a layer holds makes new images. */
const FORMAT = '1';
const USER_ID = 1000;

export interface RepoImageSpec {
  hostRepo: string;
  /** Absolute directory of the repository in the container (/home/user/src/<name>). */
  dir: string;
  branchSha: string;
  baseSha: string;
}

export interface RepoImage {
  /** The image's tag, `caic-repo:<key>`. */
  image: string;
  files: number;
  /** Some paths must be checked out by git inside before the agent starts (checkoutInsideCommand). */
  checkoutInside: boolean;
  /** This call loaded it (the first task from this commit). */
  built: boolean;
  /**
   * Lets eviction remove it again. Until then it is leased: a task that got it but has no container
   * from it yet (the engine keeps only images a container uses) never sees it evicted by another.
   */
  release: () => void;
}

const repoKey = (hostRepo: string) => createHash('sha256').update(hostRepo).digest('hex').slice(0, 32);

export class RepoImages {
  /** Directories above a repository, per parent image id and directory. */
  private readonly parents = new Map<string, Promise<ParentDir[]>>();
  /** Loads under way, per tag: tasks from the same commit wait for one load. */
  private readonly building = new Map<string, Promise<Omit<RepoImage, 'release'>>>();
  /** Images handed out and not released yet, with their count: eviction leaves them. */
  private readonly leases = new Map<string, number>();

  constructor(
    private readonly docker: Dockerode,
    private readonly logger?: Logger,
  ) {}

  private async identify(parent: string, spec: RepoImageSpec): Promise<{ info: Dockerode.ImageInspectInfo; tag: string }> {
    let info: Dockerode.ImageInspectInfo;
    try {
      info = await this.docker.getImage(parent).inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) throw new ContainerError(`image ${parent} not found; build it with \`caic image build\``);
      throw err;
    }
    const key = createHash('sha256').update([FORMAT, info.Id, spec.hostRepo, spec.dir, spec.branchSha, spec.baseSha].join('\0')).digest('hex').slice(0, 40);
    return { info, tag: `caic-repo:${key}` };
  }

  /** The image for this repository state on top of `parent`, or null when it was not made yet. */
  async find(parent: string, spec: RepoImageSpec): Promise<RepoImage | null> {
    const { tag } = await this.identify(parent, spec);
    return this.leased(tag, () => this.existing(tag));
  }

  /** Holds a lease on `tag` while `get` runs and, when it gives an image, until that is released. */
  private async leased(tag: string, get: () => Promise<Omit<RepoImage, 'release'> | null>): Promise<RepoImage | null> {
    this.leases.set(tag, (this.leases.get(tag) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.leases.get(tag) ?? 1) - 1;
      if (n > 0) this.leases.set(tag, n);
      else this.leases.delete(tag);
    };
    try {
      const found = await get();
      if (!found) release();
      return found ? { ...found, release } : null;
    } catch (err) {
      release();
      throw err;
    }
  }

  private async existing(tag: string): Promise<Omit<RepoImage, 'release'> | null> {
    try {
      const labels = (await this.docker.getImage(tag).inspect()).Config?.Labels ?? {};
      return { image: tag, files: Number(labels[LABELS.files] ?? 0), checkoutInside: labels[LABELS.checkout] === '1', built: false };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  }

  /** The image for this repository state on top of `parent`, loaded when it does not exist. */
  async ensure(parent: string, spec: RepoImageSpec): Promise<RepoImage> {
    const { info, tag } = await this.identify(parent, spec);
    const got = await this.leased(tag, async () => {
      const found = await this.existing(tag);
      if (found) return found;
      let pending = this.building.get(tag);
      if (!pending) {
        pending = this.build(info, tag, spec).finally(() => this.building.delete(tag));
        this.building.set(tag, pending);
        return pending;
      }
      // Another task's load: this one did not build it.
      return { ...(await pending), built: false };
    });
    return got!;
  }

  private async build(parent: Dockerode.ImageInspectInfo, tag: string, spec: RepoImageSpec): Promise<Omit<RepoImage, 'release'>> {
    const parents = await this.parentDirs(parent.Id, spec.dir);
    const layer = await buildRepoLayer({ ...spec, parents });
    try {
      const labels: Record<string, string> = {
        ...(parent.Config?.Labels ?? {}),
        [REPO_IMAGE_LABEL]: repoKey(spec.hostRepo),
        [LABELS.path]: spec.hostRepo,
        [LABELS.parent]: parent.Id,
        [LABELS.commit]: spec.branchSha,
        [LABELS.files]: String(layer.files),
        [LABELS.built]: String(Date.now()),
      };
      if (layer.checkoutInside) labels[LABELS.checkout] = '1';
      // The image configuration as the engine stores it: the parent's, one more layer, our labels.
      const config = Buffer.from(
        JSON.stringify({
          architecture: parent.Architecture,
          os: parent.Os,
          ...((parent as { Variant?: string }).Variant ? { variant: (parent as { Variant?: string }).Variant } : {}),
          created: new Date().toISOString(),
          config: { ...parent.Config, Labels: labels },
          rootfs: { type: 'layers', diff_ids: [...(parent.RootFS.Layers ?? []), layer.diffId] },
          history: [],
        }),
      );
      // The parent's layers are in the engine already (found by their ids, their files never read).
      const layers = [...(parent.RootFS.Layers ?? []).map((_, i) => `parent-${i}/layer.tar`), 'repo/layer.tar'];
      const manifest = Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: layers }]));
      const archive = pack();
      const add = (name: string, content: Buffer) => new Promise<void>((resolve, reject) => archive.entry({ name, mode: 0o644 }, content, (err) => (err ? reject(err) : resolve())));
      const writing = (async () => {
        await add('config.json', config);
        await add('manifest.json', manifest);
        const sink = archive.entry({ name: 'repo/layer.tar', mode: 0o644, size: (await stat(layer.path)).size });
        const done = new Promise<void>((resolve, reject) => {
          sink.on('finish', resolve);
          sink.on('error', reject);
        });
        createReadStream(layer.path).pipe(sink);
        await done;
        archive.finalize();
      })();
      writing.catch((err: unknown) => archive.destroy(err as Error));
      const stream = await this.docker.loadImage(Readable.from(archive), { quiet: true });
      await follow(this.docker, stream, () => undefined);
      await writing;
      const made = await this.existing(tag);
      if (!made) throw new ContainerError(`loading the repository image ${tag} left no image`);
      this.logger?.info({ image: tag, repo: spec.hostRepo, commit: spec.branchSha, files: layer.files }, 'repository image loaded');
      void this.evict(spec.hostRepo, tag);
      return { ...made, built: true };
    } finally {
      await layer.dispose();
    }
  }

  /**
   * Owner and mode of the directories above `dir` as the image has them: a layer that names a
   * directory sets its attributes, so it must repeat them. Read from a container created (never
   * started) from the image, once per image.
   */
  private parentDirs(imageId: string, dir: string): Promise<ParentDir[]> {
    const key = `${imageId}\0${dir}`;
    let pending = this.parents.get(key);
    if (!pending) {
      pending = this.readParentDirs(imageId, dir);
      this.parents.set(key, pending);
      pending.catch(() => this.parents.delete(key));
    }
    return pending;
  }

  private async readParentDirs(imageId: string, dir: string): Promise<ParentDir[]> {
    const parts = dir.split('/').filter(Boolean);
    const paths = parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
    const container = await this.docker.createContainer({ Image: imageId, Entrypoint: ['/bin/true'], Cmd: [], Labels: { 'caic.probe': 'repo-image' }, HostConfig: { NetworkMode: 'none' } });
    try {
      return await Promise.all(
        paths.map(async (path): Promise<ParentDir> => {
          const first = await firstEntry(container, `/${path}`);
          // Missing in the image: made for the user under their home, else for root.
          return first ? { path, ...first } : { path, mode: 0o755, ...(path.startsWith('home/user') ? { uid: USER_ID, gid: USER_ID } : { uid: 0, gid: 0 }) };
        }),
      );
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  }

  /**
   * Removes this repository's older images beyond KEEP_PER_REPO; one a container uses is refused by
   * the engine and stays, one handed out and not released yet (leased) is left.
   */
  async evict(hostRepo: string, keep: string): Promise<void> {
    try {
      const images = await this.docker.listImages({ filters: { label: [REPO_IMAGE_LABEL] } });
      const key = repoKey(hostRepo);
      const free = (i: Dockerode.ImageInfo) => !(i.RepoTags ?? []).some((tag) => tag === keep || this.leases.has(tag));
      const old = images
        .filter((i) => i.Labels?.[REPO_IMAGE_LABEL] === key && free(i))
        .sort((a, b) => builtAt(b) - builtAt(a))
        .slice(KEEP_PER_REPO - 1);
      // Images of a repository deleted from the host: no task can start from them again. (Only
      // those whose path is known to be gone; a path this process cannot read stays.)
      const orphans: Dockerode.ImageInfo[] = [];
      for (const i of images) {
        const path = i.Labels?.[LABELS.path];
        if (i.Labels?.[REPO_IMAGE_LABEL] !== key && path && free(i) && (await pathGone(path))) orphans.push(i);
      }
      for (const image of [...old, ...orphans]) {
        await this.docker
          .getImage(image.Id)
          .remove()
          .catch((err: { statusCode?: number; message?: string }) => {
            if (err.statusCode !== 409 && err.statusCode !== 404) this.logger?.warn({ image: image.Id, err: err.message }, 'removing an old repository image failed');
          });
      }
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message }, 'listing repository images failed');
    }
  }
}

async function pathGone(path: string): Promise<boolean> {
  return access(path).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
  );
}

const builtAt = (i: Dockerode.ImageInfo) => Number(i.Labels?.[LABELS.built] ?? i.Created * 1000) || 0;

/** Mode and owner of the first entry of a path's archive (the path itself), or null when it does not exist. */
async function firstEntry(container: Dockerode.Container, path: string): Promise<{ mode: number; uid: number; gid: number } | null> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await container.getArchive({ path }));
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
  return new Promise((resolve, reject) => {
    const ex = extract();
    let done = false;
    ex.on('entry', (header, body) => {
      if (!done) {
        done = true;
        resolve({ mode: (header.mode ?? 0o755) & 0o7777, uid: header.uid ?? 0, gid: header.gid ?? 0 });
      }
      body.resume();
      (stream as unknown as { destroy(): void }).destroy();
      ex.destroy();
    });
    ex.on('error', (err) => (done ? undefined : reject(err)));
    ex.on('finish', () => (done ? undefined : resolve(null)));
    stream.on('error', (err: Error) => (done ? undefined : reject(err)));
    stream.pipe(ex);
  });
}

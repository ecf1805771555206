// A task's container with its repository in place. The task branch is created (after a fetch of the
// base) while the container already starts from the repository image of the commit the host has now,
// when one was made for that commit: its files come from an image layer, so the container creates
// none. When the fetch moved the base, that container goes and one from the fetched commit replaces
// it. The first task from a commit (or one whose container cannot start from the image) starts from
// the task image, takes the repository over SSH once sshd answers (DockerRuntime.deliverRepo), and
// makes the image for the tasks after it.
import { repoDirName, type ContainerHandle, type ContainerRuntime, type LaunchFile, type PushSpec, type RepoImageResult, type RepoPackage } from '../containers/index.js';
import { errorText } from './settle.js';

export interface TaskRepo {
  /** Repository name in the registry (repoDirName of it is the directory in the container). */
  name: string;
  path: string;
  branch: string;
  baseBranch: string;
  /** https URL for the container's `origin`. */
  originUrl?: string;
}

export interface Launched {
  handle: ContainerHandle;
  /** The commit the task branch starts from; null without a repository. */
  baseCommit: string | null;
  /** The repository, when it must still go in over SSH (no image could be made); dispose once done. */
  delivery: RepoPackage | null;
  /** To run in the container before the agent starts (paths git checks out itself); null: nothing. */
  prepare: string | null;
  /**
   * With `delivery`: makes the repository image of this commit for the tasks that start from it
   * later (call once this task is under way; its load would compete with this start).
   */
  warm: (() => Promise<void>) | null;
}

export interface LaunchDeps {
  runtime: ContainerRuntime;
  /** The task image (the runtime's own when absent). */
  image?: string;
  /** The host's base commit now, without a fetch; null when unknown. */
  guessBase(): Promise<string | null>;
  /** Creates the task branch (after fetching the base) and returns the commit it starts at. */
  createBranch(): Promise<string>;
  /**
   * Launches the container: from `image` (the task image when undefined), with the repository's
   * own files placed; `complete`: the repository is in place at the start (nothing goes in later).
   */
  launch(image: string | undefined, place: LaunchFile[], complete: boolean): Promise<ContainerHandle>;
  /** Removes a container that turned out to be the wrong one. */
  discard(handle: ContainerHandle): Promise<void>;
  log(phase: string, ms: number, message: string): void;
}

export async function launchTaskContainer(deps: LaunchDeps, repo: TaskRepo | null): Promise<Launched> {
  if (!repo) return { handle: await deps.launch(undefined, [], true), baseCommit: null, delivery: null, prepare: null, warm: null };
  const spec = (base: string): PushSpec => ({
    hostRepo: repo.path,
    name: repoDirName(repo.name),
    branch: repo.branch,
    // The branch is created at the base commit: both are known, nothing to look up.
    branchRef: base,
    baseBranch: repo.baseBranch,
    baseRef: base,
    ...(repo.originUrl ? { originUrl: repo.originUrl } : {}),
  });
  const image = deps.image ? { image: deps.image } : {};
  /**
   * The image of a commit when one was made already; null when not (the repository then goes over
   * SSH: loading an image takes longer than that delivery, so only later tasks gain from it).
   */
  const imageOf = async (base: string): Promise<RepoImageResult | null> => {
    const t = Date.now();
    try {
      const img = await deps.runtime.repoImage(spec(base), { build: false, ...image });
      deps.log('image', Date.now() - t, img ? `repository image found (${img.files} files at ${base.slice(0, 10)})` : `no repository image of ${base.slice(0, 10)} yet; the repository goes in over SSH`);
      return img;
    } catch (err) {
      deps.log('image', Date.now() - t, `no repository image (${errorText(err)}); the repository goes in over SSH`);
      return null;
    }
  };
  /** Made once per commit (tasks from it wait for one load), then left to eviction. */
  const warm = (base: string) => async () => (await deps.runtime.repoImage(spec(base), { build: true, ...image }))?.release();
  const launchFor = async (base: string, img: RepoImageResult | null): Promise<Launched> => {
    if (img) {
      const t = Date.now();
      try {
        return { handle: await deps.launch(img.image, img.place, img.prepare === null), baseCommit: base, delivery: null, prepare: img.prepare, warm: null };
      } catch (err) {
        // The image went between its look-up and the container's creation (removed by hand, or by
        // another daemon's eviction), or the engine refused it: the task image still serves.
        deps.log('image', Date.now() - t, `starting from the repository image failed (${errorText(err)}); the repository goes in over SSH`);
        return launchFor(base, null);
      } finally {
        img.release();
      }
    }
    // Packed on the host while the container starts.
    const t = Date.now();
    const [p, l] = await Promise.allSettled([deps.runtime.packRepo(spec(base)), deps.launch(undefined, [], false)]);
    if (p.status === 'rejected' || l.status === 'rejected') {
      if (p.status === 'fulfilled') await p.value.dispose();
      if (l.status === 'fulfilled') await deps.discard(l.value);
      throw p.status === 'rejected' ? p.reason : (l as PromiseRejectedResult).reason;
    }
    deps.log('pack', Date.now() - t, `packed ${repo.branch} (${p.value.files} files)`);
    return { handle: l.value, baseCommit: base, delivery: p.value, prepare: null, warm: warm(base) };
  };
  const drop = async (l: Launched) => {
    await l.delivery?.dispose();
    await deps.discard(l.handle);
  };

  const guess = await deps.guessBase().catch(() => null);
  const early = guess ? imageOf(guess).then((img) => launchFor(guess, img)) : Promise.resolve(null);
  const [b, e] = await Promise.allSettled([deps.createBranch(), early]);
  if (b.status === 'rejected') {
    if (e.status === 'fulfilled' && e.value) await drop(e.value);
    throw b.reason;
  }
  const base = b.value;
  if (guess === base) {
    if (e.status === 'rejected') throw e.reason;
    return e.value!;
  }
  // The fetch moved the base: the container from the old commit is not this task's.
  if (e.status === 'fulfilled' && e.value) {
    deps.log('image', 0, `the base moved to ${base.slice(0, 10)} while the container started; starting another`);
    await drop(e.value);
  }
  return launchFor(base, await imageOf(base));
}

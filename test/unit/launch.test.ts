// launchTaskContainer's choices with a scripted runtime: which image a task's container starts from,
// what it does when the fetch moves the base, and that no container is left behind on a failure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContainerHandle, ContainerRuntime, PushSpec, RepoImageResult, RepoPackage } from '../../src/containers/index.js';
import { launchTaskContainer, type LaunchDeps, type TaskRepo } from '../../src/tasks/launch.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const repo: TaskRepo = { name: 'proj', path: '/host/proj', branch: 'caic-1', baseBranch: 'main' };

function scripted(opts: { guess: string | null; base: string | Error; imageFails?: boolean; packFails?: boolean; imageLaunchFails?: boolean; missing?: boolean }) {
  const calls: string[] = [];
  /** Images handed out and not released. */
  const leased = new Set<string>();
  let next = 0;
  const runtime = {
    repoImage(spec: PushSpec, o: { build: boolean }): Promise<RepoImageResult | null> {
      calls.push(`image ${spec.baseRef!.slice(0, 1)} build=${o.build}`);
      if (opts.imageFails) return Promise.reject(new Error('load refused'));
      if (opts.missing && !o.build) return Promise.resolve(null);
      const image = `img-${spec.baseRef!.slice(0, 1)}`;
      leased.add(image);
      return Promise.resolve({ image, branchSha: spec.baseRef!, baseSha: spec.baseRef!, files: 3, built: false, place: [], prepare: null, release: () => leased.delete(image) });
    },
    packRepo(spec: PushSpec): Promise<RepoPackage> {
      calls.push(`pack ${spec.baseRef!.slice(0, 1)}`);
      if (opts.packFails) return Promise.reject(new Error('pack failed'));
      return Promise.resolve({ baseSha: spec.baseRef!, files: 3, dispose: () => (calls.push('dispose'), Promise.resolve()) } as unknown as RepoPackage);
    },
  } as unknown as ContainerRuntime;
  const deps: LaunchDeps = {
    runtime,
    guessBase: () => Promise.resolve(opts.guess),
    createBranch: () => (opts.base instanceof Error ? Promise.reject(opts.base) : Promise.resolve(opts.base)),
    launch: (image, _place, complete) => {
      if (image && opts.imageLaunchFails) {
        calls.push(`launch ${image} refused`);
        return Promise.reject(new Error(`image ${image} not found`));
      }
      const id = `c${++next}`;
      calls.push(`launch ${id} ${image ?? 'task-image'} complete=${complete}`);
      return Promise.resolve({ id, name: id } as ContainerHandle);
    },
    discard: (h) => (calls.push(`discard ${h.id}`), Promise.resolve()),
    log: () => undefined,
  };
  return { deps, calls, leased };
}

test('the image of the guessed base starts while the branch is made; used when the fetch agrees', async () => {
  const { deps, calls, leased } = scripted({ guess: A, base: A });
  const r = await launchTaskContainer(deps, repo);
  assert.equal(r.handle.id, 'c1');
  assert.equal(r.baseCommit, A);
  assert.equal(r.delivery, null);
  assert.deepEqual(calls, ['image a build=false', 'launch c1 img-a complete=true']);
  assert.deepEqual([...leased], [], 'the image is released once its container exists');
});

test('a container cannot start from the image (it vanished): the task image, the repository over SSH', async () => {
  const { deps, calls, leased } = scripted({ guess: A, base: A, imageLaunchFails: true });
  const r = await launchTaskContainer(deps, repo);
  assert.equal(r.handle.id, 'c1');
  assert.ok(r.delivery, 'the repository goes in over SSH');
  assert.equal(r.prepare, null);
  assert.deepEqual(calls.slice(0, 2), ['image a build=false', 'launch img-a refused']);
  assert.deepEqual(calls.slice(2).sort(), ['launch c1 task-image complete=false', 'pack a']);
  assert.deepEqual([...leased], [], 'released on the failure too');
});

test('the fetch moved the base: the early container goes, one from the new commit replaces it', async () => {
  const { deps, calls, leased } = scripted({ guess: A, base: B });
  const r = await launchTaskContainer(deps, repo);
  assert.equal(r.handle.id, 'c2');
  assert.equal(r.baseCommit, B);
  assert.deepEqual(calls, ['image a build=false', 'launch c1 img-a complete=true', 'discard c1', 'image b build=false', 'launch c2 img-b complete=true']);
  assert.deepEqual([...leased], []);
});

test('the branch fails: the container started meanwhile is removed, the error stands', async () => {
  const { deps, calls } = scripted({ guess: A, base: new Error('cannot lock ref') });
  await assert.rejects(launchTaskContainer(deps, repo), /cannot lock ref/);
  assert.deepEqual(calls, ['image a build=false', 'launch c1 img-a complete=true', 'discard c1']);
});

test('the first task from a commit: the repository over SSH, then the image made for the next ones', async () => {
  const { deps, calls, leased } = scripted({ guess: A, base: A, missing: true });
  const r = await launchTaskContainer(deps, repo);
  assert.ok(r.delivery && r.warm);
  assert.deepEqual(calls.slice(0, 1), ['image a build=false']);
  assert.deepEqual(calls.slice(1).sort(), ['launch c1 task-image complete=false', 'pack a']);
  await r.warm();
  assert.deepEqual(calls.slice(3), ['image a build=true']);
  assert.deepEqual([...leased], [], 'released once made');
});

test('no image can be made: the task image, the repository packed for SSH', async () => {
  const { deps, calls } = scripted({ guess: A, base: A, imageFails: true });
  const r = await launchTaskContainer(deps, repo);
  assert.ok(r.delivery);
  assert.deepEqual(calls.sort(), ['image a build=false', 'launch c1 task-image complete=false', 'pack a'].sort());
});

test('packing fails too: the container launched beside it goes', async () => {
  const { deps, calls } = scripted({ guess: A, base: A, imageFails: true, packFails: true });
  await assert.rejects(launchTaskContainer(deps, repo), /pack failed/);
  assert.ok(calls.includes('discard c1'), calls.join(', '));
});

test('no base known before the fetch, or no repository: nothing starts early', async () => {
  const { deps, calls } = scripted({ guess: null, base: B });
  assert.equal((await launchTaskContainer(deps, repo)).handle.id, 'c1');
  assert.deepEqual(calls, ['image b build=false', 'launch c1 img-b complete=true']);
  const bare = scripted({ guess: A, base: A });
  const r = await launchTaskContainer(bare.deps, null);
  assert.deepEqual([r.baseCommit, bare.calls], [null, ['launch c1 task-image complete=true']]);
});

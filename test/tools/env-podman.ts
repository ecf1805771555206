// CI (.ci/run, after env:docker): the images the container suite needs, in each Podman storage
// given on the command line (socket paths). No registry: the offline base (and Claude Code's test
// image) are copied from Docker's engine (save, then Podman's compatible load), and the agent image
// is built by Podman itself through its socket, the path `caic image build` takes on a Podman machine.
import Dockerode from 'dockerode';
import { ensureAgentImage, imageInfo, OFFLINE_BASE_IMAGE } from '../../src/containers/index.js';
import { CLAUDE_TEST_IMAGE } from './test-images.js';

const say = (line: string) => process.stdout.write(`env:podman: ${line}\n`);

/** Copies `ref` from Docker's engine into Podman's storage unless the same image is there. */
async function copy(docker: Dockerode, podman: Dockerode, ref: string, where: string): Promise<void> {
  const source = await imageInfo(docker, ref);
  if (!source) throw new Error(`${ref} is not in Docker's engine (env:docker makes it)`);
  // The same image: made at the same moment. A rootless load can give it another id (its layers'
  // owners are remapped), so ids do not say; its creation time travels in its config. One made
  // again on Docker since (a package joined the base) is loaded again, and takes the tag.
  const present = await imageInfo(podman, ref);
  if (present && Date.parse(String(present.Created)) === Date.parse(String(source.Created))) return;
  const t = Date.now();
  const loaded = await podman.loadImage(await docker.getImage(ref).get());
  loaded.resume();
  await new Promise((resolve, reject) => loaded.on('end', resolve).on('error', reject));
  say(`${where}: loaded ${ref} from Docker in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

async function prepare(socketPath: string): Promise<void> {
  const docker = new Dockerode({ socketPath: '/var/run/docker.sock', host: undefined, port: undefined, protocol: 'http' } as unknown as Dockerode.DockerOptions);
  const podman = new Dockerode({ socketPath, host: undefined, port: undefined, protocol: 'http' } as unknown as Dockerode.DockerOptions);
  await copy(docker, podman, OFFLINE_BASE_IMAGE, socketPath);
  const t = Date.now();
  const { tag, built } = await ensureAgentImage(podman, { offline: true });
  say(`${socketPath}: ${built ? `built ${tag} with Podman in ${((Date.now() - t) / 1000).toFixed(1)} s` : `${tag} is up to date`}`);
  if (built) {
    // The agent image it replaced, untagged now: this storage is the tests' own, and the hygiene
    // tests expect nothing of caic's left to clean.
    const stale = await podman.listImages({ filters: { dangling: ['true'], label: ['caic.image=agent'] } });
    for (const i of stale) await podman.getImage(i.Id).remove({ force: true }).catch(() => undefined);
  }
  // Claude Code's image, for the tests of a real agent CLI on Podman (the other agents' are skipped there).
  await copy(docker, podman, CLAUDE_TEST_IMAGE, socketPath);
}

const sockets = process.argv.slice(2);
Promise.all(sockets.map(prepare)).catch((err: unknown) => {
  process.stderr.write(`env:podman: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

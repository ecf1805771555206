// CI (.ci/run, after env:docker): the images the container suite needs, in each Podman storage
// given on the command line (socket paths). No registry: the offline base is copied from Docker's
// engine (save, then Podman's compatible load), and the agent image is built by Podman itself
// through its socket, the path `caic image build` takes on a Podman machine.
import Dockerode from 'dockerode';
import { ensureAgentImage, imageInfo, OFFLINE_BASE_IMAGE } from '../../src/containers/index.js';

const say = (line: string) => process.stdout.write(`env:podman: ${line}\n`);

async function prepare(socketPath: string): Promise<void> {
  const docker = new Dockerode({ socketPath: '/var/run/docker.sock', host: undefined, port: undefined, protocol: 'http' } as unknown as Dockerode.DockerOptions);
  const podman = new Dockerode({ socketPath, host: undefined, port: undefined, protocol: 'http' } as unknown as Dockerode.DockerOptions);
  const base = await imageInfo(docker, OFFLINE_BASE_IMAGE);
  if (!base) throw new Error(`${OFFLINE_BASE_IMAGE} is not in Docker's engine (env:docker makes it)`);
  let t = Date.now();
  if ((await imageInfo(podman, OFFLINE_BASE_IMAGE))?.Id.replace(/^sha256:/, '') !== base.Id.replace(/^sha256:/, '')) {
    const saved = await docker.getImage(OFFLINE_BASE_IMAGE).get();
    const loaded = await podman.loadImage(saved);
    loaded.resume();
    await new Promise((resolve, reject) => loaded.on('end', resolve).on('error', reject));
    say(`${socketPath}: loaded ${OFFLINE_BASE_IMAGE} from Docker in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  t = Date.now();
  const { tag, built } = await ensureAgentImage(podman, { offline: true });
  say(`${socketPath}: ${built ? `built ${tag} with Podman in ${((Date.now() - t) / 1000).toFixed(1)} s` : `${tag} is up to date`}`);
}

const sockets = process.argv.slice(2);
Promise.all(sockets.map(prepare)).catch((err: unknown) => {
  process.stderr.write(`env:podman: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

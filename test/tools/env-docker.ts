// npm run env:docker (npm test runs it first): makes sure a Docker engine answers, installing and
// starting Debian's docker.io when we are root, then builds the offline base and the agent image.
import { spawn, spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import Dockerode from 'dockerode';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { addAgent, AGENT_RECIPES, BASE_PACKAGES, buildOfflineBase, ensureAgentImage, OFFLINE_BASE_IMAGE, type AgentCli } from '../../src/containers/index.js';
import { TEST_AGENTS } from './test-images.js';

export { CLAUDE_TEST_IMAGE, CODEX_TEST_IMAGE, GEMINI_TEST_IMAGE, OPENCODE_TEST_IMAGE } from './test-images.js';

const DOCKERD_LOG = '/var/log/caic-dockerd.log';
const say = (line: string) => process.stdout.write(`env:docker: ${line}\n`);

function fail(line: string): never {
  process.stderr.write(`env:docker: ${line}\n`);
  process.exit(1);
}

const isRoot = process.getuid?.() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

function aptInstall(packages: string[]): void {
  say(`installing ${packages.join(', ')} from Debian's archive`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...packages]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) fail(`apt-get ${args[0]} failed (exit ${r.status}); install ${packages.join(' ')} by hand`);
  }
}

async function pingable(docker: Dockerode): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

async function ensureEngine(docker: Dockerode): Promise<void> {
  if (await pingable(docker)) return;
  if (!isRoot) fail('no Docker engine answers at /var/run/docker.sock and we are not root to install one (apt-get install docker.io, then start dockerd)');
  if (!has('dockerd')) aptInstall(['docker.io']);
  say(`starting dockerd (log: ${DOCKERD_LOG})`);
  const log = openSync(DOCKERD_LOG, 'a');
  // Detached: the engine outlives this script, as a system service would.
  spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] }).unref();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await pingable(docker)) {
      say('dockerd answers');
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  fail(`dockerd did not answer within 60 s; see ${DOCKERD_LOG}`);
}

/** Packages of BASE_PACKAGES the offline base lacks (one made before a package joined the list); null: no base. */
async function missingPackages(docker: Dockerode): Promise<string[] | null> {
  if (!(await docker.getImage(OFFLINE_BASE_IMAGE).inspect().then(() => true, () => false))) return null;
  // A TTY: the output comes back as written (no stream headers); lines are "<package> ii " when installed.
  const c = await docker.createContainer({ Image: OFFLINE_BASE_IMAGE, Tty: true, Entrypoint: ['dpkg-query', '-W', '-f', '${Package} ${db:Status-Abbrev}\\n'], Cmd: BASE_PACKAGES, HostConfig: { NetworkMode: 'none' } });
  try {
    await c.start();
    await c.wait();
    const text = (await c.logs({ stdout: true, stderr: true })).toString('utf8');
    const installed = new Set([...text.matchAll(/^(\S+) ii/gm)].map((m) => m[1]!));
    return BASE_PACKAGES.filter((p) => !installed.has(p));
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const docker = new Dockerode();
  await ensureEngine(docker);
  const missing = await missingPackages(docker);
  if ((missing === null || missing.length > 0) && !has('debootstrap')) {
    if (!isRoot) fail(`${OFFLINE_BASE_IMAGE} is missing${missing?.length ? ` ${missing.join(', ')}` : ''} and building it needs root and debootstrap`);
    aptInstall(['debootstrap']);
  }
  if (missing?.length) {
    // Made before these packages joined the list (iptables for egress policies): made again, and
    // the agent image after it (its context hash names the base's id).
    say(`${OFFLINE_BASE_IMAGE} lacks ${missing.join(', ')}: building it again`);
    await buildOfflineBase(docker, { onProgress: (line) => say(line) });
  }
  const started = Date.now();
  const { tag, built } = await ensureAgentImage(docker, { offline: true, onProgress: (line) => say(line) });
  say(built ? `built ${tag} in ${((Date.now() - started) / 1000).toFixed(1)} s` : `${tag} is up to date`);
  // The real-client tests run the agent CLIs, from the npm registry; downloads are kept between runs.
  const cacheDir = join(homedir(), '.cache', 'caic-test', 'npm');
  for (const [agent, { image, version }] of Object.entries(TEST_AGENTS) as [AgentCli, (typeof TEST_AGENTS)[AgentCli]][]) {
    const t = Date.now();
    const r = await addAgent(docker, agent, { base: tag, tag: image, version, cacheDir, onProgress: (line) => say(line) });
    say(`${image} has ${AGENT_RECIPES[agent].title} ${r.version} (${r.built ? `built in ${((Date.now() - t) / 1000).toFixed(1)} s` : 'up to date'})`);
  }
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));

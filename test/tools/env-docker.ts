// npm run env:docker (npm test runs it first): makes sure a Docker engine answers, installing and
// starting Debian's docker.io when we are root, then builds the offline base and the agent image.
import { spawn, spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import Dockerode from 'dockerode';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { addClaudeCode, ensureAgentImage, OFFLINE_BASE_IMAGE } from '../../src/containers/index.js';

/** The agent image plus Claude Code, for the real-client test. */
export const CLAUDE_TEST_IMAGE = 'caic-agent-claude:latest';

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

async function main(): Promise<void> {
  const docker = new Dockerode();
  await ensureEngine(docker);
  const baseMissing = !(await docker.getImage(OFFLINE_BASE_IMAGE).inspect().then(() => true, () => false));
  if (baseMissing && !has('debootstrap')) {
    if (!isRoot) fail(`${OFFLINE_BASE_IMAGE} is missing and building it needs root and debootstrap`);
    aptInstall(['debootstrap']);
  }
  const started = Date.now();
  const { tag, built } = await ensureAgentImage(docker, { offline: true, onProgress: (line) => say(line) });
  say(built ? `built ${tag} in ${((Date.now() - started) / 1000).toFixed(1)} s` : `${tag} is up to date`);
  // The real-client test runs Claude Code: its native binary comes from the npm registry.
  const claudeStarted = Date.now();
  const claude = await addClaudeCode(docker, {
    base: tag,
    tag: CLAUDE_TEST_IMAGE,
    cacheDir: join(homedir(), '.cache', 'caic-test', 'npm'),
    onProgress: (line) => say(line),
  });
  say(`${CLAUDE_TEST_IMAGE} has Claude Code ${claude.version} (${((Date.now() - claudeStarted) / 1000).toFixed(1)} s)`);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));

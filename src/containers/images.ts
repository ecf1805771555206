// Images: the offline base (debootstrap + import) and the agent image built from images/agent.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { buildTar } from './archive.js';
import { ContainerError } from './errors.js';

export const DEFAULT_IMAGE = 'caic-agent:latest';
export const OFFLINE_BASE_IMAGE = 'caic-base:bookworm';
export const ONLINE_BASE_IMAGE = 'debian:bookworm-slim';
/** Label on the agent image: hash of its build context and base, so a stale image is rebuilt. */
export const CONTEXT_LABEL = 'caic.context';
/**
 * Label of an agent image whose entrypoint starts the relay of /etc/caic/boot (LaunchSpec.boot).
 * Images built before it (and images made otherwise) lack it: their tasks' relays start over SSH.
 */
export const BOOT_LABEL = 'caic.boot';
/** Label of an agent image whose entrypoint enforces /etc/caic/egress.json (LaunchSpec.egress). */
export const EGRESS_LABEL = 'caic.egress';
// nftables: the egress filter goes in with one `nft -f` (an image without it falls back to iptables).
export const BASE_PACKAGES = ['openssh-server', 'git', 'sudo', 'ca-certificates', 'nodejs', 'procps', 'bash', 'iptables', 'nftables'];

export const AGENT_CONTEXT_DIR = fileURLToPath(new URL('../../../images/agent/', import.meta.url));

export type Progress = (line: string) => void;

async function contextFiles(): Promise<{ name: string; content: Buffer }[]> {
  const names = (await readdir(AGENT_CONTEXT_DIR)).sort();
  return Promise.all(names.map(async (name) => ({ name, content: await readFile(join(AGENT_CONTEXT_DIR, name)) })));
}

/** Identifies what an agent image was built from: its files and the base image's ID. */
export async function agentContextHash(baseImageId: string): Promise<string> {
  const h = createHash('sha256').update(baseImageId);
  for (const f of await contextFiles()) h.update(f.name).update('\0').update(f.content).update('\0');
  return h.digest('hex').slice(0, 32);
}

export async function imageInfo(docker: Dockerode, ref: string): Promise<Dockerode.ImageInspectInfo | null> {
  try {
    return await docker.getImage(ref).inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
}

/** Streams Engine build/pull progress to `onProgress`; rejects on an error message in the stream. */
export function follow(docker: Dockerode, stream: NodeJS.ReadableStream, onProgress: Progress): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: { error?: string }[]) => {
        const failed = err?.message ?? output.find((o) => o.error)?.error;
        if (failed) reject(new ContainerError(`image build failed: ${failed.trim()}`));
        else resolve();
      },
      (event: { stream?: string; status?: string; error?: string }) => {
        const line = (event.stream ?? event.status ?? event.error ?? '').trimEnd();
        if (line) onProgress(line);
      },
    );
  });
}

export interface BuildAgentOptions {
  base: string;
  tag?: string;
  onProgress?: Progress;
  noCache?: boolean;
}

/** Builds images/agent with the classic builder (Engine API /build), tagging it with its context hash. */
export async function buildAgentImage(docker: Dockerode, opts: BuildAgentOptions): Promise<string> {
  const tag = opts.tag ?? DEFAULT_IMAGE;
  const base = await imageInfo(docker, opts.base);
  // An online base may not be local yet: the build pulls it; the hash then uses its name.
  const hash = await agentContextHash(base?.Id ?? opts.base);
  const tar = await buildTar((await contextFiles()).map((f) => ({ path: f.name, content: f.content, mode: 0o644 })));
  const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, {
    t: tag,
    buildargs: { BASE: opts.base },
    labels: { [CONTEXT_LABEL]: hash },
    rm: true,
    forcerm: true,
    nocache: opts.noCache ?? false,
  });
  await follow(docker, stream, opts.onProgress ?? (() => {}));
  return tag;
}

/** Runs a host command, its output lines going to `onProgress`. */
export function run(cmd: string, args: string[], onProgress: Progress): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = (d: Buffer) => d.toString().split('\n').filter(Boolean).forEach(onProgress);
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('error', (err) => reject(new ContainerError(`${cmd} could not run: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new ContainerError(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

export interface OfflineBaseOptions {
  tag?: string;
  suite?: string;
  mirror?: string;
  onProgress?: Progress;
}

/**
 * Builds the base image without a registry: debootstrap a minimal Debian with the packages the
 * agent image needs, drop caches and docs, and import the tree (needs root and debootstrap).
 */
export async function buildOfflineBase(docker: Dockerode, opts: OfflineBaseOptions = {}): Promise<string> {
  const tag = opts.tag ?? OFFLINE_BASE_IMAGE;
  const onProgress = opts.onProgress ?? (() => {});
  if (process.getuid?.() !== 0) throw new ContainerError('building the offline base image needs root (debootstrap)');
  const dir = await mkdtemp(join(tmpdir(), 'caic-rootfs-'));
  try {
    onProgress(`debootstrap ${opts.suite ?? 'bookworm'} into ${dir}`);
    await run(
      'debootstrap',
      ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, opts.suite ?? 'bookworm', dir, opts.mirror ?? 'http://deb.debian.org/debian'],
      onProgress,
    );
    await run('sh', ['-c', `cd '${dir}' && rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* usr/share/doc/* usr/share/man/* usr/share/info/*`], onProgress);
    onProgress(`importing as ${tag}`);
    const [repo, version] = tag.split(':');
    const tar = spawn('tar', ['-C', dir, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stream = await docker.importImage(tar.stdout, { repo, tag: version ?? 'latest' });
    await follow(docker, stream, onProgress);
    return tag;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The agent image, built when it is missing or was built from other files or another base.
 * Offline: the debootstrap base is made first when it does not exist.
 */
export async function ensureAgentImage(
  docker: Dockerode,
  opts: { tag?: string; base?: string; offline?: boolean; onProgress?: Progress } = {},
): Promise<{ tag: string; built: boolean }> {
  const tag = opts.tag ?? DEFAULT_IMAGE;
  const base = opts.base ?? (opts.offline ? OFFLINE_BASE_IMAGE : ONLINE_BASE_IMAGE);
  if (opts.offline && !(await imageInfo(docker, base))) await buildOfflineBase(docker, { tag: base, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  const baseInfo = await imageInfo(docker, base);
  const current = await imageInfo(docker, tag);
  const wanted = await agentContextHash(baseInfo?.Id ?? base);
  if (current?.Config?.Labels?.[CONTEXT_LABEL] === wanted) return { tag, built: false };
  await buildAgentImage(docker, { base, tag, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  return { tag, built: true };
}


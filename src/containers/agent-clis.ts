// Agent CLIs as image layers: each comes from the npm registry (fetched on the host with `npm pack`,
// so the build needs no network), is added on top of an image, and leaves a label with its version.
// Also reads those labels back, and probes an image without labels for the CLIs it has.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { ContainerError } from './errors.js';
import { agentContextHash, CONTEXT_LABEL, follow, imageInfo, run, type Progress } from './images.js';

const execFileP = promisify(execFile);

export const AGENT_CLIS = ['claude', 'codex', 'gemini', 'opencode'] as const;
export type AgentCli = (typeof AGENT_CLIS)[number];

interface Recipe {
  title: string;
  /** The `caic image build` flag that adds it. */
  flag: string;
  /** Image label holding the installed version; `<label>.base` holds the image it was added to. */
  label: string;
  /** The command it installs (what the probe looks for). */
  command: string;
  /** The npm package whose version is the CLI's version. */
  versionPackage: string;
  /** npm specs to download for this version (platform packages carry the binaries). */
  packages(version: string): Promise<string[]>;
  /** Lays the build context out in `dir` from the downloaded tarballs; returns the Dockerfile after FROM. */
  context(dir: string, tarballs: string[], run: (cmd: string, args: string[]) => Promise<void>): Promise<string>;
}

const npmArch = () => (arch() === 'arm64' ? 'arm64' : 'x64');

/** Whether the CPU has AVX2 (OpenCode ships a "baseline" build for CPUs without it, as its installer picks). */
async function hasAvx2(): Promise<boolean> {
  if (arch() !== 'x64') return true;
  const info = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return /\bavx2\b/.test(info);
}

/** Runs npm; its failures (no npm, no registry, no such version) become one readable line. */
async function npm(args: string[]): Promise<string> {
  try {
    return (await execFileP('npm', args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    const why = e.code === 'ENOENT' ? 'npm is not installed' : (e.stderr ?? '').split('\n').find((l) => /ERR!|error/i.test(l))?.trim() || e.message.split('\n')[0];
    throw new ContainerError(`npm ${args.slice(0, 2).join(' ')} failed: ${why}`);
  }
}

async function latest(pkg: string): Promise<string> {
  const out = (await npm(['view', pkg, 'version', '--json'])).trim();
  const v = JSON.parse(out) as string | string[];
  const version = Array.isArray(v) ? v[v.length - 1] : v;
  if (typeof version !== 'string' || !version) throw new ContainerError(`npm has no version of ${pkg}`);
  return version;
}

/** Gemini CLI needs Node ≥ 20; the agent image's Debian Node is older, so it gets its own. */
const GEMINI_NODE_MAJOR = 24;

export const AGENT_RECIPES: Record<AgentCli, Recipe> = {
  claude: {
    title: 'Claude Code',
    flag: '--claude-code',
    label: 'caic.claude-code',
    command: 'claude',
    versionPackage: `@anthropic-ai/claude-code-linux-${npmArch()}`,
    packages: (v) => Promise.resolve([`@anthropic-ai/claude-code-linux-${npmArch()}@${v}`]),
    async context(dir, [tgz], run) {
      // A self-contained native binary.
      await run('tar', ['-xzf', tgz!, '-C', dir, 'package/claude']);
      await rename(join(dir, 'package', 'claude'), join(dir, 'claude'));
      return 'COPY claude /usr/local/bin/claude\nRUN chmod 0755 /usr/local/bin/claude && /usr/local/bin/claude --version\n';
    },
  },
  codex: {
    title: 'Codex CLI',
    flag: '--codex',
    label: 'caic.codex',
    command: 'codex',
    versionPackage: '@openai/codex',
    // The platform build is published as a tagged version of the same package.
    packages: (v) => Promise.resolve([`@openai/codex@${v}-linux-${npmArch()}`]),
    async context(dir, [tgz], run) {
      const triple = `${arch() === 'arm64' ? 'aarch64' : 'x86_64'}-unknown-linux-musl`;
      // The native binary with its helpers (rg, bwrap) in the layout it expects; not the voice runtime.
      await run('tar', ['-xzf', tgz!, '-C', dir, '--exclude', `package/vendor/${triple}/codex-resources/voice`, `package/vendor/${triple}`]);
      await rename(join(dir, 'package', 'vendor', triple), join(dir, 'codex'));
      return 'COPY codex /opt/codex\nRUN ln -s /opt/codex/bin/codex /usr/local/bin/codex && codex --version\n';
    },
  },
  gemini: {
    title: 'Gemini CLI',
    flag: '--gemini',
    label: 'caic.gemini-cli',
    command: 'gemini',
    versionPackage: '@google/gemini-cli',
    packages: async (v) => [`@google/gemini-cli@${v}`, `node-linux-${npmArch()}@${await latest(`node-linux-${npmArch()}@^${GEMINI_NODE_MAJOR}`)}`],
    async context(dir, [cli, node], run) {
      // One bundled script (no dependencies to install), run by its own Node.
      await mkdir(join(dir, 'gemini-cli'));
      await run('tar', ['-xzf', cli!, '-C', join(dir, 'gemini-cli'), '--strip-components=1', 'package/bundle', 'package/package.json']);
      await run('tar', ['-xzf', node!, '-C', join(dir, 'gemini-cli'), '--strip-components=2', 'package/bin/node']);
      await writeFile(join(dir, 'gemini'), '#!/bin/sh\nexec /opt/gemini-cli/node /opt/gemini-cli/bundle/gemini.js "$@"\n', { mode: 0o755 });
      return 'COPY gemini-cli /opt/gemini-cli\nCOPY gemini /usr/local/bin/gemini\nRUN /opt/gemini-cli/node --version\n';
    },
  },
  opencode: {
    title: 'OpenCode',
    flag: '--opencode',
    label: 'caic.opencode',
    command: 'opencode',
    versionPackage: 'opencode-ai',
    packages: async (v) => [`opencode-linux-${npmArch()}${(await hasAvx2()) ? '' : '-baseline'}@${v}`],
    async context(dir, [tgz], run) {
      // A self-contained native binary.
      await run('tar', ['-xzf', tgz!, '-C', dir, 'package/bin/opencode']);
      await rename(join(dir, 'package', 'bin', 'opencode'), join(dir, 'opencode'));
      return 'COPY opencode /usr/local/bin/opencode\nRUN chmod 0755 /usr/local/bin/opencode && /usr/local/bin/opencode --version\n';
    },
  },
};

/** `npm pack`'s file name for a spec such as `@openai/codex@0.171.0-linux-x64`. */
export function tarballName(spec: string): string {
  const at = spec.lastIndexOf('@');
  return `${spec.slice(0, at).replace(/^@/, '').replace('/', '-')}-${spec.slice(at + 1)}.tgz`;
}

async function download(spec: string, cacheDir: string, onProgress: Progress): Promise<string> {
  const file = join(cacheDir, tarballName(spec));
  if (await stat(file).then(() => true, () => false)) return file;
  onProgress(`downloading ${spec} from the npm registry`);
  await npm(['pack', spec, '--pack-destination', cacheDir]);
  if (!(await stat(file).then(() => true, () => false))) throw new ContainerError(`npm pack ${spec} did not leave ${file}`);
  return file;
}

export interface AddAgentOptions {
  /** The image to add the CLI to. */
  base: string;
  /** The image to tag (may equal `base`). */
  tag: string;
  /** An npm version; default: the newest. */
  version?: string;
  /** Keeps downloaded packages between builds (default: a folder in the temp directory). */
  cacheDir?: string;
  onProgress?: Progress;
}

/**
 * Adds one agent CLI to an image and labels it with the version. Does nothing when `tag` already
 * has this version on top of this very `base`.
 */
export async function addAgent(docker: Dockerode, agent: AgentCli, opts: AddAgentOptions): Promise<{ tag: string; version: string; built: boolean }> {
  const recipe = AGENT_RECIPES[agent];
  const onProgress = opts.onProgress ?? (() => {});
  const version = await agentVersion(agent, opts.version);
  const base = await imageInfo(docker, opts.base);
  if (!base) throw new ContainerError(`image ${opts.base} not found; build it with \`caic image build\``);
  const labels = { [recipe.label]: version, [`${recipe.label}.base`]: base.Id };
  const current = await imageInfo(docker, opts.tag);
  if (current && Object.entries(labels).every(([k, v]) => current.Config?.Labels?.[k] === v)) return { tag: opts.tag, version, built: false };
  const cacheDir = opts.cacheDir ?? join(tmpdir(), 'caic-npm-cache');
  await mkdir(cacheDir, { recursive: true });
  const tarballs: string[] = [];
  for (const spec of await recipe.packages(version)) tarballs.push(await download(spec, cacheDir, onProgress));
  const dir = await mkdtemp(join(tmpdir(), `caic-${agent}-`));
  try {
    const steps = await recipe.context(dir, tarballs, (cmd, args) => run(cmd, args, onProgress));
    await rm(join(dir, 'package'), { recursive: true, force: true });
    await writeFile(join(dir, 'Dockerfile'), `FROM ${base.Id}\n${steps}`);
    onProgress(`adding ${recipe.title} ${version} to ${opts.base} as ${opts.tag}`);
    const context = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stream = await docker.buildImage(context.stdout, { t: opts.tag, labels, rm: true, forcerm: true });
    await follow(docker, stream, onProgress);
    return { tag: opts.tag, version, built: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The version to install: the pinned one, else the newest on the npm registry. */
export async function agentVersion(agent: AgentCli, pinned?: string): Promise<string> {
  return pinned ?? (await latest(AGENT_RECIPES[agent].versionPackage));
}

/**
 * Whether `tag` already is what `caic image build` would make of `base` with exactly these agent
 * CLIs at these versions: the agent image of this very context (the base's ID is in its hash)
 * with one label per agent. A rerun then builds nothing at all, instead of counting on the
 * engine's layer cache to give back the same image: a prune of dangling images empties that cache,
 * and Podman turns the build API's labels into one LABEL step each in map order, so its cache
 * misses an unchanged layer half the time.
 */
export async function agentImageCurrent(docker: Dockerode, opts: { base: string; tag: string; agents: Partial<Record<AgentCli, string>> }): Promise<boolean> {
  const [base, current] = await Promise.all([imageInfo(docker, opts.base), imageInfo(docker, opts.tag)]);
  if (!base || !current) return false;
  const labels = current.Config?.Labels ?? {};
  if (labels[CONTEXT_LABEL] !== (await agentContextHash(base.Id))) return false;
  const has = labelledAgents(labels);
  return AGENT_CLIS.every((a) => has[a] === opts.agents[a]);
}

/** The agent CLIs an image's labels say it has, with their versions. */
export function labelledAgents(labels: Record<string, string> | null | undefined): Partial<Record<AgentCli, string>> {
  const out: Partial<Record<AgentCli, string>> = {};
  for (const agent of AGENT_CLIS) {
    const v = labels?.[AGENT_RECIPES[agent].label];
    if (v) out[agent] = v;
  }
  return out;
}

/** Label on probe containers, so nothing mistakes them for task containers. */
const PROBE_LABEL = 'caic.probe';

/**
 * For images that were not made by `caic image build` (no labels): runs one short-lived, locked
 * down container that looks each command up and asks for its version. Returns the agents found;
 * the version is the first line the CLI printed, or '' when it printed none in time.
 */
export async function probeAgents(docker: Dockerode, image: string, agents: readonly AgentCli[]): Promise<Partial<Record<AgentCli, string>>> {
  if (agents.length === 0) return {};
  const script = agents
    .map((a) => {
      const cmd = AGENT_RECIPES[a].command;
      return `if command -v ${cmd} >/dev/null 2>&1; then v=$(timeout 20 ${cmd} --version 2>/dev/null </dev/null | head -n 1); printf '%s\\t%s\\n' ${a} "$v"; fi`;
    })
    .join('\n');
  const container = await docker.createContainer({
    Image: image,
    Entrypoint: ['/bin/sh', '-c', script],
    User: '1000',
    Labels: { [PROBE_LABEL]: '1' },
    NetworkDisabled: true,
    HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], PidsLimit: 64, Memory: 512 * 1024 * 1024, AutoRemove: false },
  });
  try {
    await container.start();
    await container.wait();
    const logs: Buffer = await container.logs({ stdout: true, stderr: false });
    return parseProbe(demux(logs), agents);
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Docker multiplexes non-TTY logs in frames (8-byte header: stream, 3 zero bytes, length). */
function demux(buf: Buffer): string {
  let out = '';
  for (let i = 0; i + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(i + 4);
    if (buf[i] === 1) out += buf.subarray(i + 8, i + 8 + len).toString('utf8');
    i += 8 + len;
  }
  return out;
}

export function parseProbe(out: string, asked: readonly AgentCli[]): Partial<Record<AgentCli, string>> {
  const found: Partial<Record<AgentCli, string>> = {};
  for (const line of out.split('\n')) {
    const [name, version = ''] = line.split('\t');
    if (asked.includes(name as AgentCli)) found[name as AgentCli] = (/\d+\.\d+\.\d+[\w.+-]*/.exec(version)?.[0] ?? version.trim()).slice(0, 100);
  }
  return found;
}

export type ImageWatchEvent = 'connected' | 'event' | 'lost';

/** What an image event concerns: its action, the image id and the reference it names (if any). */
export interface ImageEventInfo {
  action: string;
  id: string;
  name: string;
}

/** One line of Docker's event stream; null when it is not an event we can read. */
export function parseImageEvent(line: string): ImageEventInfo | null {
  try {
    const ev = JSON.parse(line) as { Action?: unknown; Actor?: { ID?: unknown; Attributes?: Record<string, unknown> } };
    const name = ev.Actor?.Attributes?.name;
    return {
      action: typeof ev.Action === 'string' ? ev.Action : '',
      id: typeof ev.Actor?.ID === 'string' ? ev.Actor.ID : '',
      name: typeof name === 'string' ? name : '',
    };
  } catch {
    return null;
  }
}

/**
 * `caic-agent`, `docker.io/library/caic-agent:latest` and `localhost/caic-agent:latest` (Podman's
 * names for what it builds and loads) are all `caic-agent:latest`.
 */
export function normalizeImageRef(ref: string): string {
  let r = ref.replace(/^(?:docker\.io\/(?:library\/)?|localhost\/)/, '');
  // A tag is after the last '/': "host:5000/img" has a port, not a tag.
  if (!r.includes('@') && !r.slice(r.lastIndexOf('/') + 1).includes(':')) r += ':latest';
  return r;
}

/**
 * Reports Docker's image events (tag, untag, delete, load, import, pull) until `signal` aborts, and
 * whether the stream is up: after 'lost', changes may go unreported until the next 'connected'.
 * Reconnects by itself.
 */
export async function watchImages(docker: Dockerode, signal: AbortSignal, on: (what: ImageWatchEvent, event?: ImageEventInfo | null) => void): Promise<void> {
  while (!signal.aborted) {
    let stream: NodeJS.ReadableStream | undefined;
    try {
      stream = await docker.getEvents({ filters: { type: ['image'] } } as unknown as Parameters<Dockerode['getEvents']>[0]);
      on('connected');
      const onAbort = () => (stream as unknown as { destroy(): void }).destroy();
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        // A chunk may hold several events, or part of one.
        let rest = '';
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          const lines = (rest + chunk.toString('utf8')).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) if (line.trim()) on('event', parseImageEvent(line));
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    } catch {
      /* the engine went away: reconnect below */
    }
    if (signal.aborted) return;
    on('lost');
    await new Promise((r) => setTimeout(r, 2_000).unref());
  }
}

// A task's network egress: the policy decided at creation (config default, per-repository override,
// the request's own choice; presets expanded), and the watch that reads the container proxy's table
// of refused connections over SSH and logs it as `egress` events when it changed.
import { z } from 'zod';
import { EgressBlocked, MAX_EGRESS_ENTRIES, egressEntryProblem, type EgressMode, type EgressPolicy, type HarnessName } from '../api/index.js';
import type { ContainerRuntime } from '../containers/index.js';
import type { Logger } from '../log/index.js';
import { TaskError } from './errors.js';
import type { Task } from './task.js';
import { Rounds } from './rounds.js';

export interface EgressSettings {
  mode: EgressMode;
  allow: readonly string[];
  /** Per repository (its registry name): a mode and/or list that replace the global ones. */
  repos: readonly { name: string; mode?: EgressMode | undefined; allow?: readonly string[] | undefined }[];
  /** How often running tasks' blocked tables are read (ms; 0: never). */
  pollMs: number;
}

/** The package registries of the common ecosystems, with the hosts their downloads come from. */
export const REGISTRY_HOSTS = [
  'registry.npmjs.org',
  'registry.yarnpkg.com',
  'pypi.org',
  'files.pythonhosted.org',
  'crates.io',
  'index.crates.io',
  'static.crates.io',
  'static.rust-lang.org',
  'proxy.golang.org',
  'sum.golang.org',
  'deb.debian.org',
  'security.debian.org',
  'rubygems.org',
  'index.rubygems.org',
  'repo.maven.apache.org',
  'repo1.maven.org',
];

/** The model APIs each agent calls with its default setup. */
export const MODEL_HOSTS: Record<HarnessName, readonly string[]> = {
  claude: ['api.anthropic.com'],
  codex: ['api.openai.com', 'chatgpt.com', 'auth.openai.com'],
  gemini: ['generativelanguage.googleapis.com', 'cloudcode-pa.googleapis.com', 'oauth2.googleapis.com'],
  opencode: ['api.anthropic.com', 'api.openai.com', 'generativelanguage.googleapis.com', 'opencode.ai', 'models.dev'],
  fake: [],
};

/** Hosts a forge serves git, its API and downloads from, besides its own name. */
const FORGE_EXTRA: Record<string, readonly string[]> = {
  'github.com': ['api.github.com', 'codeload.github.com', '*.githubusercontent.com'],
  'gitlab.com': ['registry.gitlab.com'],
};

/** An allowlist entry for the host (and port, when not a default one) of a URL; null when it is none. */
export function urlEntry(value: string): string | null {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return null;
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || !u.hostname) return null;
  const host = u.hostname.toLowerCase();
  const entry = u.port ? `${host}:${u.port}` : host.replace(/^\[|\]$/g, '');
  return egressEntryProblem(entry) === undefined ? entry : null;
}

/**
 * `@forge`: the host of the repository's remote, the download hosts of the big forges, and the API
 * of a configured forge on that host (`[github] api_url` of a GitHub Enterprise, say).
 */
export function forgeHosts(remoteURL: string, forges: readonly { url: string; apiUrl?: string }[] = []): string[] {
  const remote = urlEntry(remoteURL);
  if (!remote) return [];
  const host = remote.split(':')[0]!;
  const apis = forges.filter((f) => urlEntry(f.url)?.split(':')[0] === host && f.apiUrl).map((f) => urlEntry(f.apiUrl!)).filter((e): e is string => e !== null);
  return [...new Set([remote, ...(FORGE_EXTRA[host] ?? []), ...apis])];
}

/** `@model`: the agent's API hosts and the host of every *_BASE_URL (or *_API_URL, *_ENDPOINT) in its environment. */
export function modelHosts(harness: HarnessName, env: Record<string, string>): string[] {
  const fromEnv = Object.entries(env)
    .filter(([k]) => /(_BASE_URL|_API_URL|_ENDPOINT)$/.test(k))
    .map(([, v]) => urlEntry(v))
    .filter((e): e is string => e !== null);
  return [...MODEL_HOSTS[harness], ...fromEnv];
}

export interface EgressContext {
  /** The task's repository (registry name), when it has one. */
  repo?: string;
  /** What @forge and @model stand for here. */
  forge: readonly string[];
  model: readonly string[];
}

/**
 * The policy a new task gets: the request's mode (else the repository's, else the global one) and
 * its list (else the repository's, else the global one), presets expanded, duplicates dropped; an
 * empty list unless the mode is allowlist.
 */
export function resolveEgress(req: { mode: EgressMode; allow?: string[] | undefined } | undefined, settings: EgressSettings, ctx: EgressContext): EgressPolicy {
  const repo = ctx.repo === undefined ? undefined : settings.repos.find((r) => r.name === ctx.repo);
  const mode = req?.mode ?? repo?.mode ?? settings.mode;
  if (mode !== 'allowlist') return { mode, allow: [] };
  const listed = req?.allow ?? repo?.allow ?? settings.allow;
  const out: string[] = [];
  for (const raw of listed) {
    const e = raw.trim().toLowerCase();
    const expanded = e === '@registries' ? REGISTRY_HOSTS : e === '@forge' ? ctx.forge : e === '@model' ? ctx.model : [e];
    for (const x of expanded) if (!out.includes(x)) out.push(x);
  }
  if (out.length > MAX_EGRESS_ENTRIES) throw new TaskError('BAD_REQUEST', `egress: the allowlist has ${out.length} entries with its presets expanded (at most ${MAX_EGRESS_ENTRIES})`);
  return { mode, allow: out };
}

/** root in a sudo container can take the proxy's identity: a policy there would be a promise it cannot keep. */
export function checkEgressWithSudo(policy: EgressPolicy, sudo: boolean): void {
  if (sudo && policy.mode !== 'open') {
    throw new TaskError(
      'BAD_REQUEST',
      `egress: a task with sudo cannot have an egress policy (${policy.mode}): root in the container could take the egress proxy's identity. Start it without sudo, or with egress {"mode":"open"}`,
    );
  }
}

// ---- the blocked table --------------------------------------------------------------------

/** Where the container's proxy keeps its table (images/agent/egress-proxy.pl). */
export const BLOCKED_TABLE_COMMAND = 'cat /run/caic-egress/blocked.json 2>/dev/null';
const MAX_ROWS = 300;
const BlockedFile = z.object({
  blocked: z
    .array(EgressBlocked.extend({ host: z.string().min(1).max(300), port: z.number().int().min(0).max(65535), count: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }))
    .max(MAX_ROWS),
});

/** The proxy's table as the daemon takes it: the container is the agent's, so anything malformed is nothing. */
export function parseBlockedTable(text: string): EgressBlocked[] | null {
  try {
    const r = BlockedFile.safeParse(JSON.parse(text));
    return r.success ? r.data.blocked : null;
  } catch {
    return null;
  }
}

export interface EgressWatchDeps {
  runtime: () => ContainerRuntime;
  logger: Logger;
  pollMs: number;
  /** Tasks whose agent runs. */
  live: () => Iterable<Task>;
}

export class EgressWatch {
  private readonly rounds: Rounds;

  constructor(private readonly deps: EgressWatchDeps) {
    this.rounds = new Rounds(deps.pollMs, () => this.round());
  }

  start(): void {
    this.rounds.start();
  }

  close(): Promise<void> {
    return this.rounds.close();
  }

  /** One read of every live task with a policy (never two rounds at once). */
  tick(): Promise<void> {
    return this.rounds.tick();
  }

  private async round(): Promise<void> {
    await Promise.all(
      [...this.deps.live()].map((task) =>
        this.read(task).catch((err: unknown) => this.deps.logger.debug({ task: task.id, err: (err as Error).message }, 'reading the egress table failed')),
      ),
    );
  }

  private async read(task: Task): Promise<void> {
    const handle = task.handle;
    if ((task.meta.egress?.mode ?? 'open') === 'open' || !handle || handle.state !== 'running' || !handle.sshPort) return;
    const r = await this.deps.runtime().exec(handle, BLOCKED_TABLE_COMMAND, { timeoutMs: 10_000, maxBuffer: 256 * 1024 });
    const table = parseBlockedTable(r.stdout);
    if (!table || task.handle?.id !== handle.id) return;
    const last = task.transcript?.egressBlocked ?? [];
    if (JSON.stringify(last) === JSON.stringify(table)) return;
    task.record({ type: 'caic_egress', blocked: table });
  }
}

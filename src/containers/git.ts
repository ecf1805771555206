// Host-side git: push into and fetch from a container through the ext:: bridge; numstat parsing.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { unquoteGitPath } from '../api/index.js';
import { ContainerError } from './errors.js';
import type { DiffStatEntry } from './types.js';

const execFileP = promisify(execFile);
const BRIDGE = fileURLToPath(new URL('./git-bridge.js', import.meta.url));

/** How git reaches one container: the bridge reads these from its environment. */
export interface BridgeTarget {
  label: string;
  port: number;
  keyFile: string;
  hostKeyFingerprint: string;
}

/** ext:: splits its command on spaces; `% ` is a literal space and `%%` a percent sign. */
function extEscape(s: string): string {
  return s.replace(/%/g, '%%').replace(/ /g, '% ');
}

export function extUrl(containerRepoPath: string): string {
  return `ext::${extEscape(process.execPath)} ${extEscape(BRIDGE)} %S ${extEscape(containerRepoPath)}`;
}

export async function git(cwd: string, args: string[], env?: NodeJS.ProcessEnv, input?: string): Promise<string> {
  try {
    const run = execFileP('git', args, { cwd, env: env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
    if (input !== undefined) run.child.stdin?.end(input);
    const { stdout } = await run;
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    const detail = (e.stderr ?? e.message).trim().split('\n').slice(-3).join(' | ');
    throw new ContainerError(`git ${args[0]} in ${cwd} failed: ${detail}`);
  }
}

function bridgeEnv(t: BridgeTarget): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CAIC_SSH_PORT: String(t.port),
    CAIC_SSH_KEY_FILE: t.keyFile,
    CAIC_SSH_HOST_KEY: t.hostKeyFingerprint,
    CAIC_SSH_LABEL: t.label,
    // Never prompt: there is no terminal behind the daemon.
    GIT_TERMINAL_PROMPT: '0',
  };
}

/** Force-pushes refspecs into the container's repository, skipping host hooks and tags. */
export async function pushToContainer(hostRepo: string, target: BridgeTarget, containerRepo: string, refspecs: string[]): Promise<void> {
  await git(
    hostRepo,
    ['-c', 'protocol.ext.allow=always', 'push', '--quiet', '--no-verify', '--no-follow-tags', '--force', extUrl(containerRepo), ...refspecs],
    bridgeEnv(target),
  );
}

export async function fetchFromContainer(hostRepo: string, target: BridgeTarget, containerRepo: string, refspecs: string[]): Promise<void> {
  await git(hostRepo, ['-c', 'protocol.ext.allow=always', 'fetch', '--quiet', '--no-tags', extUrl(containerRepo), ...refspecs], bridgeEnv(target));
}

/** Where a sync fetches a container's branches on the host: `refs/remotes/<container>/`. */
export function containerRefPrefix(containerName: string): string {
  return `refs/remotes/${containerName}/`;
}

/** Deletes refs: each pattern is a ref or a prefix ending in `/` (e.g. refs/remotes/<container>/). */
export async function deleteRefs(hostRepo: string, patterns: string | string[]): Promise<number> {
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  if (!list.length) return 0;
  const refs = (await git(hostRepo, ['for-each-ref', '--format=%(refname)', ...list])).split('\n').filter(Boolean);
  if (!refs.length) return 0;
  // One git process for all of them (update-ref --stdin), not one per ref.
  await git(hostRepo, ['update-ref', '--stdin'], undefined, refs.map((r) => `delete ${r}\n`).join(''));
  return refs.length;
}

/** `git diff --numstat` lines: `added<TAB>deleted<TAB>path`, `-` for binary files. */
export function parseNumstat(text: string): DiffStatEntry[] {
  return text
    .split('\n')
    .filter((l) => l.includes('\t'))
    .map((line) => {
      const [a, d, ...rest] = line.split('\t');
      const binary = a === '-' && d === '-';
      // Git quotes unusual paths ("dir/\303\251.txt"); every consumer wants the real name.
      return { path: unquoteGitPath(rest.join('\t')), added: binary ? 0 : Number(a), deleted: binary ? 0 : Number(d), binary };
    });
}

// Remote URL → forge repository: which configured forge a git remote points at, and its owner/repo.
import type { ForgeKind } from '../api/index.js';
import type { ForgeRepo } from './types.js';

/** The forge instances caic is configured for (web base URLs: `[github] url`, `[gitlab] url`). */
export interface ForgeHosts {
  github: string;
  gitlab: string;
}

const MAX_URL = 2048;
// GitHub: owner [A-Za-z0-9-], repo [A-Za-z0-9._-]; GitLab paths also allow '.' and '_' in groups.
const SEGMENT = /^[A-Za-z0-9_.-]{1,255}$/;

interface Where {
  scheme: 'http' | 'https' | 'ssh' | 'git';
  host: string;
  /** Only for http(s): the port must match the configured instance's. */
  port: string;
  path: string;
}

/** Splits the URL forms git accepts for a remote; null for anything else (local paths, file://, garbage). */
function locate(remote: string): Where | null {
  const url = remote.trim();
  if (!url || url.length > MAX_URL || /[\s\0\\]/.test(url)) return null;
  // Dot segments would be resolved away by URL parsing: a remote that needs them is not a forge's.
  if (/(?:^|[/:])\.{1,2}(?:\/|$)/.test(url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, ''))) return null;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme) {
    const s = scheme === 'git+ssh' || scheme === 'ssh+git' ? 'ssh' : scheme;
    if (s !== 'http' && s !== 'https' && s !== 'ssh' && s !== 'git') return null;
    const u = URL.parse(s === 'ssh' || s === 'git' ? url.replace(/^[^:]+:/, 'http:') : url);
    if (!u || !u.hostname || u.search || u.hash) return null;
    let path = u.pathname;
    // ssh://git@host:~user/repo is a home-relative path: not a forge remote.
    if (path.startsWith('/~')) return null;
    path = path.replace(/^\//, '');
    return { scheme: s, host: u.hostname.toLowerCase(), port: s === 'http' || s === 'https' ? u.port : '', path };
  }
  // scp-like: [user@]host:path (no "//" after the colon, host without a slash).
  const scp = /^(?:([^@/:]+)@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?!\/\/)(.+)$/.exec(url);
  if (!scp) return null;
  const host = scp[2]!.toLowerCase().replace(/^\[|\]$/g, '');
  const path = scp[3]!.replace(/^\//, '');
  if (path.startsWith('~')) return null;
  return { scheme: 'ssh', host, port: '', path };
}

function hostOf(base: string): { host: string; port: string; origin: string } | null {
  const u = URL.parse(base);
  if (!u || !u.hostname) return null;
  return { host: u.hostname.toLowerCase(), port: u.port, origin: u.origin };
}

function matches(where: Where, base: { host: string; port: string }, aliases: string[]): boolean {
  if (where.host !== base.host && !aliases.includes(where.host)) return false;
  // ssh and git:// run on their own ports; http(s) must be the instance's.
  return where.scheme === 'ssh' || where.scheme === 'git' || where.port === base.port;
}

/**
 * The forge repository a remote URL names, among the configured instances; null when it is on no
 * configured forge or is not a well-formed owner/repo path. Never throws.
 */
export function parseRemote(remote: string, hosts: ForgeHosts): ForgeRepo | null {
  try {
    const where = locate(remote);
    if (!where) return null;
    for (const kind of ['github', 'gitlab'] as ForgeKind[]) {
      const base = hostOf(hosts[kind]);
      if (!base) continue;
      // github.com also answers SSH on ssh.github.com (port 443).
      const aliases = kind === 'github' && base.host === 'github.com' ? ['ssh.github.com', 'www.github.com'] : [];
      if (!matches(where, base, aliases)) continue;
      const path = where.path.replace(/\/+$/, '').replace(/\.git$/i, '');
      const parts = path.split('/');
      if (parts.some((p) => !SEGMENT.test(p) || p === '.' || p === '..' || p.endsWith('.git'))) return null;
      if (kind === 'github') {
        // A GHE instance may be served under a path prefix; github.com never is.
        if (parts.length !== 2) return null;
        return { kind, baseUrl: base.origin, owner: parts[0]!, repo: parts[1]! };
      }
      // GitLab: group/subgroup/…/project; "-" starts GitLab's own routes, never a namespace.
      if (parts.length < 2 || parts.length > 21 || parts.includes('-')) return null;
      return { kind, baseUrl: base.origin, owner: parts.slice(0, -1).join('/'), repo: parts.at(-1)! };
    }
    return null;
  } catch {
    return null;
  }
}

// XDG base directories and path helpers (`~` expansion, resolution against the config dir, the start directory).
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

type Env = Record<string, string | undefined>;

export function expandHome(p: string, home = homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}

/** Resolves a user-supplied path: `~` expands, relative paths are taken from `base`. */
export function resolvePath(base: string, p: string): string {
  const expanded = expandHome(p);
  return isAbsolute(expanded) ? expanded : resolve(base, expanded);
}

function xdgDir(env: Env, variable: string, fallback: string): string {
  const value = env[variable];
  // The XDG spec says relative values are invalid and must be ignored.
  return value && isAbsolute(value) ? join(value, 'caic') : join(homedir(), fallback, 'caic');
}

export function defaultConfigDir(env: Env = process.env): string {
  return xdgDir(env, 'XDG_CONFIG_HOME', '.config');
}

export function defaultCacheDir(env: Env = process.env): string {
  return xdgDir(env, 'XDG_CACHE_HOME', '.cache');
}

/**
 * The directory the user started caic from. Under `npm start` (also `npm --prefix <checkout>
 * start`) the process runs in the checkout, and npm passes the directory it was invoked from as
 * INIT_CWD; otherwise it is the working directory.
 */
export function startDirectory(env: Env = process.env, cwd = process.cwd()): string {
  const init = env.INIT_CWD;
  return init && isAbsolute(init) ? init : cwd;
}

/**
 * `[core] root` when the file does not set it: the start directory, except the file-system root,
 * which is where a service manager starts a process that names no directory (searching /proc and
 * /usr finds nothing and costs); the home directory then.
 */
export function defaultRoot(startDir: string, home = homedir()): string {
  return resolve(startDir) === resolve('/') ? home : startDir;
}

// ~/.env in the container: validated names, single-quoted values, loaded by every bash.
import { ContainerError } from './errors.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isEnvName(name: string): boolean {
  return NAME.test(name);
}

/**
 * POSIX single-quoting: the result is one shell word whatever the value holds, except a NUL byte,
 * which no command line can carry (sshd drops the whole connection over one): refused here.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new ContainerError('refusing to put a NUL byte on a command line');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Renders `NAME='value'` lines; throws on a name a shell could not hold. */
export function renderEnvFile(env: Record<string, string>): string {
  const lines = Object.entries(env).map(([name, value]) => {
    if (!isEnvName(name)) throw new Error(`invalid environment variable name "${name}"`);
    if (value.includes('\0')) throw new Error(`environment variable ${name} contains a NUL byte`);
    return `${name}=${shellQuote(value)}`;
  });
  return lines.length ? `# Written by caic; loaded by every bash (see /etc/caic-env.sh).\n${lines.join('\n')}\n` : '';
}

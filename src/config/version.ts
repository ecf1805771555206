// The daemon's version, read once from package.json (the single place it is written).
import { readFileSync } from 'node:fs';

function readVersion(): string {
  // Runs compiled as dist/src/config/version.js: three levels below the package root.
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  if (typeof pkg.version === 'string') return pkg.version;
  throw new Error('package.json has no version');
}

export const VERSION = readVersion();

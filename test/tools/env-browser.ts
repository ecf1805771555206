// npm run env:browser (npm test runs it after env:docker): makes sure Debian's Chromium is at /usr/bin/chromium for the e2e tests.
import { accessSync, constants, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** Same path as CHROMIUM_PATH in test/helpers/browser.ts (kept apart so this script needs no playwright-core). */
const CHROMIUM = '/usr/bin/chromium';

const say = (line: string) => process.stdout.write(`env:browser: ${line}\n`);

function fail(line: string): never {
  process.stderr.write(`env:browser: ${line}\n`);
  process.exit(1);
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function apt(args: string[]): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  return spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
}

function install(): void {
  if (process.getuid?.() !== 0) {
    fail(`${CHROMIUM} is missing and we are not root to install it: run \`sudo apt-get install -y chromium\` (Debian), then npm run env:browser`);
  }
  if (!existsSync('/etc/debian_version')) fail(`${CHROMIUM} is missing and this is not Debian: install Chromium so that ${CHROMIUM} runs it`);
  say("installing chromium from Debian's archive");
  const started = Date.now();
  // With recommends (as DESIGN.md's verified command): chromium-common pulls in fonts for screenshots.
  const installArgs = ['install', '-y', '-qq', 'chromium'];
  // The package lists are often fresh already (the Docker step may have just updated them): only
  // update when the install fails without it.
  if (!apt(installArgs)) {
    say('install failed with the current package lists; running apt-get update and trying again');
    if (!apt(['update', '-qq'])) fail('apt-get update failed; install chromium by hand');
    if (!apt(installArgs)) fail('apt-get install chromium failed; install it by hand');
  }
  say(`installed chromium in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (!executable(CHROMIUM)) install();
if (!executable(CHROMIUM)) fail(`${CHROMIUM} is still missing after installing chromium`);
// Debian's launcher script can print shell noise on stderr (its /dev/shm probe); only stdout matters.
const version = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 });
if (version.status !== 0 || !version.stdout.trim()) fail(`\`${CHROMIUM} --version\` failed (exit ${version.status ?? version.signal})`);
say(`${version.stdout.trim()} at ${CHROMIUM}`);

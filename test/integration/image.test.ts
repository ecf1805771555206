// `caic image build` as a user runs it, against real Docker: the agent image, an agent CLI added as
// a layer from the npm registry (its download kept in $XDG_CACHE_HOME/caic/npm), the labels that
// readiness reads, the CLI runnable in a container; a second run changes nothing; bad flags fail
// before anything is built.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AGENT_RECIPES, tarballName } from '../../src/containers/index.js';
import { tempDir } from '../helpers/tmp.js';
import { engineDocker, engineEnv } from '../helpers/engine.js';
import { TEST_AGENTS } from '../tools/test-images.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const docker = engineDocker();
const tag = `caic-test-image-${randomBytes(4).toString('hex')}:latest`;
after(async () => {
  await docker.getImage(tag).remove().catch(() => undefined);
});

function caic(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command in a throwaway container of the image (no network, no capabilities). */
async function inImage(image: string, cmd: string[]): Promise<string> {
  const c = await docker.createContainer({ Image: image, Entrypoint: cmd, User: '1000', NetworkDisabled: true, HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'] } });
  try {
    await c.start();
    await c.wait();
    const logs: Buffer = await c.logs({ stdout: true, stderr: true });
    // Multiplexed frames: 8-byte headers before each chunk.
    let out = '';
    for (let i = 0; i + 8 <= logs.length; i += 8 + logs.readUInt32BE(i + 4)) out += logs.subarray(i + 8, i + 8 + logs.readUInt32BE(i + 4)).toString();
    return out;
  } finally {
    await c.remove({ force: true });
  }
}

test('caic image build --offline --claude-code: labels with the version, the CLI runs, a rerun builds nothing', { timeout: 600_000 }, async () => {
  await using dir = await tempDir('caic-image-');
  const version = TEST_AGENTS.claude.version;
  // The package npm would download, from the test cache (env:docker fetched it).
  const npmCache = join(dir.path, 'xdg-cache', 'caic', 'npm');
  await mkdir(npmCache, { recursive: true });
  const spec = `${AGENT_RECIPES.claude.versionPackage}@${version}`;
  await symlink(join(homedir(), '.cache', 'caic-test', 'npm', tarballName(spec)), join(npmCache, tarballName(spec)));
  const env = { PATH: process.env.PATH, HOME: dir.path, XDG_CACHE_HOME: join(dir.path, 'xdg-cache'), ...engineEnv() };
  const args = ['image', 'build', '--offline', '--tag', tag, '--claude-code', '--claude-code-version', version];

  const first = await caic(args, env);
  assert.equal(first.code, 0, first.stderr + first.stdout.slice(-2000));
  assert.match(first.stdout, new RegExp(`^built ${tag} on caic-base:bookworm$`, 'm'));
  assert.match(first.stdout, new RegExp(`^added Claude Code ${version.replace(/\./g, '\\.')} to ${tag}$`, 'm'));
  const image = await docker.getImage(tag).inspect();
  const labels = image.Config.Labels ?? {};
  assert.equal(labels['caic.claude-code'], version, 'the version readiness reads');
  assert.match(labels['caic.claude-code.base'] ?? '', /^sha256:[0-9a-f]{64}$/, 'the image the layer was added to');
  assert.match(labels['caic.context'] ?? '', /^[0-9a-f]{32}$/, 'the agent image underneath');
  assert.equal(labels['caic.codex'], undefined, 'no other agent');
  assert.match(await inImage(tag, ['claude', '--version']), new RegExp(`^${version.replace(/\./g, '\\.')} \\(Claude Code\\)`));

  const second = await caic(args, env);
  assert.equal(second.code, 0, second.stderr);
  assert.equal((await docker.getImage(tag).inspect()).Id, image.Id, 'nothing changed, nothing rebuilt');
  // Decided from the labels, not by the engine's layer cache (which a prune empties, and which
  // Podman's build-API labels defeat): no build step ran at all.
  assert.match(second.stdout, new RegExp(`^${tag.replace(/[.:]/g, '\\$&')} is up to date on caic-base:bookworm with Claude Code ${version.replace(/\./g, '\\.')}: nothing to build`, 'm'));
  assert.doesNotMatch(second.stdout, /^(built|added) /m);
});

test('caic image build: a version without its agent, or not a version, fails before any build', async () => {
  await using dir = await tempDir('caic-image-');
  const env = { PATH: process.env.PATH, HOME: dir.path, XDG_CACHE_HOME: join(dir.path, 'xdg-cache'), ...engineEnv() };
  for (const [args, message] of [
    [['--codex-version', '0.171.0'], /^caic: --codex-version needs --codex$/],
    [['--gemini', '--gemini-version', '1;reboot'], /^caic: --gemini-version: "1;reboot" is not a version$/],
  ] as const) {
    const r = await caic(['image', 'build', '--offline', '--tag', tag, ...args], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr.trim(), message);
    assert.equal(r.stdout, '', 'nothing was built');
  }
});

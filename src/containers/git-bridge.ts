#!/usr/bin/env node
// git's `ext::` transport into a container: git runs this program, which carries the smart
// protocol over an ssh2 exec channel to git-upload-pack/git-receive-pack inside, with the same
// pinned host key as the daemon. No OpenSSH client and no ~/.ssh files are involved.
import { readFileSync } from 'node:fs';
import { shellQuote } from './env-file.js';
import { connectSsh } from './ssh.js';

const SERVICES = new Set(['git-upload-pack', 'git-receive-pack']);

async function main(): Promise<number> {
  const [service, repoPath] = process.argv.slice(2);
  const { CAIC_SSH_PORT, CAIC_SSH_KEY_FILE, CAIC_SSH_HOST_KEY, CAIC_SSH_LABEL } = process.env;
  if (!service || !SERVICES.has(service) || !repoPath) throw new Error(`usage: git-bridge <git-upload-pack|git-receive-pack> <path>`);
  if (!CAIC_SSH_PORT || !CAIC_SSH_KEY_FILE || !CAIC_SSH_HOST_KEY) throw new Error('CAIC_SSH_PORT, CAIC_SSH_KEY_FILE and CAIC_SSH_HOST_KEY must be set');
  const conn = await connectSsh({
    label: CAIC_SSH_LABEL ?? `127.0.0.1:${CAIC_SSH_PORT}`,
    port: Number(CAIC_SSH_PORT),
    privateKey: readFileSync(CAIC_SSH_KEY_FILE, 'utf8'),
    hostKeyFingerprint: CAIC_SSH_HOST_KEY,
  });
  const proc = await conn.spawn(`${service} ${shellQuote(repoPath)}`);
  process.stdin.pipe(proc.stdin);
  proc.stdout.pipe(process.stdout);
  proc.stderr.pipe(process.stderr);
  const { code } = await proc.wait();
  conn.close();
  return code ?? 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`caic git bridge: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 128;
  },
);

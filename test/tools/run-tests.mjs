// Runs every compiled test file (dist/test/**/*.test.js) with node:test (Node ≥ 22); a hang is a failure, not a stall.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}

const only = process.argv.slice(2);
const files = find('dist/test')
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/test (run npm run build first)');
  process.exit(1);
}
// Test files are mostly I/O bound (sockets, child processes): run several at once even on 2 cores.
const concurrency = process.env.CAIC_TEST_CONCURRENCY ?? '4';
// Every test and hook gets this budget unless it declares its own ({ timeout } on the test or its
// suite, for the few that drive real agents or a browser): the longest ones take ~35 s alone, so
// this leaves room for a loaded machine while a hang fails in two minutes instead of never.
const timeoutMs = process.env.CAIC_TEST_TIMEOUT_MS ?? '120000';
// The contract hook (dist/test/tools/contract-hook.js): every test process, and every node child
// that inherits the environment (the caic CLI), checks caic's answers against
// android-api/openapi.json and writes each mismatch as a JSON line into this directory.
const HOOK = resolve('dist/test/tools/contract-hook.js');
const contractDir = mkdtempSync(join(tmpdir(), 'caic-contract-'));
const env = { ...process.env };
if (existsSync(HOOK)) {
  env.CAIC_CONTRACT_DIR = contractDir;
  env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --import=${HOOK}`.trim();
}
const result = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${timeoutMs}`,
    // A timed-out test leaves its sockets and timers behind; without this its file would never exit.
    '--test-force-exit',
    ...files,
  ],
  { stdio: 'inherit', env },
);
const mismatches = readdirSync(contractDir).flatMap((f) =>
  readFileSync(join(contractDir, f), 'utf8')
    .split('\n')
    .filter(Boolean),
);
rmSync(contractDir, { recursive: true, force: true });
if (mismatches.length > 0) {
  // The same mistake seen by many tests is listed once, with how often.
  const counts = new Map();
  for (const line of mismatches) counts.set(line, (counts.get(line) ?? 0) + 1);
  console.error(`\ncontract: ${mismatches.length} answer(s) of caic do not match android-api/openapi.json:`);
  for (const [line, n] of counts) console.error(`  ${n > 1 ? `${n}× ` : ''}${line}`);
  process.exit(1);
}
process.exit(result.status ?? 1);

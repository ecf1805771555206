// Runs every compiled test file (dist/test/**/*.test.js) with node:test (Node ≥ 22); a hang is a failure, not a stall.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

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
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);

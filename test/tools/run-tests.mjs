// Runs every compiled test file (dist/test/**/*.test.js) with node:test (Node ≥ 22); a hang is a failure, not a stall.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}

/** Relative imports and whether it imports dockerode, per compiled module (read once each). */
const modules = new Map();
function moduleOf(file) {
  let m = modules.get(file);
  if (!m) {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((x) => x[1]);
    m = { dockerode: specs.includes('dockerode'), deps: specs.filter((x) => x.startsWith('.')).map((x) => resolve(dirname(file), x)) };
    modules.set(file, m);
  }
  return m;
}

/**
 * The container suite, by a rule rather than a list: test files outside test/e2e that reach the engine, i.e. that
 * import dockerode or test/helpers/engine.ts, themselves or through test helpers (containers.ts,
 * task-env.ts, …). test/helpers/daemon.ts does not count: every test daemon asks engine.ts where the
 * engine is, whether or not its test ever starts a container.
 */
function usesEngine(file, seen = new Set()) {
  if (seen.has(file) || !file.includes(`${sep}dist${sep}test${sep}`) || file.endsWith(`${sep}helpers${sep}daemon.js`) || !existsSync(file)) return false;
  if (file.endsWith(`${sep}helpers${sep}engine.js`)) return true;
  seen.add(file);
  const m = moduleOf(file);
  return m.dockerode || m.deps.some((d) => usesEngine(d, seen));
}

const only = process.argv.slice(2);
// CAIC_TEST_ENGINE=podman|podman-rootless: the container suite on that engine (test/helpers/engine.ts).
const engine = process.env.CAIC_TEST_ENGINE ?? 'docker';
const files = find('dist/test')
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  // The browser tests drive the same daemon paths through the UI: on Podman the integration tests
  // cover the engine, and the suite stays within CI's time.
  .filter((f) => engine === 'docker' || (!f.includes(`${sep}e2e${sep}`) && usesEngine(resolve(f))))
  .sort();
if (engine !== 'docker') console.log(`run-tests: the container suite on ${engine}: ${files.length} files`);
if (process.env.CAIC_TEST_LIST) {
  // What would run, one file a line, and nothing else.
  for (const f of files) console.log(f);
  process.exit(0);
}
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

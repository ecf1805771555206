// The pre-push safety scan: every secret pattern, only added lines, one finding per file and kind, the binary size limit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addedLines, LARGE_BINARY_BYTES, scan } from '../../src/tasks/index.js';

/** A `git diff -U0` patch adding `lines` to `file`. */
const patchOf = (file: string, lines: string[], removed: string[] = []) =>
  [
    `diff --git a/${file} b/${file}`,
    'index 0000000..1111111 100644',
    `--- a/${file}`,
    `+++ b/${file}`,
    `@@ -1,${removed.length} +1,${lines.length} @@`,
    ...removed.map((l) => `-${l}`),
    ...lines.map((l) => `+${l}`),
  ].join('\n');

/** Each sample trips exactly its own pattern, so disabling that pattern fails its test. */
function secretFindings(line: string): string[] {
  return scan(patchOf('src/config.ts', ['const unrelated = 1;', line]), []).map((i) => `${i.kind}: ${i.detail}`);
}

describe('secret patterns, each on its own', () => {
  test('AWS access key', () => {
    assert.deepEqual(secretFindings('const id = AKIAIOSFODNN7EXAMPLE;'), ['secret: AWS access key in an added line']);
    assert.deepEqual(secretFindings('const id = ASIAY34FZKBOKMUTVV7A;'), ['secret: AWS access key in an added line']);
    assert.deepEqual(secretFindings('const id = AKIAIOSFODNN7EXAMPL;'), [], 'one character short');
  });

  test('GitHub token', () => {
    assert.deepEqual(secretFindings(`const gh = ghp_${'a1B2'.repeat(9)};`), ['secret: GitHub token in an added line']);
    assert.deepEqual(secretFindings(`const gh = gho_${'Z'.repeat(36)};`), ['secret: GitHub token in an added line']);
    assert.deepEqual(secretFindings(`const gh = github_pat_${'x_Y9'.repeat(16)};`), ['secret: GitHub token in an added line']);
    assert.deepEqual(secretFindings(`const gh = ghp_${'a'.repeat(20)};`), [], 'too short to be a token');
  });

  test('private key', () => {
    assert.deepEqual(secretFindings('-----BEGIN OPENSSH PRIVATE KEY-----'), ['secret: private key in an added line']);
    assert.deepEqual(secretFindings('-----BEGIN PRIVATE KEY-----'), ['secret: private key in an added line']);
    assert.deepEqual(secretFindings('-----BEGIN PUBLIC KEY-----'), [], 'a public key is fine');
  });

  test('API key (Anthropic, OpenAI)', () => {
    assert.deepEqual(secretFindings(`const k = sk-ant-api03-${'q'.repeat(24)};`), ['secret: API key in an added line']);
    assert.deepEqual(secretFindings(`const k = sk-proj-${'Q7'.repeat(12)};`), ['secret: API key in an added line']);
    assert.deepEqual(secretFindings(`const k = sk-${'m'.repeat(32)};`), ['secret: API key in an added line']);
    assert.deepEqual(secretFindings('const k = sk-short;'), []);
  });

  test('hard-coded credential', () => {
    assert.deepEqual(secretFindings('password = "correct-horse-battery"'), ['secret: hard-coded credential in an added line']);
    assert.deepEqual(secretFindings("db.secret: 'l0ng-enough-value'"), ['secret: hard-coded credential in an added line']);
    assert.deepEqual(secretFindings('API_KEY="abcdefgh12345678"'), ['secret: hard-coded credential in an added line']);
    assert.deepEqual(secretFindings('password = "short"'), [], 'under 8 characters');
    assert.deepEqual(secretFindings('password = process.env.PASSWORD'), [], 'read from the environment');
  });
});

describe('what is scanned', () => {
  test('only added lines count; removed and context lines do not', () => {
    const patch = [
      'diff --git a/a.txt b/a.txt',
      '--- a/a.txt',
      '+++ b/a.txt',
      '@@ -1,2 +1,2 @@',
      '-const old = AKIAIOSFODNN7EXAMPLE;',
      ' const context = AKIAIOSFODNN7EXAMPLE;',
      '+const fine = 1;',
    ].join('\n');
    assert.deepEqual(scan(patch, []), []);
    assert.deepEqual([...addedLines(patch)], [['a.txt', ['const fine = 1;']]]);
  });

  test('one finding per file and kind; each file reported; deleted files ignored', () => {
    const patch = [
      patchOf('one.txt', ['AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLF', '-----BEGIN RSA PRIVATE KEY-----']),
      patchOf('two.txt', ['AKIAIOSFODNN7EXAMPLE']),
      ['diff --git a/gone.txt b/gone.txt', 'deleted file mode 100644', '--- a/gone.txt', '+++ /dev/null', '@@ -1 +0,0 @@', '-AKIAIOSFODNN7EXAMPLE'].join('\n'),
    ].join('\n');
    assert.deepEqual(scan(patch, []), [
      { file: 'one.txt', kind: 'secret', detail: 'AWS access key in an added line' },
      { file: 'one.txt', kind: 'secret', detail: 'private key in an added line' },
      { file: 'two.txt', kind: 'secret', detail: 'AWS access key in an added line' },
    ]);
  });

  test('binaries over the size limit, and only those', () => {
    const issues = scan('', [
      { path: 'at-limit.bin', bytes: LARGE_BINARY_BYTES },
      { path: 'over.bin', bytes: LARGE_BINARY_BYTES + 1 },
      { path: 'huge.bin', bytes: 3 * 1024 * 1024 },
    ]);
    assert.deepEqual(issues, [
      { file: 'over.bin', kind: 'large_binary', detail: '500 KiB binary file' },
      { file: 'huge.bin', kind: 'large_binary', detail: '3072 KiB binary file' },
    ]);
    assert.equal(LARGE_BINARY_BYTES, 500 * 1024);
  });
});

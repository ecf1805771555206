// The web UI's diff parser against real `git diff` output: counts equal numstat, every numbered line equals the file's line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DiffFile } from '../../web/src/lib/diff.js';
import { displayPath, languageOf, parseUnifiedDiff, splitHighlightedLines, splitRows, unquoteGitPath } from '../../web/src/lib/diff.js';

let dir = '';
let base = '';
let diff = '';
let files: DiffFile[] = [];
const numstat = new Map<string, { added: number; deleted: number; binary: boolean; oldPath: string }>();

/** git in the temp repo, isolated from the machine's and the user's config (noprefix, mnemonicPrefix, colour…). */
function git(...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', '-c', 'core.quotePath=true', '-c', 'core.autocrlf=false', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C' },
  });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const write = (p: string, content: string | Uint8Array) => {
  mkdirSync(join(dir, p, '..'), { recursive: true });
  writeFileSync(join(dir, p), content);
};
const numbered = (n: number, f: (i: number) => string = (i) => `line ${i}`) => Array.from({ length: n }, (_, i) => f(i + 1));
const file = (path: string) => {
  const f = files.find((x) => displayPath(x) === path);
  assert.ok(f, `${path} parsed; got ${files.map(displayPath).join(', ')}`);
  return f;
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'caic-web-diff-'));
  git('init', '-q', '-b', 'main');
  const app = numbered(40);
  write('src/app.ts', app.join('\n') + '\n');
  write('remove.txt', 'gone 1\ngone 2\n');
  write('old-name.md', numbered(20, (i) => `# paragraph ${i}`).join('\n') + '\n');
  write('logo.bin', new Uint8Array([0, 1, 2, 3, 255, 0, 10, 13, 0]));
  write('eof.txt', 'a\nb\nc');
  write('eof2.txt', 'x');
  write('tricky.txt', 'keep\n-- dash\nkeep too\n');
  write('script.sh', 'echo hi\n');
  write('é.txt', 'caf\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'base');
  base = git('rev-parse', 'HEAD').trim();

  // Line 5 changed; two lines inserted after line 20; line 35 replaced by two lines.
  const next = [...app.slice(0, 4), 'LINE 5', ...app.slice(5, 20), 'inserted 1', 'inserted 2', ...app.slice(20, 34), 'LINE 35a', 'LINE 35b', ...app.slice(35)];
  write('src/app.ts', next.join('\n') + '\n');
  unlinkSync(join(dir, 'remove.txt'));
  const md = numbered(20, (i) => `# paragraph ${i}`);
  md[9] = '# paragraph ten';
  unlinkSync(join(dir, 'old-name.md'));
  write('docs/new name.md', md.join('\n') + '\n');
  write('logo.bin', new Uint8Array([0, 1, 2, 3, 254, 0, 10, 13, 0, 7]));
  write('eof.txt', 'a\nb\nC');
  write('eof2.txt', 'x\n');
  write('tricky.txt', 'keep\nkeep too\n++ plus\n');
  chmodSync(join(dir, 'script.sh'), 0o755);
  write('é.txt', 'café\n');
  write('empty.txt', '');
  write('added.py', 'def f():\n    return 1\n');
  git('add', '-A');

  diff = git('diff', '--cached', '--find-renames', '--no-color', base);
  files = parseUnifiedDiff(diff);
  // -z: unquoted paths; a rename is "added<TAB>deleted<TAB>\0old\0new\0".
  const parts = git('diff', '--cached', '--find-renames', '--numstat', '-z', base).split('\0');
  for (let i = 0; i < parts.length - 1; i++) {
    const [a, d, path] = parts[i]!.split('\t');
    const entry = { added: a === '-' ? 0 : Number(a), deleted: d === '-' ? 0 : Number(d), binary: a === '-', oldPath: path! };
    if (path === '') {
      entry.oldPath = parts[++i]!;
      numstat.set(parts[++i]!, entry);
    } else numstat.set(path!, entry);
  }
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('every file of git diff, with the line counts of git diff --numstat', () => {
  assert.equal(numstat.size, 11, 'every change made above');
  assert.deepEqual(files.map(displayPath).sort(), [...numstat.keys()].sort());
  for (const f of files) {
    const n = numstat.get(displayPath(f))!;
    assert.deepEqual({ path: displayPath(f), added: f.added, deleted: f.deleted, binary: f.binary }, { path: displayPath(f), added: n.added, deleted: n.deleted, binary: n.binary });
    assert.equal(f.oldPath, n.oldPath);
  }
});

test('every numbered line is that line of the old or new file; hunks hold their header counts', () => {
  let checked = 0;
  for (const f of files) {
    if (f.binary) continue;
    const oldText = f.status === 'added' ? '' : git('show', `${base}:${f.oldPath}`);
    const newText = f.status === 'deleted' ? '' : readFileSync(join(dir, f.newPath), 'utf8');
    const oldLines = oldText.split('\n');
    const newLines = newText.split('\n');
    for (const h of f.hunks) {
      assert.equal(h.lines.filter((l) => l.kind !== 'add').length, h.oldLines, `${h.header} of ${f.newPath}`);
      assert.equal(h.lines.filter((l) => l.kind !== 'del').length, h.newLines, `${h.header} of ${f.newPath}`);
      for (const l of h.lines) {
        if (l.kind !== 'add') assert.equal(l.text, oldLines[l.oldNo! - 1], `${f.oldPath}:${l.oldNo}`);
        if (l.kind !== 'del') assert.equal(l.text, newLines[l.newNo! - 1], `${f.newPath}:${l.newNo}`);
        assert.equal(l.oldNo === undefined, l.kind === 'add');
        assert.equal(l.newNo === undefined, l.kind === 'del');
        checked++;
      }
    }
  }
  assert.ok(checked > 40, `checked ${checked} lines`);
});

test('a known file: three hunks with exact numbers, side by side rows paired', () => {
  const f = file('src/app.ts');
  assert.equal(f.status, 'modified');
  assert.equal(f.oldPath, 'src/app.ts');
  assert.deepEqual(
    f.hunks.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines]),
    [
      [2, 7, 2, 7],
      [18, 6, 18, 8],
      [32, 7, 34, 8],
    ],
  );
  assert.match(f.hunks[0]!.header, /^@@ -2,7 \+2,7 @@/);
  const [h1, h2, h3] = f.hunks;
  assert.deepEqual(h1!.lines[3], { kind: 'del', text: 'line 5', oldNo: 5 });
  assert.deepEqual(h1!.lines[4], { kind: 'add', text: 'LINE 5', newNo: 5 });
  assert.deepEqual(h1!.lines[5], { kind: 'context', text: 'line 6', oldNo: 6, newNo: 6 });
  assert.deepEqual(
    h3!.lines.filter((l) => l.kind !== 'context'),
    [
      { kind: 'del', text: 'line 35', oldNo: 35 },
      { kind: 'add', text: 'LINE 35a', newNo: 37 },
      { kind: 'add', text: 'LINE 35b', newNo: 38 },
    ],
  );

  const rows1 = splitRows(h1!);
  assert.equal(rows1.length, 7);
  assert.equal(rows1[3]!.left!.oldNo, 5);
  assert.equal(rows1[3]!.right!.newNo, 5);
  assert.equal(rows1[0]!.left, rows1[0]!.right, 'context on both sides');
  const rows2 = splitRows(h2!);
  assert.equal(rows2.length, 8);
  assert.deepEqual(rows2.map((r) => [r.left?.oldNo, r.right?.newNo]).slice(2, 6), [[20, 20], [undefined, 21], [undefined, 22], [21, 23]]);
  const rows3 = splitRows(h3!);
  assert.deepEqual(
    rows3.map((r) => [r.left?.text, r.right?.text]),
    [
      ['line 32', 'line 32'],
      ['line 33', 'line 33'],
      ['line 34', 'line 34'],
      ['line 35', 'LINE 35a'],
      [undefined, 'LINE 35b'],
      ['line 36', 'line 36'],
      ['line 37', 'line 37'],
      ['line 38', 'line 38'],
    ],
  );
});

test('rename, delete, add, empty file, binary, mode change, quoted path', () => {
  const md = file('docs/new name.md');
  assert.equal(md.status, 'renamed');
  assert.equal(md.oldPath, 'old-name.md');
  assert.ok(md.similarity! >= 50 && md.similarity! < 100);
  assert.deepEqual([md.added, md.deleted], [1, 1]);

  const gone = file('remove.txt');
  assert.equal(gone.status, 'deleted');
  assert.deepEqual(gone.hunks[0]!.lines.map((l) => [l.kind, l.oldNo, l.text]), [['del', 1, 'gone 1'], ['del', 2, 'gone 2']]);

  const py = file('added.py');
  assert.equal(py.status, 'added');
  assert.equal(py.newMode, '100644');
  assert.deepEqual(py.hunks.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines]), [[0, 0, 1, 2]]);

  const empty = file('empty.txt');
  assert.deepEqual([empty.status, empty.hunks.length, empty.binary], ['added', 0, false]);

  const bin = file('logo.bin');
  assert.deepEqual([bin.status, bin.binary, bin.hunks.length], ['modified', true, 0]);

  const sh = file('script.sh');
  assert.deepEqual([sh.status, sh.oldMode, sh.newMode, sh.hunks.length], ['modified', '100644', '100755', 0]);

  assert.match(diff, /"a\/\\303\\251\.txt"/, 'git quoted the non-ASCII path');
  assert.deepEqual(file('é.txt').hunks[0]!.lines.map((l) => l.text), ['caf', 'café']);
});

test('no newline at end of file; lines that look like file headers stay lines', () => {
  const eof = file('eof.txt');
  assert.deepEqual(eof.hunks[0]!.lines.map((l) => [l.kind, l.text, l.noNewline ?? false]), [
    ['context', 'a', false],
    ['context', 'b', false],
    ['del', 'c', true],
    ['add', 'C', true],
  ]);
  const eof2 = file('eof2.txt');
  assert.deepEqual(eof2.hunks[0]!.lines.map((l) => [l.kind, l.text, l.noNewline ?? false]), [
    ['del', 'x', true],
    ['add', 'x', false],
  ]);
  assert.match(diff, /^--- dash$/m);
  assert.match(diff, /^\+\+\+ plus$/m);
  const tricky = file('tricky.txt');
  assert.deepEqual(tricky.hunks[0]!.lines.filter((l) => l.kind !== 'context').map((l) => [l.kind, l.text]), [['del', '-- dash'], ['add', '++ plus']]);
});

test('odd input never throws: garbage, cut streams, CRLF, prefix-less headers', () => {
  assert.deepEqual(parseUnifiedDiff(''), []);
  assert.deepEqual(parseUnifiedDiff('hello\nworld\n@@ nonsense @@\n+x\n'), []);
  for (let cut = 0; cut < diff.length; cut += 37) {
    const part = parseUnifiedDiff(diff.slice(0, cut));
    assert.ok(part.length <= files.length);
  }
  assert.equal(parseUnifiedDiff(diff.replaceAll('\n', '\r\n')).length, files.length);
  const noPrefix = parseUnifiedDiff('diff --git x.ts x.ts\nindex 1..2 100644\n--- x.ts\n+++ x.ts\n@@ -1 +1 @@\n-a\n+b\n');
  assert.deepEqual(noPrefix.map((f) => [f.oldPath, f.newPath, f.added, f.deleted]), [['x.ts', 'x.ts', 1, 1]]);
  const plain = parseUnifiedDiff('--- a/one\t2024-01-01\n+++ b/one\t2024-01-02\n@@ -1,2 +1,2 @@\n x\n-y\n+z\n--- a/two\n+++ b/two\n@@ -0,0 +1 @@\n+new\n');
  assert.deepEqual(plain.map((f) => [f.newPath, f.added, f.deleted]), [['one', 1, 1], ['two', 1, 0]]);
  // Counts that lie: the extra body line is dropped, not misread.
  const lying = parseUnifiedDiff('diff --git a/q b/q\n--- a/q\n+++ b/q\n@@ -1 +1 @@\n-a\n+b\n+c\n');
  assert.deepEqual(lying.map((f) => [f.added, f.deleted]), [[1, 1]]);
});

test('helpers: quoted paths, languages, highlighted HTML cut per line', () => {
  assert.equal(unquoteGitPath('"a/\\303\\251 \\"q\\"\\t.txt"'), 'a/é "q"\t.txt');
  assert.equal(unquoteGitPath('plain name'), 'plain name');
  assert.equal(languageOf('web/src/ui/DiffView.tsx'), 'typescript');
  assert.equal(languageOf('Main.KT'), 'kotlin');
  assert.equal(languageOf('x/y/.bashrc'), 'bash');
  assert.equal(languageOf('README'), undefined);
  assert.equal(languageOf('a.unknown'), undefined);
  assert.deepEqual(splitHighlightedLines('<span class="hljs-comment">/* a\nb */</span> x\n<span class="hljs-string">&quot;s&quot;</span>'), [
    '<span class="hljs-comment">/* a</span>',
    '<span class="hljs-comment">b */</span> x',
    '<span class="hljs-string">&quot;s&quot;</span>',
  ]);
  assert.deepEqual(splitHighlightedLines('<span class="a">1<span class="b">2\n3</span>4\n</span>'), [
    '<span class="a">1<span class="b">2</span></span>',
    '<span class="a"><span class="b">3</span>4</span>',
    '<span class="a"></span>',
  ]);
  assert.deepEqual(splitHighlightedLines(''), ['']);
});

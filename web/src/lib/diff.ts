// Parses `git diff` output into files, hunks and numbered lines for the diff viewer; pure, never throws.
import { unquoteGitPath } from '../../../src/api/git-path.js';

export { unquoteGitPath };

export type DiffStatus = 'added' | 'deleted' | 'modified' | 'renamed';

export interface DiffLine {
  kind: 'context' | 'add' | 'del';
  /** The line without its leading ' ', '+' or '-'. */
  text: string;
  /** Line number in the old file (context and deletions). */
  oldNo?: number;
  /** Line number in the new file (context and additions). */
  newNo?: number;
  /** The line is the last of its file and has no trailing newline. */
  noNewline?: boolean;
}

export interface DiffHunk {
  /** The whole `@@ -a,b +c,d @@ section` line. */
  header: string;
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** Text after the closing `@@` (git's function context), trimmed; '' when none. */
  section: string;
  lines: DiffLine[];
}

export interface DiffFile {
  /** Path before the change ('' only when git printed no usable path). */
  oldPath: string;
  /** Path after the change; equals oldPath unless renamed or copied. */
  newPath: string;
  status: DiffStatus;
  binary: boolean;
  /** Counted from the hunks, so they equal `git diff --numstat` for text files. */
  added: number;
  deleted: number;
  /** File modes from `old mode`/`new mode`, `new file mode` or `deleted file mode`, when git printed them. */
  oldMode?: string;
  newMode?: string;
  /** `similarity index` of a rename or copy, in percent. */
  similarity?: number;
  hunks: DiffHunk[];
}

export interface SplitRow {
  left?: DiffLine;
  right?: DiffLine;
}

/** The path to show and match a file by: the new path, or the old one for deletions. */
export function displayPath(f: DiffFile): string {
  return f.status === 'deleted' ? f.oldPath : f.newPath || f.oldPath;
}

/** Reads one path token at the start of s: a quoted string up to its closing quote, or the rest. */
function readQuoted(s: string): [token: string, rest: string] | undefined {
  if (!s.startsWith('"')) return undefined;
  for (let i = 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return [s.slice(0, i + 1), s.slice(i + 1)];
  }
  return undefined;
}

/** Prefix pairs git may use: the default a/ b/, and diff.mnemonicPrefix's commit/index/worktree/object letters. */
const PREFIXES = /^[abciwo12]\/$/;

/**
 * Splits the `diff --git A B` operands. Unquoted names with spaces are ambiguous; git itself
 * resolves that by assuming both names are equal, which is right for everything but renames, and
 * renames carry `rename from/to` lines that win anyway.
 */
function parseGitHeader(rest: string): [string, string] | undefined {
  const q1 = readQuoted(rest);
  if (q1) {
    const after = q1[1].replace(/^ /, '');
    const q2 = readQuoted(after);
    return [unquoteGitPath(q1[0]), unquoteGitPath(q2 ? q2[0] : after)];
  }
  const qAt = rest.indexOf(' "');
  if (qAt >= 0 && rest.endsWith('"')) return [rest.slice(0, qAt), unquoteGitPath(rest.slice(qAt + 1))];
  // "P/X Q/X": both halves the same length around the middle space.
  if ((rest.length - 1) % 2 === 0) {
    const half = (rest.length - 1) / 2;
    const a = rest.slice(0, half);
    const b = rest.slice(half + 1);
    if (rest[half] === ' ' && a.slice(2) === b.slice(2)) return [a, b];
  }
  const sp = rest.search(/ [abciwo12]\//);
  if (sp > 0) return [rest.slice(0, sp), rest.slice(sp + 1)];
  const first = rest.indexOf(' ');
  return first > 0 ? [rest.slice(0, first), rest.slice(first + 1)] : undefined;
}

/** A path from `---`/`+++`/`Binary files` lines: unquoted, without git's trailing tab, /dev/null kept. */
function cleanPath(raw: string): string {
  let s = raw.trim();
  // Git appends a tab after names containing spaces; diff(1)-style output appends "\t<date>".
  const tab = s.indexOf('\t');
  if (tab >= 0 && !s.startsWith('"')) s = s.slice(0, tab);
  return unquoteGitPath(s);
}

function stripPrefix(path: string, prefix: string): string {
  return prefix && path.startsWith(prefix) ? path.slice(prefix.length) : path;
}

const HUNK_RE = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$/;

interface FileState {
  file: DiffFile;
  /** Prefixes seen on the `diff --git` line (e.g. 'a/', 'b/'), '' when git used none. */
  oldPrefix: string;
  newPrefix: string;
  added: boolean;
  deleted: boolean;
  renamed: boolean;
  copied: boolean;
}

function newFileState(oldRaw: string, newRaw: string): FileState {
  const op = oldRaw.slice(0, 2);
  const np = newRaw.slice(0, 2);
  const prefixed = PREFIXES.test(op) && PREFIXES.test(np) && op !== np;
  const oldPrefix = prefixed ? op : '';
  const newPrefix = prefixed ? np : '';
  const oldPath = stripPrefix(oldRaw, oldPrefix);
  const newPath = stripPrefix(newRaw, newPrefix);
  return {
    file: { oldPath, newPath, status: 'modified', binary: false, added: 0, deleted: 0, hunks: [] },
    oldPrefix,
    newPrefix,
    added: false,
    deleted: false,
    renamed: false,
    copied: false,
  };
}

function finish(st: FileState): DiffFile {
  const f = st.file;
  f.status = st.added || st.copied ? 'added' : st.deleted ? 'deleted' : st.renamed ? 'renamed' : 'modified';
  if (st.added && !st.copied && !f.oldPath) f.oldPath = f.newPath;
  if (st.deleted && !f.newPath) f.newPath = f.oldPath;
  return f;
}

/**
 * Parses `git diff` (unified, with git's extended headers) into files. Lines that fit nowhere are
 * skipped; hunk bodies are read by their line counts, so a removed line reading "-- x" or an added
 * one reading "++ x" is never mistaken for a file header.
 */
export function parseUnifiedDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  if (typeof text !== 'string' || text === '') return files;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();

  let st: FileState | undefined;
  let hunk: DiffHunk | undefined;
  let oldLeft = 0;
  let newLeft = 0;
  let oldNo = 0;
  let newNo = 0;
  /** The last body line read, for a following "\ No newline at end of file". */
  let last: DiffLine | undefined;

  const close = () => {
    if (st) files.push(finish(st));
    st = undefined;
    hunk = undefined;
    last = undefined;
    oldLeft = newLeft = 0;
  };
  /** A file for headers that arrive without `diff --git` (plain `diff -u`, or a cut stream). */
  const ensureFile = () => (st ??= newFileState('', ''));

  for (const raw of lines) {
    // Inside a hunk: body lines by count.
    if (hunk && st && (oldLeft > 0 || newLeft > 0)) {
      const c = raw[0];
      // Some tools strip the lone space of empty context lines.
      if (c === ' ' || raw === '' || raw === '\r') {
        if (oldLeft > 0 && newLeft > 0) {
          last = { kind: 'context', text: raw.slice(1), oldNo: oldNo++, newNo: newNo++ };
          hunk.lines.push(last);
          oldLeft--;
          newLeft--;
          continue;
        }
      } else if (c === '-' && oldLeft > 0) {
        last = { kind: 'del', text: raw.slice(1), oldNo: oldNo++ };
        hunk.lines.push(last);
        st.file.deleted++;
        oldLeft--;
        continue;
      } else if (c === '+' && newLeft > 0) {
        last = { kind: 'add', text: raw.slice(1), newNo: newNo++ };
        hunk.lines.push(last);
        st.file.added++;
        newLeft--;
        continue;
      } else if (c === '\\') {
        if (last) last.noNewline = true;
        continue;
      }
      // The counts lied (hand-edited or cut input): the hunk ends here and the line is read as a header.
      oldLeft = newLeft = 0;
    }
    if (raw.startsWith('\\')) {
      if (hunk && last) last.noNewline = true;
      continue;
    }
    last = undefined;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;

    if (line.startsWith('diff --git ')) {
      close();
      const names = parseGitHeader(line.slice('diff --git '.length));
      st = newFileState(names?.[0] ?? '', names?.[1] ?? '');
      continue;
    }
    if (line.startsWith('diff --cc ') || line.startsWith('diff --combined ')) {
      // Merge diffs have a different body format: skip them entirely.
      close();
      continue;
    }
    const m = HUNK_RE.exec(line);
    if (m) {
      const s = ensureFile();
      const oldLines = m[2] === undefined ? 1 : Number(m[2]);
      const newLines = m[4] === undefined ? 1 : Number(m[4]);
      hunk = {
        header: line,
        oldStart: Number(m[1]),
        oldLines,
        newStart: Number(m[3]),
        newLines,
        section: (m[5] ?? '').replace(/^ ?@*/, '').trim(),
        lines: [],
      };
      s.file.hunks.push(hunk);
      oldLeft = oldLines;
      newLeft = newLines;
      oldNo = hunk.oldStart;
      newNo = hunk.newStart;
      continue;
    }
    if (line.startsWith('--- ')) {
      // A new `---` after hunks without `diff --git` starts another file of a plain `diff -u`.
      if (st && st.file.hunks.length > 0) close();
      const s = ensureFile();
      const p = cleanPath(line.slice(4));
      if (p === '/dev/null') s.added = true;
      else s.file.oldPath = stripPrefix(p, s.oldPrefix || (s.file.oldPath ? '' : 'a/'));
      hunk = undefined;
      continue;
    }
    if (line.startsWith('+++ ')) {
      const s = ensureFile();
      const p = cleanPath(line.slice(4));
      if (p === '/dev/null') s.deleted = true;
      else s.file.newPath = stripPrefix(p, s.newPrefix || (s.file.newPath ? '' : 'b/'));
      hunk = undefined;
      continue;
    }
    if (!st) continue; // Garbage before the first file.
    if (line.startsWith('new file mode ')) {
      st.added = true;
      st.file.newMode = line.slice('new file mode '.length).trim();
    } else if (line.startsWith('deleted file mode ')) {
      st.deleted = true;
      st.file.oldMode = line.slice('deleted file mode '.length).trim();
    } else if (line.startsWith('old mode ')) {
      st.file.oldMode = line.slice('old mode '.length).trim();
    } else if (line.startsWith('new mode ')) {
      st.file.newMode = line.slice('new mode '.length).trim();
    } else if (line.startsWith('rename from ')) {
      st.renamed = true;
      st.file.oldPath = unquoteGitPath(line.slice('rename from '.length));
    } else if (line.startsWith('rename to ')) {
      st.renamed = true;
      st.file.newPath = unquoteGitPath(line.slice('rename to '.length));
    } else if (line.startsWith('copy from ')) {
      st.copied = true;
      st.file.oldPath = unquoteGitPath(line.slice('copy from '.length));
    } else if (line.startsWith('copy to ')) {
      st.copied = true;
      st.file.newPath = unquoteGitPath(line.slice('copy to '.length));
    } else if (line.startsWith('similarity index ')) {
      const n = parseInt(line.slice('similarity index '.length), 10);
      if (Number.isFinite(n)) st.file.similarity = n;
    } else if (line.startsWith('Binary files ') && line.endsWith(' differ')) {
      st.file.binary = true;
      const names = line.slice('Binary files '.length, -' differ'.length);
      // "a/x and b/y": only trusted when it splits cleanly, the `diff --git` names are already set.
      const parts = names.split(' and ');
      if (parts.length === 2) {
        if (parts[0] === '/dev/null') st.added = true;
        if (parts[1] === '/dev/null') st.deleted = true;
      }
    } else if (line === 'GIT binary patch') {
      st.file.binary = true;
    }
    // Anything else (index lines, dissimilarity, binary patch data, garbage) is ignored.
  }
  close();
  return files;
}

/**
 * Rows for a side-by-side view: context on both sides, and within each run of changes the i-th
 * deletion facing the i-th addition; the longer side continues alone.
 */
export function splitRows(hunk: DiffHunk): SplitRow[] {
  const rows: SplitRow[] = [];
  let dels: DiffLine[] = [];
  let adds: DiffLine[] = [];
  const flush = () => {
    const n = Math.max(dels.length, adds.length);
    for (let i = 0; i < n; i++) {
      const row: SplitRow = {};
      if (i < dels.length) row.left = dels[i];
      if (i < adds.length) row.right = adds[i];
      rows.push(row);
    }
    dels = [];
    adds = [];
  };
  for (const l of hunk.lines) {
    if (l.kind === 'del') dels.push(l);
    else if (l.kind === 'add') adds.push(l);
    else {
      flush();
      rows.push({ left: l, right: l });
    }
  }
  flush();
  return rows;
}

const BY_EXT: Record<string, string> = {
  ts: 'typescript', tsx: 'typescript', mts: 'typescript', cts: 'typescript',
  js: 'javascript', jsx: 'javascript', mjs: 'javascript', cjs: 'javascript',
  json: 'json', jsonc: 'json', json5: 'json', jsonl: 'json', webmanifest: 'json',
  go: 'go',
  py: 'python', pyi: 'python', pyw: 'python',
  sh: 'bash', bash: 'bash', zsh: 'bash', ksh: 'bash', bats: 'bash',
  css: 'css',
  html: 'xml', htm: 'xml', xhtml: 'xml', xml: 'xml', svg: 'xml', plist: 'xml', xsd: 'xml', xsl: 'xml',
  md: 'markdown', markdown: 'markdown', mdx: 'markdown',
  yml: 'yaml', yaml: 'yaml',
  rs: 'rust',
  java: 'java',
  kt: 'kotlin', kts: 'kotlin',
  c: 'c', h: 'c',
  cc: 'cpp', cpp: 'cpp', cxx: 'cpp', 'c++': 'cpp', hh: 'cpp', hpp: 'cpp', hxx: 'cpp', ino: 'cpp',
  diff: 'diff', patch: 'diff',
  toml: 'ini', ini: 'ini', cfg: 'ini', conf: 'ini', properties: 'ini',
};

const BY_NAME: Record<string, string> = {
  '.bashrc': 'bash', '.bash_profile': 'bash', '.profile': 'bash', '.zshrc': 'bash', '.envrc': 'bash',
  '.gitconfig': 'ini', '.editorconfig': 'ini', '.npmrc': 'ini',
};

/** The highlight.js language name for a path (by file name, then extension), or undefined for plain text. */
export function languageOf(path: string): string | undefined {
  if (typeof path !== 'string') return undefined;
  const name = (path.split('/').pop() ?? '').toLowerCase();
  if (Object.hasOwn(BY_NAME, name)) return BY_NAME[name];
  const dot = name.lastIndexOf('.');
  if (dot < 0 || dot === name.length - 1) return undefined;
  const ext = name.slice(dot + 1);
  return Object.hasOwn(BY_EXT, ext) ? BY_EXT[ext] : undefined;
}

const TAG_RE = /<span class="([^"<>]*)">|<\/span>|\n/g;

/**
 * Cuts highlight.js HTML of several lines into one balanced fragment per line: spans open at a
 * line break (a block comment, a template string) are closed there and reopened on the next line.
 * Only highlight.js's own output may be passed in: the text between tags is kept verbatim, so it
 * must already be escaped.
 */
export function splitHighlightedLines(html: string): string[] {
  const out: string[] = [];
  const open: string[] = [];
  let cur = '';
  let pos = 0;
  TAG_RE.lastIndex = 0;
  for (let m = TAG_RE.exec(html); m; m = TAG_RE.exec(html)) {
    cur += html.slice(pos, m.index);
    pos = m.index + m[0].length;
    if (m[0] === '\n') {
      out.push(cur + '</span>'.repeat(open.length));
      cur = open.map((c) => `<span class="${c}">`).join('');
    } else if (m[0] === '</span>') {
      if (open.length > 0) {
        open.pop();
        cur += '</span>';
      }
    } else {
      open.push(m[1]!);
      cur += m[0];
    }
  }
  cur += html.slice(pos);
  out.push(cur + '</span>'.repeat(open.length));
  return out;
}

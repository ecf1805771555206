// The diff viewer: toolbar with unified/split toggle, jump list, one collapsible, highlighted section per file.
import { memo, useCallback, useDeferredValue, useEffect, useId, useMemo, useRef, useState, useSyncExternalStore, type CSSProperties, type MouseEvent } from 'react';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diffLang from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import ini from 'highlight.js/lib/languages/ini';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import kotlin from 'highlight.js/lib/languages/kotlin';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import type { DiffStatEntry } from '../../../src/api/index.js';
import { displayPath, languageOf, parseUnifiedDiff, splitHighlightedLines, splitRows } from '../lib/diff';
import type { DiffFile, DiffHunk, DiffLine } from '../lib/diff';
import './diff.css';

// The core plus a handful of grammars keeps the bundle small; the names match languageOf().
for (const [name, lang] of Object.entries({ bash, c, cpp, css, diff: diffLang, go, ini, java, javascript, json, kotlin, markdown, python, rust, typescript, xml, yaml })) {
  hljs.registerLanguage(name, lang);
}

export type DiffMode = 'unified' | 'split';

export interface DiffViewProps {
  /** `git diff` output. */
  diff: string;
  /** The server's numstat: files the patch text lacks still get a section, with their counts. */
  files: DiffStatEntry[];
  mode: DiffMode;
  onModeChange: (m: DiffMode) => void;
  /** Review: lines can be selected (click a line number, shift-click to extend) and commented on. */
  review?: DiffReview;
}

/** Lines picked for a comment: one file, one side of the diff, a range of that side's line numbers. */
export interface LineSelection {
  path: string;
  side: 'old' | 'new';
  startLine: number;
  endLine: number;
  /** The selected lines' text, as the diff shows them. */
  quote: string;
}

export interface DiffReview {
  /** Adds a comment; resolves once it is saved (the form then closes), rejects with the reason. */
  onComment: (sel: LineSelection, body: string) => Promise<void>;
  /** Line ranges that have comments, by path: marked in the gutter. */
  commented: ReadonlyMap<string, readonly { side: 'old' | 'new'; startLine: number; endLine: number }[]>;
}

interface Picked {
  key: string;
  side: 'old' | 'new';
  anchor: number;
  focus: number;
}

/** Files with more changed lines start collapsed: rendering and highlighting them is the slow part. */
const COLLAPSE_OVER = 500;
/** Hunk sides longer than this are shown plain: highlight.js is linear, but minified files make it crawl. */
const MAX_HIGHLIGHT_CHARS = 100_000;
/** Split view needs room for two columns of code (mirrored in diff.css). */
const NARROW_QUERY = '(max-width: 699px)';
/** File bodies mount once their section comes this close to the viewport. */
const NEAR_VIEWPORT = '1200px 0px';

interface Entry {
  key: string;
  path: string;
  file?: DiffFile;
  stat?: DiffStatEntry;
  added: number;
  deleted: number;
  binary: boolean;
}

// ---- highlighting ------------------------------------------------------------------------

/** highlight.js HTML per line of a hunk (undefined: plain text); kept across collapse, expand and mode switches. */
const highlightCache = new WeakMap<DiffHunk, (string | undefined)[]>();

/** Highlights lines as one block so multi-line constructs (comments, strings) colour right, then cuts it per line. */
function highlightBlock(lines: string[], language: string): string[] | undefined {
  let size = 0;
  for (const l of lines) size += l.length + 1;
  if (size > MAX_HIGHLIGHT_CHARS) return undefined;
  try {
    const out = splitHighlightedLines(hljs.highlight(lines.join('\n'), { language, ignoreIllegals: true }).value);
    return out.length === lines.length ? out : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Each side of a hunk is highlighted as its own text, the new side giving additions and context,
 * the old side deletions. Only highlight.js's escaped output is ever used as HTML.
 */
function highlightHunk(hunk: DiffHunk, language: string): (string | undefined)[] {
  const cached = highlightCache.get(hunk);
  if (cached) return cached;
  const out = new Array<string | undefined>(hunk.lines.length);
  const newIdx: number[] = [];
  const oldIdx: number[] = [];
  hunk.lines.forEach((l, i) => {
    if (l.kind !== 'del') newIdx.push(i);
    if (l.kind !== 'add') oldIdx.push(i);
  });
  const newHtml = newIdx.length ? highlightBlock(newIdx.map((i) => hunk.lines[i]!.text), language) : undefined;
  newIdx.forEach((i, j) => (out[i] = newHtml?.[j]));
  if (hunk.lines.some((l) => l.kind === 'del')) {
    const oldHtml = highlightBlock(oldIdx.map((i) => hunk.lines[i]!.text), language);
    oldIdx.forEach((i, j) => {
      if (hunk.lines[i]!.kind === 'del') out[i] = oldHtml?.[j];
    });
  }
  highlightCache.set(hunk, out);
  return out;
}

// ---- viewport ----------------------------------------------------------------------------

function subscribeNarrow(cb: () => void): () => void {
  const mq = window.matchMedia(NARROW_QUERY);
  mq.addEventListener('change', cb);
  return () => mq.removeEventListener('change', cb);
}
const isNarrow = () => window.matchMedia(NARROW_QUERY).matches;
const notNarrow = () => false;

// ---- components --------------------------------------------------------------------------

function Counts({ added, deleted }: { added: number; deleted: number }) {
  return (
    <span className="diff-counts">
      <span className="diff-plus">
        +{added}
        <span className="diff-sr"> added</span>
      </span>{' '}
      <span className="diff-minus">
        −{deleted}
        <span className="diff-sr"> removed</span>
      </span>
    </span>
  );
}

const STATUS_LABEL = { added: 'Added', deleted: 'Deleted', modified: 'Modified', renamed: 'Renamed' } as const;

export function DiffView({ diff, files, mode, onModeChange, review }: DiffViewProps) {
  const uid = useId();
  const [picked, setPicked] = useState<Picked | null>(null);
  const pick = useCallback((key: string, side: 'old' | 'new', line: number, extend: boolean) => {
    setPicked((p) => (extend && p && p.key === key && p.side === side ? { ...p, focus: line } : { key, side, anchor: line, focus: line }));
  }, []);
  const unpick = useCallback(() => setPicked(null), []);
  const parsed = useMemo(() => parseUnifiedDiff(diff), [diff]);
  const entries = useMemo(() => buildEntries(parsed, files), [parsed, files]);
  // Entry counts come from the patch (equal to numstat), or from numstat for files the patch lacks.
  const totals = useMemo(
    () => ({ count: entries.length, added: entries.reduce((n, e) => n + e.added, 0), deleted: entries.reduce((n, e) => n + e.deleted, 0) }),
    [entries],
  );

  // Explicit expand/collapse choices by file key; the rest follow the size rule. Kept across refreshes.
  const [choices, setChoices] = useState<ReadonlyMap<string, boolean>>(() => new Map());
  const setExpanded = useCallback((key: string, expanded: boolean) => {
    setChoices((prev) => (prev.get(key) === expanded ? prev : new Map(prev).set(key, expanded)));
  }, []);

  const narrow = useSyncExternalStore(subscribeNarrow, isNarrow, notNarrow);
  // The buttons answer at once; re-laying out thousands of rows happens as a background render.
  const shownMode = useDeferredValue(narrow ? 'unified' : mode);
  const pressed = narrow ? 'unified' : mode;

  const jump = (e: MouseEvent<HTMLAnchorElement>, entry: Entry, index: number) => {
    // The app routes on the path; a bare hash change would be harmless but pollutes history.
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    setExpanded(entry.key, true);
    document.getElementById(`${uid}-f${index}`)?.scrollIntoView({ block: 'start' });
    document.getElementById(`${uid}-h${index}`)?.focus({ preventScroll: true });
  };

  return (
    <div className="diff" data-testid="diff-view">
      <div className="diff-toolbar">
        <p className="diff-summary">
          {totals.count} file{totals.count === 1 ? '' : 's'} changed <Counts added={totals.added} deleted={totals.deleted} />
        </p>
        <div className="diff-modes" role="group" aria-label="Diff layout">
          <button type="button" aria-pressed={pressed === 'unified'} onClick={() => onModeChange('unified')}>
            Unified
          </button>
          <button
            type="button"
            aria-pressed={pressed === 'split'}
            disabled={narrow}
            title={narrow ? 'Side by side needs a wider window' : undefined}
            onClick={() => onModeChange('split')}
          >
            Split
          </button>
        </div>
      </div>
      {entries.length === 0 ? (
        <p className="diff-empty-note">No changes.</p>
      ) : (
        <details className="diff-jump" open>
          <summary>Files</summary>
          <nav aria-label="Changed files">
            <ol>
              {entries.map((e, i) => (
                <li key={e.key}>
                  <a href={`#${encodeURIComponent(`${uid}-f${i}`)}`} onClick={(ev) => jump(ev, e, i)}>
                    {e.path}
                  </a>
                  {e.binary ? <span className="diff-muted">binary</span> : <Counts added={e.added} deleted={e.deleted} />}
                </li>
              ))}
            </ol>
          </nav>
        </details>
      )}
      {entries.map((e, i) => (
        <FileSection
          key={e.key}
          entry={e}
          id={`${uid}-f${i}`}
          headerId={`${uid}-h${i}`}
          mode={shownMode}
          expanded={choices.get(e.key) ?? e.added + e.deleted <= COLLAPSE_OVER}
          onExpandedChange={setExpanded}
          review={review}
          picked={picked?.key === e.key ? picked : null}
          onPick={review ? pick : undefined}
          onUnpick={unpick}
        />
      ))}
    </div>
  );
}

/** Parsed files in patch order, each with its numstat entry; stat-only files (no patch text) last. */
function buildEntries(parsed: DiffFile[], files: DiffStatEntry[]): Entry[] {
  const stats = new Map<string, DiffStatEntry>();
  for (const s of files) stats.set(s.path, s);
  const used = new Set<string>();
  const keys = new Set<string>();
  const uniqueKey = (path: string) => {
    let key = path;
    for (let n = 2; keys.has(key); n++) key = `${path}#${n}`;
    keys.add(key);
    return key;
  };
  const out: Entry[] = parsed.map((file) => {
    const path = displayPath(file);
    const stat = stats.get(path);
    used.add(path).add(file.oldPath);
    return { key: uniqueKey(path), path, file, ...(stat ? { stat } : {}), added: file.added, deleted: file.deleted, binary: file.binary };
  });
  for (const [path, stat] of stats) {
    if (!used.has(path)) out.push({ key: uniqueKey(path), path, stat, added: stat.added, deleted: stat.deleted, binary: stat.binary });
  }
  return out;
}

interface FileSectionProps {
  entry: Entry;
  id: string;
  headerId: string;
  mode: DiffMode;
  expanded: boolean;
  onExpandedChange: (key: string, expanded: boolean) => void;
  review?: DiffReview | undefined;
  picked: Picked | null;
  onPick?: ((key: string, side: 'old' | 'new', line: number, extend: boolean) => void) | undefined;
  onUnpick: () => void;
}

/** What a click on a line asks for: the line number of the side it belongs to. */
interface LinePick {
  onPick?: ((key: string, side: 'old' | 'new', line: number, extend: boolean) => void) | undefined;
  /** Side and line → selected or commented ('sel', 'note'). */
  mark: (side: 'old' | 'new', line: number | undefined) => string;
}

/** Memoized: toggling one file or the jump list re-renders that file only. */
const FileSection = memo(function FileSection({ entry, id, headerId, mode, expanded, onExpandedChange, review, picked, onPick, onUnpick }: FileSectionProps) {
  const { file } = entry;
  const bodyId = `${id}-body`;
  const status = file?.status;
  const changed = entry.added + entry.deleted;
  const ref = useRef<HTMLElement>(null);
  // Bodies far below the fold wait as blank space of about their height: a 5,000-line diff then
  // builds (and rebuilds on a layout switch) only what is near the screen. Once built, they stay.
  const [near, setNear] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (near || !expanded || !el) return;
    if (typeof IntersectionObserver === 'undefined') {
      setNear(true);
      return;
    }
    const io = new IntersectionObserver((es) => es.some((e) => e.isIntersecting) && setNear(true), { rootMargin: NEAR_VIEWPORT });
    io.observe(el);
    return () => io.disconnect();
  }, [near, expanded]);
  const rows = file ? file.hunks.reduce((n, h) => n + h.lines.length + 1, 0) : 1;
  return (
    <section ref={ref} className="diff-file" data-testid="diff-file" id={id} aria-labelledby={headerId}>
      <h3 className="diff-file-head">
        <button
          type="button"
          id={headerId}
          className="diff-file-toggle"
          aria-expanded={expanded}
          aria-controls={expanded ? bodyId : undefined}
          onClick={() => {
            setNear(true);
            onExpandedChange(entry.key, !expanded);
          }}
        >
          <span className="diff-chevron" aria-hidden="true" />
          <span className="diff-path">
            {status === 'renamed' && file ? (
              <>
                {file.oldPath} <span aria-hidden="true">→</span>
                <span className="diff-sr"> renamed to </span> {file.newPath}
              </>
            ) : (
              entry.path
            )}
          </span>
          {status ? <span className={`diff-badge diff-badge-${status}`}>{STATUS_LABEL[status]}</span> : null}
          {entry.binary ? <span className="diff-badge">Binary</span> : <Counts added={entry.added} deleted={entry.deleted} />}
          {!expanded && changed > COLLAPSE_OVER ? <span className="diff-muted">large diff, collapsed</span> : null}
        </button>
      </h3>
      {!expanded ? null : near ? (
        <FileBody id={bodyId} entry={entry} mode={mode} rows={rows} review={review} picked={picked} onPick={onPick} onUnpick={onUnpick} />
      ) : (
        <div id={bodyId} className="diff-body diff-pending" style={{ height: `calc(${rows} * 1.18rem)` }} />
      )}
    </section>
  );
});

/** Mounted only while expanded, so collapsed files cost neither highlighting nor DOM. */
function FileBody({
  id,
  entry,
  mode,
  rows,
  review,
  picked,
  onPick,
  onUnpick,
}: {
  id: string;
  entry: Entry;
  mode: DiffMode;
  rows: number;
  review?: DiffReview | undefined;
  picked: Picked | null;
  onPick?: FileSectionProps['onPick'];
  onUnpick: () => void;
}) {
  const { file } = entry;
  const sel = picked ? { side: picked.side, startLine: Math.min(picked.anchor, picked.focus), endLine: Math.max(picked.anchor, picked.focus) } : null;
  const notes = review?.commented.get(entry.path);
  const lines: LinePick = {
    onPick: onPick ? (_k, side, line, extend) => onPick(entry.key, side, line, extend) : undefined,
    mark: (side, line) => {
      if (line === undefined) return '';
      if (sel && sel.side === side && line >= sel.startLine && line <= sel.endLine) return ' diff-sel';
      return notes?.some((n) => n.side === side && line >= n.startLine && line <= n.endLine) ? ' diff-noted' : '';
    },
  };
  const language = file ? languageOf(displayPath(file)) : undefined;
  // First paint is plain text; highlighting follows as an interruptible background render, per file.
  const ready = useDeferredValue(true, false);
  const highlighted = useMemo(
    () => (file && language && (ready || file.hunks.every((h) => highlightCache.has(h))) ? file.hunks.map((h) => highlightHunk(h, language)) : undefined),
    [file, language, ready],
  );

  const note = fileNote(entry);
  const modeNote = file?.oldMode && file.newMode && file.oldMode !== file.newMode ? `File mode ${file.oldMode} → ${file.newMode}` : undefined;
  if (!file || file.hunks.length === 0) {
    return (
      <div id={id} className="diff-body">
        <p className="diff-file-note">{note ?? modeNote ?? 'No content changes.'}</p>
      </div>
    );
  }
  let maxNo = 0;
  for (const h of file.hunks) maxNo = Math.max(maxNo, h.oldStart + h.oldLines, h.newStart + h.newLines);
  const style = { '--diff-ln-digits': String(Math.max(2, String(maxNo).length)), containIntrinsicSize: `auto calc(${rows} * 1.18rem)` } as CSSProperties;
  return (
    <div id={id} className="diff-body" style={style}>
      {modeNote ? <p className="diff-file-note">{modeNote}</p> : null}
      <div className="diff-scroll">
        <table className={`diff-table diff-${mode}`}>
          {mode === 'split' ? (
            <colgroup>
              <col className="diff-col-ln" />
              <col />
              <col className="diff-col-ln" />
              <col />
            </colgroup>
          ) : null}
          {file.hunks.map((h, hi) => (
            <tbody key={hi}>
              <tr className="diff-hunk">
                <td colSpan={mode === 'split' ? 4 : 3}>{h.header}</td>
              </tr>
              {mode === 'split' ? <SplitLines hunk={h} html={highlighted?.[hi]} pick={lines} /> : <UnifiedLines hunk={h} html={highlighted?.[hi]} pick={lines} />}
            </tbody>
          ))}
        </table>
      </div>
      {review && sel && file ? (
        <CommentForm key={`${sel.side}${sel.startLine}-${sel.endLine}`} selection={{ path: entry.path, ...sel, quote: quoteOf(file, sel.side, sel.startLine, sel.endLine) }} onComment={review.onComment} onClose={onUnpick} />
      ) : null}
    </div>
  );
}

/** The text of lines startLine..endLine of one side of a file's hunks. */
function quoteOf(file: DiffFile, side: 'old' | 'new', startLine: number, endLine: number): string {
  const out: string[] = [];
  for (const h of file.hunks) {
    for (const l of h.lines) {
      const no = side === 'new' ? (l.kind === 'del' ? undefined : l.newNo) : l.kind === 'add' ? undefined : l.oldNo;
      if (no !== undefined && no >= startLine && no <= endLine) out.push(l.text);
    }
  }
  return out.join('\n');
}

const MAX_QUOTE = 16_000;

/** The comment box under a file whose lines are selected. */
function CommentForm({ selection, onComment, onClose }: { selection: LineSelection; onComment: DiffReview['onComment']; onClose: () => void }) {
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const { path, side, startLine, endLine } = selection;
  const label = `${path}, ${startLine === endLine ? `line ${startLine}` : `lines ${startLine}–${endLine}`} (${side === 'new' ? 'new' : 'old'})`;
  const submit = async () => {
    if (!body.trim()) return;
    setBusy(true);
    setError('');
    try {
      await onComment({ ...selection, quote: selection.quote.slice(0, MAX_QUOTE) }, body.trim());
      onClose();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      className="diff-comment-form"
      aria-label={`Comment on ${label}`}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div className="diff-comment-label">Comment on {label}</div>
      <pre className="diff-comment-quote">{selection.quote}</pre>
      <textarea aria-label="Comment" value={body} maxLength={8000} rows={3} autoFocus onChange={(e) => setBody(e.target.value)} placeholder="What should the agent change here?" />
      {error && <div className="diff-comment-error" role="alert">{error}</div>}
      <div className="diff-comment-actions">
        <button type="button" onClick={onClose} disabled={busy}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy || !body.trim()}>
          {busy ? 'Saving…' : 'Add comment'}
        </button>
      </div>
    </form>
  );
}

function fileNote(entry: Entry): string | undefined {
  const { file } = entry;
  if (entry.binary) return 'Binary file';
  if (!file) return 'Diff not available.';
  if (file.hunks.length > 0) return undefined;
  if (file.status === 'added') return 'Empty file';
  if (file.status === 'deleted') return 'Empty file deleted';
  if (file.status === 'renamed') return 'File renamed without changes';
  return undefined;
}

const SIGN = { add: 'diff-add', del: 'diff-del', context: 'diff-ctx' } as const;

/** The code cell: highlight.js's escaped HTML when there is some, else the raw text as a React text node. */
function Code({ line, html, className }: { line: DiffLine; html: string | undefined; className: string }) {
  const nonl = line.noNewline ? '' : undefined;
  return html === undefined ? (
    <td className={className} data-nonl={nonl}>
      {line.text}
    </td>
  ) : (
    <td className={className} data-nonl={nonl} dangerouslySetInnerHTML={{ __html: html }} />
  );
}

function UnifiedLines({ hunk, html, pick }: { hunk: DiffHunk; html: (string | undefined)[] | undefined; pick: LinePick }) {
  return hunk.lines.map((l, i) => {
    // A deleted line is a line of the old side; the others are read in the new version.
    const side = l.kind === 'del' ? 'old' : 'new';
    const no = side === 'old' ? l.oldNo : l.newNo;
    return (
      <tr key={i} className={SIGN[l.kind] + pick.mark(side, no)}>
        <td className="diff-ln diff-ln-old" data-ln={l.oldNo} {...lineProps(pick, side, no)} />
        <td className="diff-ln diff-ln-new" data-ln={l.newNo} {...lineProps(pick, side, no)} />
        <Code line={l} html={html?.[i]} className="diff-code" />
      </tr>
    );
  });
}

/** A line number cell that selects its line (shift: extends the selection) when review is on. */
function lineProps(pick: LinePick, side: 'old' | 'new', no: number | undefined) {
  if (!pick.onPick || no === undefined) return {};
  const onPick = pick.onPick;
  return {
    'data-side': side,
    'data-line': no,
    title: 'Select to comment (shift-click extends)',
    onClick: (e: MouseEvent<HTMLTableCellElement>) => onPick('', side, no, e.shiftKey),
  };
}

function SplitLines({ hunk, html, pick }: { hunk: DiffHunk; html: (string | undefined)[] | undefined; pick: LinePick }) {
  const index = useMemo(() => new Map(hunk.lines.map((l, i) => [l, i])), [hunk]);
  const rows = useMemo(() => splitRows(hunk), [hunk]);
  const side = (l: DiffLine | undefined, no: number | undefined, key: 'l' | 'r') => {
    const which = key === 'l' ? 'old' : 'new';
    return l ? (
      [
        <td key={`${key}n`} className={`diff-ln ${SIGN[l.kind]}${pick.mark(which, no)}`} data-ln={no} {...lineProps(pick, which, no)} />,
        <Code key={`${key}c`} line={l} html={html?.[index.get(l)!]} className={`diff-code ${SIGN[l.kind]}${pick.mark(which, no)}`} />,
      ]
    ) : (
      <td key={key} colSpan={2} className="diff-none" />
    );
  };
  return rows.map((r, i) => (
    <tr key={i}>
      {side(r.left, r.left?.oldNo, 'l')}
      {side(r.right, r.right?.newNo, 'r')}
    </tr>
  ));
}

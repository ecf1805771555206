// Globs for tool-approval rules, matched in linear time: a rule's pattern meets the agent's own tool
// input, so a backtracking regex (what glob libraries compile to) would let a pattern such as
// `*a*a*a*a*b` and a long enough command stall the daemon's event loop for everyone.
//
// Syntax: `*` any run of characters, `**` any run that may cross `/`, `?` one character, `[a-z]`
// `[!x]` `[^x]` one character of (not of) a set, `{a,b}` alternatives (nested, at most
// MAX_ALTERNATIVES in all), `\x` the character x; everything else is itself. In a path (`path`
// mode) `*`, `?` and sets never match `/`, `/**/` also matches `/`, and a leading `**/` also
// matches nothing; in words (a command line, a URL) `*` crosses `/` too.

/** Brace alternatives one pattern may expand to; more is refused (`globProblem`). */
export const MAX_ALTERNATIVES = 64;

type Token =
  | { t: 'char'; c: string }
  | { t: 'one' }
  | { t: 'set'; ranges: [string, string][]; negate: boolean }
  | { t: 'star'; cross: boolean; skip: number };

/** One alternative, compiled: tokens in order (a star may also be skipped together with what follows it). */
interface Program {
  tokens: Token[];
}

/** The first `{…}` group with a comma at the top level of a pattern (escapes and sets honoured). */
function firstGroup(p: string): { open: number; close: number; parts: string[] } | null {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === '\\') {
      i++;
    } else if (ch === '[' && depth === 0) {
      // A set's `{` and `}` are characters: skip to its `]` when it has one.
      const close = p.indexOf(']', i + 2);
      if (close > 0) i = close;
    } else if (ch === '{') {
      if (depth === 0) open = i;
      depth++;
    } else if (ch === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        const parts = splitTopLevel(p.slice(open + 1, i));
        if (parts.length >= 2) return { open, close: i, parts };
      }
    }
  }
  return null;
}

/**
 * `{a,b}` expansion; null when there would be more than MAX_ALTERNATIVES. Each pending pattern
 * yields at least one, so the work stops as soon as pending and done together pass the bound.
 */
function expandBraces(pattern: string): string[] | null {
  const done: string[] = [];
  const todo = [pattern];
  while (todo.length > 0) {
    const p = todo.pop()!;
    const g = firstGroup(p);
    if (!g) done.push(p);
    else for (const part of g.parts) todo.push(p.slice(0, g.open) + part + p.slice(g.close + 1));
    if (done.length + todo.length > MAX_ALTERNATIVES) return null;
  }
  return done.reverse();
}

/** The comma-separated parts of a brace body, at its own top level. */
function splitTopLevel(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '\\') i++;
    else if (ch === '{') depth++;
    else if (ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

/** A `[…]` set starting at `i` (the `[`); null when it does not close (then `[` is itself). */
function parseSet(p: readonly string[], i: number): { token: Token; end: number } | null {
  let j = i + 1;
  let negate = false;
  if (p[j] === '!' || p[j] === '^') {
    negate = true;
    j++;
  }
  const ranges: [string, string][] = [];
  let first = true;
  for (; j < p.length; j++) {
    let ch = p[j]!;
    if (ch === ']' && !first) return { token: { t: 'set', ranges, negate }, end: j };
    first = false;
    if (ch === '\\' && j + 1 < p.length) ch = p[++j]!;
    if (p[j + 1] === '-' && j + 2 < p.length && p[j + 2] !== ']') {
      let hi = p[j + 2]!;
      j += 2;
      if (hi === '\\' && j + 1 < p.length) hi = p[++j]!;
      ranges.push(ch <= hi ? [ch, hi] : [hi, ch]);
    } else ranges.push([ch, ch]);
  }
  return null;
}

function compile(pattern: string, path: boolean): Program {
  const tokens: Token[] = [];
  // Code points, as the input is read.
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '\\' && i + 1 < chars.length) {
      tokens.push({ t: 'char', c: chars[++i]! });
    } else if (ch === '*') {
      let n = 1;
      while (chars[i + 1] === '*') {
        i++;
        n++;
      }
      const cross = !path || n > 1;
      const prev = tokens[tokens.length - 1];
      // Consecutive stars are one.
      if (prev?.t === 'star') prev.cross ||= cross;
      else tokens.push({ t: 'star', cross, skip: 1 });
      // A path's `/**/` (or a leading `**/`) also matches a single `/` (or nothing): the star and
      // the slash after it may be skipped together.
      const atStart = tokens.length === 1;
      const afterSlash = tokens.length >= 2 && tokens[tokens.length - 2]!.t === 'char' && (tokens[tokens.length - 2] as { c: string }).c === '/';
      if (path && n > 1 && chars[i + 1] === '/' && (atStart || afterSlash)) {
        tokens.push({ t: 'char', c: '/' });
        (tokens[tokens.length - 2] as { skip: number }).skip = 2;
        i++;
      }
    } else if (ch === '?') {
      tokens.push({ t: 'one' });
    } else if (ch === '[') {
      const set = parseSet(chars, i);
      if (set) {
        tokens.push(set.token);
        i = set.end;
      } else tokens.push({ t: 'char', c: '[' });
    } else {
      tokens.push({ t: 'char', c: ch });
    }
  }
  return { tokens };
}

const SLASH = 0x2f;

/**
 * A program as bit masks over its states (state i: token i is next; state m: matched), one bit
 * per state in 32-bit words, so one input character moves every live state at once.
 */
interface Machine {
  words: number;
  final: number;
  star: Uint32Array;
  /** Stars that cross `/`. */
  cross: Uint32Array;
  /** Stars that may be skipped together with the `/` after them. */
  skip2: Uint32Array;
  one: Uint32Array;
  /** Literal tokens per code point. */
  chars: Map<number, Uint32Array>;
  sets: { at: number; tok: Token & { t: 'set' } }[];
  /** The set tokens that accept a code point, per code point seen (bounded). */
  setCache: Map<number, Uint32Array>;
}

const bit = (mask: Uint32Array, i: number) => {
  mask[i >>> 5]! |= 1 << (i & 31);
};

function machine(prog: Program): Machine {
  const m = prog.tokens.length;
  const words = (m >>> 5) + 1;
  const mask = () => new Uint32Array(words);
  const mc: Machine = { words, final: m, star: mask(), cross: mask(), skip2: mask(), one: mask(), chars: new Map(), sets: [], setCache: new Map() };
  prog.tokens.forEach((tok, i) => {
    if (tok.t === 'char') {
      const c = tok.c.codePointAt(0)!;
      let k = mc.chars.get(c);
      if (!k) mc.chars.set(c, (k = mask()));
      bit(k, i);
    } else if (tok.t === 'one') bit(mc.one, i);
    else if (tok.t === 'set') mc.sets.push({ at: i, tok });
    else {
      bit(mc.star, i);
      if (tok.cross) bit(mc.cross, i);
      if (tok.skip === 2) bit(mc.skip2, i);
    }
  });
  return mc;
}

function setsAccepting(mc: Machine, c: number, ch: string): Uint32Array | null {
  if (mc.sets.length === 0) return null;
  let k = mc.setCache.get(c);
  if (k) return k;
  k = new Uint32Array(mc.words);
  for (const { at, tok } of mc.sets) if (tok.ranges.some(([lo, hi]) => ch >= lo && ch <= hi) !== tok.negate) bit(k, at);
  if (mc.setCache.size < 256) mc.setCache.set(c, k);
  return k;
}

/**
 * Adds what stars let through without a character: a star's successor, and a skippable star's
 * successor after its `/`. One pass over the words; again only when it made another star live.
 */
function close(set: Uint32Array, star: Uint32Array, skip2: Uint32Array): void {
  for (;;) {
    let grew = false;
    let c1 = 0;
    let c2 = 0;
    for (let w = 0; w < set.length; w++) {
      const old = set[w]!;
      const s1 = old & star[w]!;
      const s2 = old & skip2[w]!;
      const add = (s1 << 1) | c1 | (s2 << 2) | c2;
      c1 = s1 >>> 31;
      c2 = s2 >>> 30;
      const now = old | add;
      if (now !== old) {
        set[w] = now;
        if ((now & ~old & (star[w]! | skip2[w]!)) !== 0) grew = true;
      }
    }
    if (!grew) return;
  }
}

/**
 * Runs the pattern as a set of live states over the input (a Thompson simulation, bit-parallel):
 * each input character costs a few operations per 32 tokens, whatever the pattern: a match is
 * O(input × pattern / 32) with no backtracking.
 */
function run(mc: Machine, input: string, path: boolean): boolean {
  const { words, star, cross, skip2, one } = mc;
  let cur = new Uint32Array(words);
  let next = new Uint32Array(words);
  bit(cur, 0);
  close(cur, star, skip2);
  for (const ch of input) {
    const c = ch.codePointAt(0)!;
    const slashBlocked = path && c === SLASH;
    const lit = mc.chars.get(c);
    const sets = slashBlocked ? null : setsAccepting(mc, c, ch);
    const stays = slashBlocked ? cross : star;
    let any = 0;
    let carry = 0;
    for (let w = 0; w < words; w++) {
      const live = cur[w]!;
      // Tokens that take this character move on by one; stars that take it stay.
      const moves = live & ((lit ? lit[w]! : 0) | (slashBlocked ? 0 : one[w]! | (sets ? sets[w]! : 0)));
      const v = (live & stays[w]!) | (moves << 1) | carry;
      carry = moves >>> 31;
      next[w] = v;
      any |= v;
    }
    if (any === 0) return false;
    close(next, star, skip2);
    [cur, next] = [next, cur];
  }
  return (cur[mc.final >>> 5]! & (1 << (mc.final & 31))) !== 0;
}

export interface Glob {
  (input: string): boolean;
}

/** Why a pattern cannot be used (too many alternatives), or null. */
export function globProblem(pattern: string): string | null {
  return expandBraces(pattern) ? null : `more than ${MAX_ALTERNATIVES} {…} alternatives`;
}

/**
 * A compiled glob. `path`: the input is a path (`*` stays within a directory); `basename`: a path
 * pattern without `/` is matched against the last part of the path. A pattern with too many
 * alternatives matches nothing.
 */
export function compileGlob(pattern: string, opts: { path: boolean; basename?: boolean }): Glob {
  const progs = (expandBraces(pattern) ?? []).map((p) => machine(compile(p, opts.path)));
  const base = opts.path && opts.basename === true;
  return (input: string) => {
    const subject = base ? input.slice(input.lastIndexOf('/') + 1) : input;
    return progs.some((p) => run(p, subject, opts.path));
  };
}

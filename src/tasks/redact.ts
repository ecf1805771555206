// Redactor: a task's secret values masked as ****<last 4> in every agent output line, before anything keeps or shows it.
import type { DeltaPiece } from '../agents/index.js';

/** What a value becomes: its last 4 characters after four stars (the shape logs use too). */
export function maskOf(value: string): string {
  const chars = [...value];
  return `****${chars.slice(-4).join('')}`;
}

/** The JSON string body of `s` (no quotes), as JSON.stringify writes it. */
function jsonBody(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** The same with every non-ASCII character as \uXXXX (Python's json.dumps, Go with escaping). */
function asciiJsonBody(s: string): string {
  return jsonBody(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

interface Form {
  find: Buffer;
  mask: Buffer;
}

/**
 * Agents write JSON lines, so a value they print usually arrives escaped: each value is looked for
 * as is, as a JSON string body, with non-ASCII escaped and with `/` escaped, and each form is
 * replaced by the mask in the same encoding (the line stays valid JSON). Longer values first, so a
 * value that contains another is masked whole. A value split across streamed deltas is found by
 * DeltaHold (below) on the text the deltas carry. What is not looked for (documented): a value
 * encoded (base64, URL-encoded) or transformed by the agent.
 */
export class Redactor {
  private readonly forms: Form[];
  /** The same forms as strings, for text pieced together from streamed deltas. */
  private readonly textForms: { find: string; mask: string }[];

  constructor(values: Iterable<string>) {
    const unique = [...new Set([...values].filter((v) => v.length > 0))].sort((a, b) => b.length - a.length);
    const forms = new Map<string, string>();
    for (const v of unique) {
      const m = maskOf(v);
      const pairs: [string, string][] = [
        [v, m],
        [jsonBody(v), jsonBody(m)],
        [asciiJsonBody(v), asciiJsonBody(m)],
        [jsonBody(v).replace(/\//g, '\\/'), jsonBody(m).replace(/\//g, '\\/')],
      ];
      for (const [find, mask] of pairs) if (!forms.has(find)) forms.set(find, mask);
    }
    this.forms = [...forms].map(([find, mask]) => ({ find: Buffer.from(find, 'utf8'), mask: Buffer.from(mask, 'utf8') }));
    this.textForms = [...forms].map(([find, mask]) => ({ find, mask }));
  }

  /**
   * Whether `text` ends with the start of a value (in any form): streamed text is held back while
   * it does, since the next piece may complete the value.
   */
  endsInPrefix(text: string): boolean {
    for (const { find } of this.textForms) {
      for (let k = Math.min(find.length - 1, text.length); k > 0; k--) {
        if (text.endsWith(find.slice(0, k))) return true;
      }
    }
    return false;
  }

  /**
   * Where values occur in `text` (in any form), as non-overlapping ranges with their masks, in
   * order; longer values first where two overlap.
   */
  ranges(text: string): { start: number; end: number; mask: string }[] {
    const found: { start: number; end: number; mask: string }[] = [];
    for (const { find, mask } of this.textForms) {
      for (let at = text.indexOf(find); at >= 0; at = text.indexOf(find, at + find.length)) {
        const end = at + find.length;
        if (!found.some((r) => at < r.end && r.start < end)) found.push({ start: at, end, mask });
      }
    }
    return found.sort((a, b) => a.start - b.start);
  }

  /** The line with every form of every value masked; the same Buffer when nothing matched. */
  apply(line: Buffer): Buffer {
    let out = line;
    for (const f of this.forms) {
      let at = out.indexOf(f.find);
      if (at < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at >= 0) {
        parts.push(out.subarray(from, at), f.mask);
        from = at + f.find.length;
        at = out.indexOf(f.find, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }
}

/** Names whose values are credentials, among the variables caic writes into ~/.env. */
export function isCredentialName(name: string): boolean {
  return /TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH/i.test(name);
}

/**
 * Holds back consecutive streamed delta lines while the text they carry ends with the start of a
 * secret, so that a value split across deltas is masked before any of its pieces is kept or shown:
 * once the text cannot be the start of a value any more (or a line that is not a delta comes), the
 * held lines are let go, each with the parts of a value it carries cut out and the mask put where
 * the value began.
 */
export class DeltaHold {
  private held: { line: Buffer; piece: DeltaPiece }[] = [];
  private text = '';

  constructor(private readonly redactor: Redactor) {}

  get holding(): boolean {
    return this.held.length > 0;
  }

  /**
   * Takes a delta line; returns the lines to keep now (none while held), masked where needed, each
   * with its length as the agent wrote it (the relay's offset counts those bytes).
   */
  push(line: Buffer, piece: DeltaPiece): { line: Buffer; bytes: number }[] {
    this.held.push({ line, piece });
    this.text += piece.text;
    return this.redactor.endsInPrefix(this.text) ? [] : this.release();
  }

  /** Lets every held line go (a line that is not a delta came, or the session ends). */
  release(): { line: Buffer; bytes: number }[] {
    const held = this.held;
    const ranges = this.redactor.ranges(this.text);
    this.held = [];
    this.text = '';
    if (!ranges.length) return held.map((h) => ({ line: h.line, bytes: h.line.length }));
    let offset = 0;
    return held.map(({ line, piece }) => {
      const start = offset;
      const end = offset + piece.text.length;
      offset = end;
      const touching = ranges.filter((r) => r.start < end && start < r.end);
      if (!touching.length) return { line, bytes: line.length };
      let out = '';
      let at = start;
      for (const r of touching) {
        if (r.start > at) out += piece.text.slice(at - start, r.start - start);
        // The mask goes where the value began; the rest of it, in this line or later ones, goes.
        if (r.start >= start) out += r.mask;
        at = Math.min(end, r.end);
      }
      if (at < end) out += piece.text.slice(at - start);
      return { line: piece.replace(out), bytes: line.length };
    });
  }
}

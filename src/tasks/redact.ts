// Redactor: a task's secret values masked as ****<last 4> in every agent output line, before anything keeps or shows it.

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
 * value that contains another is masked whole. What is not looked for (documented): a value split
 * across lines (streamed deltas), encoded (base64, URL-encoded) or transformed by the agent.
 */
export class Redactor {
  private readonly forms: Form[];

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

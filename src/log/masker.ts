// Replaces every registered secret in a string with `****` + its last 4 characters.
const MIN_SECRET_LENGTH = 4;
// Showing 4 characters of a short secret would reveal most of it; below this length we show none.
const MIN_LENGTH_TO_SHOW_TAIL = 12;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function maskValue(secret: string): string {
  return secret.length >= MIN_LENGTH_TO_SHOW_TAIL ? `****${secret.slice(-4)}` : '****';
}

export class SecretMasker {
  private readonly secrets = new Map<string, string>();
  private pattern: RegExp | null = null;

  /** Registers secrets (empty and very short values are ignored: they would mask ordinary text). */
  add(...values: (string | undefined | null)[]): void {
    let changed = false;
    for (const value of values) {
      if (!value || value.length < MIN_SECRET_LENGTH) continue;
      const replacement = maskValue(value);
      // A secret can also appear JSON-escaped inside a serialised log line.
      for (const form of new Set([value, JSON.stringify(value).slice(1, -1)])) {
        if (!this.secrets.has(form)) {
          this.secrets.set(form, replacement);
          changed = true;
        }
      }
    }
    if (changed) this.rebuild();
  }

  get size(): number {
    return this.secrets.size;
  }

  mask(text: string): string {
    const pattern = this.pattern;
    if (!pattern) return text;
    pattern.lastIndex = 0;
    return text.replace(pattern, (m) => this.secrets.get(m) ?? '****');
  }

  private rebuild(): void {
    // Longest first so a secret that contains another is replaced whole.
    const alternatives = [...this.secrets.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.pattern = new RegExp(alternatives.join('|'), 'g');
  }
}

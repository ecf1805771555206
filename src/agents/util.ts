// Helpers shared by the wire parsers: tolerant JSON access and tool output flattening.

export type Json = Record<string, unknown>;

export function asObject(v: unknown): Json | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

export function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

export function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

export type ParsedLine = { ok: true; value: Json } | { ok: false; message: string };

/** Parses one line; the error branch carries a message for the `error` event. */
export function parseLine(line: string): ParsedLine {
  try {
    const value = JSON.parse(line) as unknown;
    const obj = asObject(value);
    return obj ? { ok: true, value: obj } : { ok: false, message: 'agent output line is not a JSON object' };
  } catch {
    return { ok: false, message: 'agent output line is not valid JSON' };
  }
}

/** Tool results come as a string or as content blocks; we keep their text. */
export function flattenContent(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((b) => {
        const o = asObject(b);
        if (!o) return '';
        if (o.type === 'text') return str(o.text);
        if (o.type === 'image') return '[image]';
        return '';
      })
      .filter(Boolean)
      .join('\n');
  }
  return content === undefined || content === null ? '' : JSON.stringify(content);
}

export const MAX_ERROR_LINE = 2_000;

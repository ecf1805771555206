// Records HTTP exchanges with caic for android-api/README.md's examples: secrets and run-specific values replaced by placeholders, rendered into the README's marked regions.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { http } from './http.js';

export const README_FILE = fileURLToPath(new URL('../../../android-api/README.md', import.meta.url));

/** The headers an example shows (others are transport detail). */
const REQUEST_HEADERS = ['authorization', 'content-type', 'last-event-id', 'accept'];
const RESPONSE_HEADERS = ['content-type', 'location', 'cache-control', 'www-authenticate'];
const FIXED_TIME = '2026-11-30T10:00:00.000Z';

export interface RecordedRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Replaces what differs between runs or must never be written down: every value registered as a
 * secret or an id by its placeholder, then what the patterns catch (times, durations, JWTs), so the
 * rendered text is the same on every run and holds no token.
 */
export class Scrubber {
  private readonly values = new Map<string, string>();

  constructor(private readonly durationKeys: readonly string[] = ['durationMs', 'costUSD', 'cpuPercent', 'memoryBytes']) {}

  /** Writes `placeholder` wherever `value` appears (in every form a URL or a form body spells it). */
  add(value: string | undefined | null, placeholder: string): void {
    if (!value) return;
    this.values.set(value, placeholder);
    this.values.set(encodeURIComponent(value), placeholder);
  }

  /** The registered raw values: a rendered example must hold none of them. */
  secrets(): string[] {
    return [...this.values.keys()];
  }

  scrub(text: string): string {
    let out = text;
    for (const [value, placeholder] of [...this.values].sort(([a], [b]) => b.length - a.length)) out = out.split(value).join(placeholder);
    out = out.replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b/g, FIXED_TIME);
    // Anything shaped like a JWT that was not registered: never written as is.
    out = out.replace(/\beyJ[\w-]+\.[\w-]+\.[\w-]+/g, '<jwt>');
    for (const k of this.durationKeys) out = out.replace(new RegExp(`"${k}":(\\s*)[\\d.e+-]+`, 'g'), (_m, space: string) => `"${k}":${space}0`);
    return out;
  }
}

export interface Exchange {
  request: RecordedRequest;
  status: number;
  headers: Record<string, string>;
  body: string;
}

function pretty(body: string, contentType: string | undefined): string {
  if (contentType?.startsWith('application/json')) {
    try {
      return JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      return body;
    }
  }
  return body.replace(/\n+$/, '');
}

/** One exchange as the README shows it: the request, then the answer, each with the headers that matter. */
export function renderExchange(e: Exchange, s: Scrubber): string {
  const reqHeaders = Object.entries(e.request.headers ?? {})
    .filter(([k]) => REQUEST_HEADERS.includes(k.toLowerCase()))
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
  const req = `${e.request.method} ${e.request.path}\n${reqHeaders}${e.request.body !== undefined ? `\n${pretty(e.request.body, e.request.headers?.['content-type'])}\n` : ''}`;
  const resHeaders = RESPONSE_HEADERS.filter((k) => e.headers[k] !== undefined)
    .map((k) => `${k}: ${e.headers[k]}\n`)
    .join('');
  const body = pretty(e.body, e.headers['content-type']);
  const res = `HTTP/1.1 ${e.status}\n${resHeaders}${body ? `\n${body}\n` : ''}`;
  return s.scrub(`\`\`\`http\n${req}\`\`\`\n\n\`\`\`http\n${res}\`\`\``);
}

/** Sends requests to caic and keeps each exchange under the README region it belongs to. */
export class Recorder {
  private readonly kept: { region: string; e: Exchange }[] = [];

  constructor(
    private readonly baseUrl: string,
    readonly scrubber: Scrubber,
    private readonly host?: string,
  ) {}

  async send(region: string | null, req: RecordedRequest): Promise<Exchange> {
    const res = await http(`${this.baseUrl}${req.path}`, {
      method: req.method,
      headers: { ...(this.host ? { host: this.host } : {}), ...req.headers },
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const e: Exchange = { request: req, status: res.status, headers, body: res.body };
    if (region) this.keep(region, e);
    return e;
  }

  /** Keeps an exchange made some other way (an event stream read until `ready`). */
  keep(region: string, e: Exchange): void {
    this.kept.push({ region, e });
  }

  /** The regions' text, scrubbed with everything registered by now (tokens seen later included). */
  render(): Map<string, string> {
    const out = new Map<string, string[]>();
    for (const { region, e } of this.kept) out.set(region, [...(out.get(region) ?? []), renderExchange(e, this.scrubber)]);
    return new Map([...out].map(([k, v]) => [k, v.join('\n\n')]));
  }
}

const begin = (name: string) => `<!-- examples:${name} (generated by npm run gen:api-examples from the test run; do not edit) -->`;
const end = (name: string) => `<!-- /examples:${name} -->`;

/** The README with each region's text replaced; throws for a region the README has no markers for. */
export function fillReadme(readme: string, regions: Map<string, string>): string {
  let out = readme;
  for (const [name, text] of regions) {
    const a = out.indexOf(begin(name));
    const b = out.indexOf(end(name));
    if (a < 0 || b < a) throw new Error(`android-api/README.md has no region ${name}: add the lines\n${begin(name)}\n${end(name)}`);
    out = `${out.slice(0, a + begin(name).length)}\n${text}\n${out.slice(b)}`;
  }
  return out;
}

export function readReadme(): string {
  return readFileSync(README_FILE, 'utf8');
}

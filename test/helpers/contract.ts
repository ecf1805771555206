// The contract check of the test hook: one answer of caic (status, headers, body, SSE events) against android-api/openapi.json, with ajv.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';

// ajv, not zod: the document is checked by a validator that shares nothing with the code that
// made it, so a zod schema and the route table cannot agree on a mistake.
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv2020) => void;

export const OPENAPI_FILE = fileURLToPath(new URL('../../../android-api/openapi.json', import.meta.url));
/** The directory the runner gives for mismatches (one JSON line each); no directory, no hook. */
export const CONTRACT_DIR_ENV = 'CAIC_CONTRACT_DIR';
const SSE_EVENTS = 'x-sse-events';
const REF = '#/components/schemas/';
/**
 * Under /api/v1 but not this document's: the MCP endpoint speaks JSON-RPC over MCP's Streamable
 * HTTP (its own specification; the tests drive it with the MCP SDK's client and the Inspector),
 * and /api/v1/test/ is where tests mount probe routes on a daemon (DaemonOptions.extend) to
 * exercise the request pipeline.
 */
// A literal, not src/api's MCP_PATH: the hook loads in every process and must not pull in zod and
// the schemas for it (test/unit/contract-hook.test.ts checks they agree).
export const OTHER_CONTRACTS = ['/api/v1/mcp', '/api/v1/test/'];
/** Bodies beyond this are not buffered for checking (none of caic's JSON answers is near it). */
const MAX_BODY = 16 * 1024 * 1024;

export interface Answer {
  method: string;
  url: string;
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
}

export interface Mismatch {
  method: string;
  path: string;
  status: number;
  problems: string[];
  /** The script of the process that received it (the test file, or the CLI). */
  from?: string;
}

interface Schema {
  $ref?: string;
  [k: string]: unknown;
}
interface MediaType {
  schema?: Schema;
  [SSE_EVENTS]?: Record<string, Schema>;
}
interface ResponseObject {
  headers?: Record<string, { required?: boolean; schema?: Schema }>;
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId: string;
  responses: Record<string, ResponseObject>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema & { discriminator?: { propertyName: string; mapping: Record<string, string> } }> };
}

/** What the hook does with a body as it arrives: chunks, then the end (complete or cut off). */
export interface BodyCheck {
  chunk(data: Uint8Array | string): void;
  end(complete: boolean): void;
}

export class ContractChecker {
  private readonly doc: Document;
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  /** Path templates, literal segments first: /tasks/events before /tasks/{id}. */
  private readonly templates: { template: string; re: RegExp }[];

  constructor(
    doc: unknown,
    private readonly report: (m: Mismatch) => void,
  ) {
    this.doc = doc as Document;
    // The whole document is one schema resource; each check compiles only the part it needs, once.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.ajv);
    this.ajv.addSchema(this.doc, 'openapi.json');
    const literal = (t: string) => t.split('/').filter((s) => s && !s.startsWith('{')).length;
    this.templates = Object.keys(this.doc.paths)
      .sort((a, b) => literal(b) - literal(a) || b.length - a.length)
      .map((template) => ({
        template,
        re: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
      }));
  }

  /** Whether an answer to this URL is caic's API: under /api/v1/, or a documented path. */
  isCaic(url: string): boolean {
    const path = new URL(url).pathname;
    if (OTHER_CONTRACTS.some((p) => path === p || (p.endsWith('/') && path.startsWith(p)))) return false;
    return path.startsWith('/api/v1/') || path === '/api/v1' || this.templates.some((t) => t.re.test(path));
  }

  /** Starts checking one answer; null when it is not caic's (a stand-in's, a static file). */
  begin(a: Answer): BodyCheck | null {
    if (!this.isCaic(a.url)) return null;
    const path = new URL(a.url).pathname;
    const method = a.method.toUpperCase();
    const problems: string[] = [];
    const done = () => {
      if (problems.length > 0) this.report({ method, path, status: a.status, problems });
    };
    const template = this.templates.find((t) => t.re.test(path))?.template;
    const op = template ? this.doc.paths[template]?.[method.toLowerCase()] : undefined;
    let response: ResponseObject | undefined;
    if (!op) {
      // The server's answer to a path or method it does not serve is the documented 404 envelope.
      if (a.status !== 404 && a.status !== 405) problems.push(`undocumented ${template ? 'method' : 'path'}: ${method} ${path} answered ${a.status}`);
      response = { content: { 'application/json': { schema: { $ref: `${REF}ErrorResponse` } } } };
    } else {
      const s = String(a.status);
      response = op.responses[s] ?? op.responses[`${s[0]}XX`] ?? op.responses.default;
      if (!response) problems.push(`status ${a.status} is not documented for ${op.operationId} (${method} ${template})`);
    }
    if (!response || method === 'HEAD' || a.status === 204 || a.status === 304) return finishNow(done);
    for (const [name, h] of Object.entries(response.headers ?? {})) {
      const value = a.headers[name.toLowerCase()];
      if (value === undefined) {
        if (h.required) problems.push(`header ${name} is missing`);
      } else if (h.schema) {
        const v = this.validator(h.schema);
        if (!v(value)) problems.push(`header ${name}: ${JSON.stringify(value)} ${this.ajv.errorsText(v.errors, { dataVar: name })}`);
      }
    }
    const content = response.content;
    if (!content) return finishNow(done);
    const type = (a.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const media = content[type];
    if (!media) {
      problems.push(`content-type ${JSON.stringify(a.headers['content-type'] ?? '')} is not one of ${Object.keys(content).join(', ')}`);
      return finishNow(done);
    }
    const events = media[SSE_EVENTS];
    if (events) return this.sse(events, problems, done);
    const chunks: Buffer[] = [];
    let size = 0;
    return {
      chunk: (data) => {
        size += data.length;
        if (size <= MAX_BODY) chunks.push(Buffer.from(data));
      },
      end: (complete) => {
        // A body cut off (the client went away) is not the server's mistake.
        if (complete && size <= MAX_BODY && media.schema) {
          const text = Buffer.concat(chunks).toString('utf8');
          // JSON media types are parsed; any other (an HTML error page) is its text.
          if (/^application\/(.+\+)?json$/.test(type)) this.checkJson(media.schema, text, 'body', problems);
          else this.checkValue(media.schema, text, 'body', problems);
        }
        done();
      },
    };
  }

  /** Parses the stream as it arrives (WHATWG rules) and checks each event's data against its name's schema. */
  private sse(events: Record<string, Schema>, problems: string[], done: () => void): BodyCheck {
    const decoder = new TextDecoder();
    let buf = '';
    let event = '';
    let data: string[] = [];
    let n = 0;
    const dispatch = () => {
      if (data.length > 0) {
        n++;
        const name = event || 'message';
        const schema = events[name];
        if (!schema) problems.push(`event ${n}: undocumented event name ${JSON.stringify(name)}`);
        else if (problems.length < 20) this.checkJson(schema, data.join('\n'), `event ${n} (${name})`, problems);
      }
      event = '';
      data = [];
    };
    const line = (l: string) => {
      if (l === '') return dispatch();
      if (l.startsWith(':')) return;
      const i = l.indexOf(':');
      const field = i < 0 ? l : l.slice(0, i);
      let value = i < 0 ? '' : l.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    };
    return {
      chunk: (chunk) => {
        buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
        const parts = buf.split(/\r\n|\r|\n/);
        buf = parts.pop()!;
        for (const p of parts) line(p);
      },
      // Events already dispatched were checked; a half-received last one is not judged.
      end: () => done(),
    };
  }

  private checkJson(schema: Schema, text: string, what: string, problems: string[]): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      problems.push(`${what} is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
      return;
    }
    this.checkValue(schema, value, what, problems);
  }

  private checkValue(schema: Schema, value: unknown, what: string, problems: string[]): void {
    // A union with a discriminator: check the variant its property names (clearer errors than oneOf's).
    const target = this.variant(schema, value);
    const v = this.validator(target);
    if (!v(value)) {
      const ref = target.$ref ? ` (${target.$ref.slice(REF.length)})` : '';
      problems.push(`${what}${ref}: ${this.ajv.errorsText(v.errors?.slice(0, 5), { dataVar: what.split(' ')[0] })}; got ${JSON.stringify(value).slice(0, 300)}`);
    }
  }

  private variant(schema: Schema, value: unknown): Schema {
    if (!schema.$ref?.startsWith(REF) || typeof value !== 'object' || value === null) return schema;
    const d = this.doc.components.schemas[schema.$ref.slice(REF.length)]?.discriminator;
    const key = d ? (value as Record<string, unknown>)[d.propertyName] : undefined;
    const ref = typeof key === 'string' ? d?.mapping[key] : undefined;
    return ref ? { $ref: ref } : schema;
  }

  private validator(schema: Schema): ValidateFunction {
    // Refs inside the document are resolved against it: point the (small) wrapper there.
    const key = JSON.stringify(schema);
    let v = this.validators.get(key);
    if (!v) {
      const rebased = JSON.parse(key.replace(/"#\/components\//g, '"openapi.json#/components/')) as object;
      v = this.ajv.compile(rebased);
      this.validators.set(key, v);
    }
    return v;
  }
}

function finishNow(done: () => void): BodyCheck {
  done();
  return { chunk: () => {}, end: () => {} };
}

let shared: ContractChecker | null | undefined;

/** This process's checker when the runner asked for the hook (CAIC_CONTRACT_DIR set), else null. */
export function contractChecker(): ContractChecker | null {
  if (shared !== undefined) return shared;
  const dir = process.env[CONTRACT_DIR_ENV];
  if (!dir) return (shared = null);
  const file = join(dir, `${process.pid}.jsonl`);
  shared = new ContractChecker(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')), (m) =>
    appendFileSync(file, `${JSON.stringify({ ...m, from: process.argv[1]?.replace(/^.*\/dist\//, '') })}\n`),
  );
  return shared;
}

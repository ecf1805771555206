// Builds the OpenAPI 3.1 document from the route table, so the Android contract cannot drift.
import { z } from 'zod';
import { ErrorResponse, statusOfCode, type ErrorCode } from './errors.js';
import type { RouteDef } from './routes.js';

type JsonObject = Record<string, unknown>;

/** Extension of a `text/event-stream` media type: event name → schema of its `data:` JSON. */
export const SSE_EVENTS = 'x-sse-events';

/**
 * What any route can answer: a malformed request (no Host header, a bad URL), the gate's refusal, a
 * dependency down (Docker, a full disk), a bug.
 */
const COMMON_ERRORS: readonly ErrorCode[] = ['BAD_REQUEST', 'FORBIDDEN', 'INTERNAL_ERROR', 'SERVICE_UNAVAILABLE'];
/** What a request with a body can be refused for before any route sees it. */
const BODY_ERRORS: readonly ErrorCode[] = ['BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];

/**
 * Converts one schema. Named schemas (`.meta({id})`) become shared components; an input-side
 * schema whose JSON differs from the output side of the same id is stored as `<id>Input` (outputs
 * are converted first, so the plain name is always the answer's shape).
 */
function toJson(schema: z.ZodType, io: 'input' | 'output', components: JsonObject): JsonObject {
  const raw = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonObject & {
    $defs?: Record<string, JsonObject>;
  };
  const defs = raw.$defs ?? {};
  const rename = new Map<string, string>(Object.keys(defs).map((id) => [id, id]));
  const fix = (value: unknown): unknown =>
    JSON.parse(
      JSON.stringify(value).replace(/"#\/\$defs\/([^"]+)"/g, (_m, id: string) => `"#/components/schemas/${rename.get(id) ?? id}"`),
    );
  // A definition keeps its name when it is the same schema as the component of that name once its
  // own references are resolved; renaming one can change those that refer to it, hence the loop.
  for (let changed = true; changed; ) {
    changed = false;
    for (const [id, def] of Object.entries(defs)) {
      const existing = components[id];
      const same = existing === undefined || JSON.stringify(existing) === JSON.stringify(fix(def));
      if (!same && io === 'output') throw new Error(`two different answer schemas are named ${id}`);
      const name = same ? id : `${id}Input`;
      if (rename.get(id) !== name) {
        rename.set(id, name);
        changed = true;
      }
    }
  }
  for (const [id, def] of Object.entries(defs)) components[rename.get(id) ?? id] = fix(def);
  const { $schema: _schema, $defs: _defs, ...rest } = raw;
  return fix(rest) as JsonObject;
}

const REF = '#/components/schemas/';

/**
 * A `oneOf` of named objects that each fix one property to a constant (a zod discriminated union)
 * gets the OpenAPI `discriminator` with its mapping, so generators make one class per variant.
 */
function addDiscriminators(components: JsonObject): void {
  const constOf = (id: string, prop: string): unknown =>
    ((components[id] as { properties?: Record<string, { const?: unknown }> } | undefined)?.properties?.[prop])?.const;
  for (const schema of Object.values(components) as JsonObject[]) {
    const oneOf = schema.oneOf as { $ref?: string }[] | undefined;
    if (!oneOf?.every((s) => s.$ref?.startsWith(REF))) continue;
    const ids = oneOf.map((s) => s.$ref!.slice(REF.length));
    const first = components[ids[0]!] as { properties?: Record<string, { const?: unknown }> } | undefined;
    const prop = Object.keys(first?.properties ?? {}).find((p) => ids.every((id) => typeof constOf(id, p) === 'string'));
    if (!prop) continue;
    schema.discriminator = { propertyName: prop, mapping: Object.fromEntries(ids.map((id) => [constOf(id, prop) as string, `${REF}${id}`])) };
  }
}

function parameters(obj: z.ZodObject | undefined, where: 'path' | 'query', components: JsonObject): JsonObject[] {
  if (!obj) return [];
  const json = toJson(obj, 'input', components) as { properties?: Record<string, JsonObject>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return {
      name,
      in: where,
      required: where === 'path' || (json.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

export function buildOpenApi(routeTable: Record<string, RouteDef>, version: string): JsonObject {
  const components: JsonObject = {};
  const paths: Record<string, Record<string, JsonObject>> = {};
  const errorRef = toJson(ErrorResponse, 'output', components);
  const entries = Object.entries(routeTable);
  // Answers first: the plain component names are the shapes the server sends.
  const answers = new Map<string, JsonObject>();
  for (const [operationId, r] of entries) {
    const responses: JsonObject = {};
    if (r.response) {
      const schema = toJson(r.response, 'output', components);
      responses['200'] = {
        description: 'OK',
        ...(r.noStore ? { headers: { 'Cache-Control': { required: true, schema: { type: 'string', const: 'no-store' } } } } : {}),
        content: { 'application/json': { schema } },
      };
      for (const status of r.responseAlso ?? []) responses[String(status)] = { description: 'Same body as 200', content: { 'application/json': { schema } } };
    }
    if (r.sse) {
      const events: JsonObject = { message: toJson(r.sse, 'output', components) };
      for (const [name, schema] of Object.entries(r.sseEvents ?? {})) events[name] = toJson(schema, 'output', components);
      responses['200'] = {
        description:
          'Server-sent events. `x-sse-events` maps each event name (`event:` line; `message` when absent) to the schema of its `data:` JSON.',
        // Proxies must neither cache nor transform (compress, buffer) a stream.
        headers: { 'Cache-Control': { required: true, schema: { type: 'string', const: 'no-cache, no-transform' } } },
        content: { 'text/event-stream': { schema: { type: 'string' }, [SSE_EVENTS]: events } },
      };
    }
    if (r.websocket) {
      responses['101'] = {
        description: 'Switching Protocols (WebSocket). Binary frames carry raw bytes; each text frame is one JSON value: `x-client-message` from the client, `x-server-message` from the server.',
        'x-client-message': toJson(r.websocket.client, 'input', components),
        'x-server-message': toJson(r.websocket.server, 'output', components),
      };
    }
    if (r.redirect) {
      responses['302'] = { description: 'Redirect', headers: { Location: { required: true, schema: { type: 'string' } } } };
    }
    const codes = new Set<ErrorCode>([...COMMON_ERRORS, ...(r.errors ?? [])]);
    if (r.access === 'user') codes.add('UNAUTHORIZED');
    // Any POST/PUT/PATCH may carry a body, whether or not the route reads one.
    if (r.body || r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH') for (const c of BODY_ERRORS) codes.add(c);
    const errorContent = {
      'application/json': { schema: errorRef },
      ...(r.errorPages ? { 'text/html': { schema: { type: 'string', description: 'An error page, for a browser (Accept: text/html).' } } } : {}),
    };
    for (const code of [...codes].sort((a, b) => statusOfCode[a] - statusOfCode[b])) {
      if (responses[String(statusOfCode[code])]) continue;
      const challenge = code === 'UNAUTHORIZED' && r.challenge ? { headers: { 'WWW-Authenticate': { required: true, schema: { type: 'string', const: r.challenge } } } } : {};
      responses[String(statusOfCode[code])] = { description: code, ...challenge, content: errorContent };
    }
    answers.set(operationId, responses);
  }
  for (const [operationId, r] of entries) {
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const op: JsonObject = {
      operationId,
      summary: r.summary,
      tags: [r.tag],
      parameters: [
        ...parameters(r.params, 'path', components),
        ...parameters(r.querystring, 'query', components),
      ],
      responses: answers.get(operationId),
    };
    if (r.access === 'user') op.security = [{ bearer: [] }, { cookie: [] }];
    if (r.body) {
      op.requestBody = {
        required: !r.body.safeParse(null).success,
        content: { 'application/json': { schema: toJson(r.body, 'input', components) } },
      };
    }
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
    if (r.cors) {
      const header = (value: string) => ({ required: true, schema: { type: 'string', const: value } });
      paths[path].options = {
        operationId: `${operationId}Preflight`,
        summary: 'CORS preflight of a browser page on another origin (with an Origin header; 405 without).',
        tags: [r.tag],
        parameters: parameters(r.params, 'path', components),
        responses: {
          '204': {
            description: 'Preflight accepted',
            headers: {
              'Access-Control-Allow-Methods': header(r.cors.methods),
              'Access-Control-Allow-Headers': header(r.cors.headers),
              'Access-Control-Max-Age': { required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
            },
          },
          ...Object.fromEntries(
            (['BAD_REQUEST', 'FORBIDDEN', 'METHOD_NOT_ALLOWED', 'INTERNAL_ERROR', 'SERVICE_UNAVAILABLE'] as const).map((code) => [
              String(statusOfCode[code]),
              { description: code, content: { 'application/json': { schema: errorRef } } },
            ]),
          ),
        },
      };
    }
  }
  addDiscriminators(components);
  return {
    openapi: '3.1.0',
    info: {
      title: 'caic',
      version,
      description: 'caic HTTP API. Errors use the ErrorResponse envelope. See android-api/README.md for the login flow.',
    },
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'caic_session' },
      },
    },
  };
}

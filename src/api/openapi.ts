// Builds the OpenAPI 3.1 document from the route table, so the Android contract cannot drift.
import { z } from 'zod';
import { ErrorResponse, statusOfCode, type ErrorCode } from './errors.js';
import type { RouteDef } from './routes.js';

type JsonObject = Record<string, unknown>;

const COMMON_ERRORS: readonly ErrorCode[] = ['FORBIDDEN', 'INTERNAL_ERROR'];

/**
 * Converts one schema. Named schemas (`.meta({id})`) become shared components; an input-side
 * schema whose JSON differs from the output side of the same id is stored as `<id>Input`.
 */
function toJson(schema: z.ZodType, io: 'input' | 'output', components: JsonObject): JsonObject {
  const raw = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonObject & {
    $defs?: Record<string, JsonObject>;
  };
  const defs = raw.$defs ?? {};
  const rename = new Map<string, string>();
  for (const [id, def] of Object.entries(defs)) {
    const existing = components[id];
    const same = existing === undefined || JSON.stringify(existing) === JSON.stringify(def);
    rename.set(id, same ? id : `${id}Input`);
  }
  const fix = (value: unknown): unknown =>
    JSON.parse(
      JSON.stringify(value).replace(/"#\/\$defs\/([^"]+)"/g, (_m, id: string) => `"#/components/schemas/${rename.get(id) ?? id}"`),
    );
  for (const [id, def] of Object.entries(defs)) components[rename.get(id) ?? id] = fix(def);
  const { $schema: _schema, $defs: _defs, ...rest } = raw;
  return fix(rest) as JsonObject;
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
  for (const [operationId, r] of Object.entries(routeTable)) {
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const responses: JsonObject = {};
    if (r.response) {
      responses['200'] = {
        description: 'OK',
        content: { 'application/json': { schema: toJson(r.response, 'output', components) } },
      };
    }
    if (r.sse) {
      const item = toJson(r.sse, 'output', components);
      responses['200'] = {
        description: 'Server-sent events; each `data:` line is one JSON value of this schema.',
        content: { 'text/event-stream': { schema: { type: 'string' }, itemSchema: item } },
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
      responses['302'] = { description: 'Redirect', headers: { Location: { schema: { type: 'string' } } } };
    }
    const codes = new Set<ErrorCode>([...COMMON_ERRORS, ...(r.errors ?? [])]);
    if (r.access === 'user') codes.add('UNAUTHORIZED');
    if (r.body) codes.add('BAD_REQUEST').add('PAYLOAD_TOO_LARGE');
    if (r.params || r.querystring) codes.add('BAD_REQUEST');
    for (const code of [...codes].sort((a, b) => statusOfCode[a] - statusOfCode[b])) {
      responses[String(statusOfCode[code])] = {
        description: code,
        content: { 'application/json': { schema: errorRef } },
      };
    }
    const op: JsonObject = {
      operationId,
      summary: r.summary,
      tags: [r.tag],
      parameters: [
        ...parameters(r.params, 'path', components),
        ...parameters(r.querystring, 'query', components),
      ],
      responses,
    };
    if (r.access === 'user') op.security = [{ bearer: [] }, { cookie: [] }];
    if (r.body) {
      op.requestBody = {
        required: !r.body.safeParse(null).success,
        content: { 'application/json': { schema: toJson(r.body, 'input', components) } },
      };
    }
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
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

// android-api/openapi.json is generated from the route table and must not go stale.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { EventMessage, routes } from '../../src/api/index.js';
import { OPENAPI_PATH, renderOpenApi } from '../tools/gen-openapi.js';

test('android-api/openapi.json matches the route table (run `npm run gen:openapi`)', () => {
  assert.equal(readFileSync(OPENAPI_PATH, 'utf8'), renderOpenApi());
});

test('every route is documented with its errors and schemas', () => {
  const doc = JSON.parse(renderOpenApi()) as {
    paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    components: { schemas: Record<string, unknown> };
  };
  for (const [name, r] of Object.entries(routes)) {
    const op = doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
    assert.ok(op, `${name} missing`);
    assert.equal(op.operationId, name);
    assert.ok(op.responses['403'], `${name}: the gate can always answer 403`);
  }
  for (const id of ['ErrorResponse', 'UserResp', 'ServerConfigResp', 'AuthProvider']) assert.ok(doc.components.schemas[id], id);
});

// An independent validator (the official OpenAPI 3.1 JSON Schemas), not our zod: a document the
// generator gets wrong (e.g. a 3.2-only keyword such as itemSchema) fails here.
test('android-api/openapi.json is valid OpenAPI 3.1', async () => {
  const validator = new Validator();
  const result = await validator.validate(JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as Parameters<Validator['validate']>[0]);
  assert.equal(validator.version, '3.1');
  assert.deepEqual(result.errors ?? [], []);
  assert.equal(result.valid, true);
});

test('SSE streams name a schema per event, and unions carry a discriminator mapping', () => {
  const doc = JSON.parse(renderOpenApi()) as {
    paths: Record<string, { get: { responses: { '200': { content: Record<string, Record<string, Record<string, { $ref: string }>>> } } } }>;
    components: { schemas: Record<string, { discriminator?: { propertyName: string; mapping: Record<string, string> } }> };
  };
  const events = doc.paths['/api/v1/tasks/{id}/events']!.get.responses['200'].content['text/event-stream']!['x-sse-events']!;
  assert.deepEqual(Object.keys(events).sort(), ['message', 'ready']);
  assert.equal(events.ready!.$ref, '#/components/schemas/SseReady');
  const kinds = doc.components.schemas.EventMessage!.discriminator!;
  assert.equal(kinds.propertyName, 'kind');
  assert.equal(kinds.mapping.toolUse, '#/components/schemas/EventToolUse');
  // One mapping per kind of the union (the zod schema is the source), so a new kind needs an id.
  assert.equal(Object.keys(kinds.mapping).length, EventMessage.options.length);
  const list = doc.components.schemas.TaskListEvent!.discriminator!;
  assert.deepEqual(Object.keys(list.mapping).sort(), ['delete', 'patch', 'snapshot', 'upsert']);
});

test('answer schemas never point at an input-side component', () => {
  const doc = JSON.parse(renderOpenApi()) as { paths: Record<string, Record<string, { responses: unknown }>>; components: { schemas: Record<string, unknown> } };
  const schemas = doc.components.schemas;
  // Everything reachable from the answers: an `XInput` there (X being a component too) is the
  // request-side shape standing in for an answer, as TaskListEvent → TaskInput once did.
  const seen = new Set<string>();
  const walk = (value: unknown): void => {
    for (const m of JSON.stringify(value).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      if (seen.has(m[1]!)) continue;
      seen.add(m[1]!);
      walk(schemas[m[1]!]);
    }
  };
  for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) walk(op.responses);
  const inputs = [...seen].filter((id) => id.endsWith('Input') && schemas[id.slice(0, -'Input'.length)] !== undefined);
  assert.deepEqual(inputs, []);
});

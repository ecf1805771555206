// android-api/openapi.json is generated from the route table and must not go stale.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { routes } from '../../src/api/index.js';
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

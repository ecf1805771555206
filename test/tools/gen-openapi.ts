// Writes android-api/openapi.json from the route table (npm run gen:openapi); a test fails when it is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildOpenApi, routes } from '../../src/api/index.js';
import { VERSION } from '../../src/config/index.js';

export const OPENAPI_PATH = fileURLToPath(new URL('../../../android-api/openapi.json', import.meta.url));

export function renderOpenApi(): string {
  return `${JSON.stringify(buildOpenApi(routes, VERSION), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_PATH, renderOpenApi());
  console.log(`wrote ${OPENAPI_PATH}`);
}

// Public surface of src/api: wire schemas, the route table and the OpenAPI builder.
export * from './errors.js';
export * from './server.js';
export * from './auth.js';
export * from './events.js';
export * from './forge.js';
export * from './tasks.js';
export * from './review.js';
export * from './oauth.js';
export * from './voice.js';
export * from './push.js';
export * from './preview.js';
export * from './secrets.js';
export * from './routes.js';
export * from './terminal.js';
export { unquoteGitPath } from './git-path.js';
export { buildOpenApi } from './openapi.js';
export * from './mcp.js';
export * from './voice-channel.js';

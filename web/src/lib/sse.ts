// The web UI's event streams: the SSE client in src/client, shared with the `caic` command.
export * from '../../../src/client/sse.js';

// The web UI's API client: the transport-independent client in src/client, shared with the `caic` command.
export * from '../../../src/client/api.js';

// Loaded with --import into every test process (and the CLI it starts): caic's answers to fetch and node:http are checked against the contract.
import { createRequire } from 'node:module';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type * as Contract from '../helpers/contract.js';
import type { BodyCheck, ContractChecker } from '../helpers/contract.js';

// Diagnostics channels see every answer a process receives, whichever helper asked, without
// wrapping fetch or patching node:http's client: fetch (undici) publishes headers, body chunks and
// the end; node:http publishes the response, whose body we read by teeing `push` (no listener,
// so a consumer's flow control is untouched).
const require = createRequire(import.meta.url);
let checker: ContractChecker | null | undefined;
function get(): ContractChecker | null {
  // Loaded on the first answer, synchronously (require of an ES module): processes that never
  // receive one (most children) do not pay for ajv.
  if (checker === undefined) {
    const mod = require('../helpers/contract.js') as typeof Contract;
    checker = mod.contractChecker();
  }
  return checker;
}

interface UndiciRequest {
  origin: string | URL;
  path: string;
  method: string;
}
interface UndiciResponse {
  statusCode: number;
  headers: Buffer[];
}

const fetches = new WeakMap<UndiciRequest, BodyCheck>();

function headersOf(raw: Buffer[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!.toString('latin1').toLowerCase();
    const v = raw[i + 1]!.toString('latin1');
    out[k] = out[k] === undefined ? v : `${out[k]}, ${v}`;
  }
  return out;
}

subscribe('undici:request:headers', (msg) => {
  const { request, response } = msg as { request: UndiciRequest; response: UndiciResponse };
  const check = get()?.begin({
    method: request.method,
    url: new URL(request.path, request.origin).href,
    status: response.statusCode,
    headers: headersOf(response.headers),
  });
  if (check) fetches.set(request, check);
});
subscribe('undici:request:bodyChunkReceived', (msg) => {
  const { request, chunk } = msg as { request: UndiciRequest; chunk: Buffer };
  fetches.get(request)?.chunk(chunk);
});
subscribe('undici:request:trailers', (msg) => {
  const { request } = msg as { request: UndiciRequest };
  fetches.get(request)?.end(true);
  fetches.delete(request);
});
subscribe('undici:request:error', (msg) => {
  const { request } = msg as { request: UndiciRequest };
  fetches.get(request)?.end(false);
  fetches.delete(request);
});

subscribe('http.client.response.finish', (msg) => {
  const { request, response } = msg as { request: ClientRequest; response: IncomingMessage };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(response.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  const check = get()?.begin({
    method: request.method,
    url: new URL(request.path, 'http://caic.invalid').href,
    status: response.statusCode ?? 0,
    headers,
  });
  if (!check) return;
  const push = response.push.bind(response);
  let ended = false;
  response.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk !== null && chunk !== undefined) check.chunk(chunk as Buffer);
    return push(chunk, encoding);
  };
  response.once('end', () => {
    if (!ended) check.end(true);
    ended = true;
  });
  response.once('close', () => {
    if (!ended) check.end(response.complete);
    ended = true;
  });
});

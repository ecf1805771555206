// MCP refusals that need no container: the rate limit (429 + Retry-After), body limits, sessions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { http } from '../helpers/http.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('MCP limits', () => {
  let d: TestDaemon;
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    http(`${d.url}/api/v1/mcp`, { method: 'POST', headers: { ...HEADERS, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  before(async () => {
    d = await startTestDaemon('[server]\nallow_origins = ["local"]\nbody_limit = 65536\n', { mcp: { rateLimit: { max: 6, windowMs: 60_000 } } });
  });
  after(async () => {
    await d?.[Symbol.asyncDispose]();
  });

  test('sessions: a request without one must initialize; an unknown one is not found; DELETE ends one', async () => {
    const noSession = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    assert.equal(noSession.status, 400, noSession.body);
    const unknown = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': 'nope' });
    assert.equal(unknown.status, 404, unknown.body);
    const init = await post(INIT);
    assert.equal(init.status, 200, init.body);
    const sid = String(init.headers['mcp-session-id']);
    const del = await http(`${d.url}/api/v1/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } });
    assert.equal(del.status, 200, del.body);
    const gone = await post({ jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
    assert.equal(gone.status, 404, gone.body);
  });

  test('a body over the limit is 413 with the envelope', async () => {
    const r = await post({ ...INIT, pad: 'x'.repeat(70_000) });
    assert.equal(r.status, 413, r.body);
    assert.equal(r.json<{ error: { code: string } }>().error.code, 'PAYLOAD_TOO_LARGE');
  });

  test('past the rate limit: 429 with Retry-After and the envelope', async () => {
    // The requests above counted too; keep going until refused, within the limit's reach.
    let r = await post(INIT);
    for (let i = 0; i < 6 && r.status !== 429; i++) r = await post(INIT);
    assert.equal(r.status, 429, r.body);
    assert.ok(Number(r.headers['retry-after']) > 0, JSON.stringify(r.headers));
    assert.equal(r.json<{ error: { code: string } }>().error.code, 'RATE_LIMITED');
    // Other routes are not limited by it.
    assert.equal((await http(`${d.url}/api/v1/server/config`)).status, 200);
  });
});

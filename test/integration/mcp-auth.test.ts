// Who may call the MCP endpoint with login configured: OAuth bearer tokens (a test verifier stands in
// for the authorization server), the web session cookie, scopes, per-user tasks, and every refusal.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Task, UserResp } from '../../src/api/index.js';
import { http } from '../helpers/http.js';
import { signIn } from '../helpers/login.js';
import { mcpClient, testTokens } from '../helpers/mcp.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { waitUntil } from '../helpers/wait.js';

const HOST = 'caic.test';
const RESOURCE = `https://${HOST}/api/v1/mcp`;
const METADATA = `https://${HOST}/.well-known/oauth-protected-resource/api/v1/mcp`;
const ALL = 'caic:mcp.read caic:tasks.read caic:tasks.write caic:tasks.admin caic:repos.write';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('MCP with login configured', { timeout: 180_000 }, () => {
  let stub: StubForge;
  let env: TaskEnv;
  const tokens = testTokens();
  const audit: Record<string, unknown>[] = [];
  let alice: { headers: Record<string, string>; id: string; token: string };
  let bob: { headers: Record<string, string>; id: string; token: string };
  let bobTask: Task;

  const post = (headers: Record<string, string>, body: unknown = INIT, path = '/api/v1/mcp') =>
    http(`${env.d.url}${path}`, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body: JSON.stringify(body) });
  const user = async (login: { id: number; username: string }) => {
    const headers = await signIn(env.d.url, HOST, stub, login);
    const me = (await http(`${env.d.url}/api/v1/auth/me`, { headers })).json<UserResp>();
    return { headers, id: me.id, token: await tokens.mint({ sub: me.id, scope: ALL, aud: RESOURCE }) };
  };

  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({
      extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(stub, ['alice', 'bob'])}`,
      daemon: { mcp: { tokenVerifier: tokens.verifier, audit: { append: (r) => audit.push(r) }, recheckMs: 100 } },
    });
    alice = await user({ id: 101, username: 'alice' });
    bob = await user({ id: 102, username: 'bob' });
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test('no token → 401 with the resource metadata and scopes to ask for', async () => {
    const r = await post({});
    assert.equal(r.status, 401, r.body);
    const challenge = String(r.headers['www-authenticate']);
    assert.match(challenge, /^Bearer /);
    assert.ok(challenge.includes(`resource_metadata="${METADATA}"`), challenge);
    assert.ok(challenge.includes(`scope="${ALL}"`), challenge);
    assert.equal(r.json<{ error: { code: string } }>().error.code, 'UNAUTHORIZED');
  });

  test('wrong, expired, wrong-audience, session and query-string tokens are refused with invalid_token', async () => {
    const other = testTokens();
    const cases: [string, Record<string, string>, string][] = [
      ['signed by someone else', { authorization: `Bearer ${await other.mint({ sub: alice.id, scope: ALL, aud: RESOURCE })}` }, ''],
      ['for another audience', { authorization: `Bearer ${await tokens.mint({ sub: alice.id, scope: ALL, aud: 'https://elsewhere.test/mcp' })}` }, ''],
      ['expired', { authorization: `Bearer ${await tokens.mint({ sub: alice.id, scope: ALL, aud: RESOURCE, expiresIn: '-1m' })}` }, ''],
      ['for a user not in users.json', { authorization: `Bearer ${await tokens.mint({ sub: 'nobody', scope: ALL, aud: RESOURCE })}` }, ''],
      ['a caic session token (not an OAuth access token)', alice.headers, ''],
      ['not Bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, ''],
    ];
    for (const [what, headers] of cases) {
      const r = await post(headers);
      assert.equal(r.status, 401, `${what}: ${r.body}`);
      assert.match(String(r.headers['www-authenticate']), /error="invalid_(token|request)"/, what);
    }
    const q = await post({}, INIT, `/api/v1/mcp?access_token=${alice.token}`);
    assert.equal(q.status, 401, q.body);
    assert.match(String(q.headers['www-authenticate']), /error="invalid_request"/);
  });

  test('a foreign Origin is refused (403), also on the GET stream; the own origin is not', async () => {
    const auth = { authorization: `Bearer ${alice.token}` };
    const get = await http(`${env.d.url}/api/v1/mcp`, { headers: { ...auth, accept: 'text/event-stream', origin: 'https://evil.example' } });
    assert.equal(get.status, 403, get.body);
    const postForeign = await post({ ...auth, origin: 'https://evil.example' });
    assert.equal(postForeign.status, 403, postForeign.body);
    const own = await post({ ...auth, host: HOST, origin: `https://${HOST}` });
    assert.equal(own.status, 200, own.body);
  });

  test('a token acts as its user: only their tasks; another user’s session is not found', async () => {
    bobTask = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'bob’s task' } }, bob.headers);
    await using a = await mcpClient(env.d.url, { authorization: `Bearer ${alice.token}` });
    await using b = await mcpClient(env.d.url, { authorization: `Bearer ${bob.token}` });
    const mine = (await b.call('tasks_list')).structuredContent as { tasks: { id: string; taskNumber: number }[] };
    assert.deepEqual(mine.tasks.map((t) => [t.taskNumber, t.id]), [[1, bobTask.id]]);
    const theirs = (await a.call('tasks_list')).structuredContent as { tasks: unknown[] };
    assert.deepEqual(theirs.tasks, []);
    const byId = await a.call('task_get_detail', { task: bobTask.id });
    assert.equal(byId._meta?.['xyz.caic/error'], 'NOT_FOUND');
    await assert.rejects(a.client.readResource({ uri: `caic://tasks/${bobTask.id}` }));
    // Bob's session id with Alice's token: as if it did not exist.
    const hijack = await post({ authorization: `Bearer ${alice.token}`, 'mcp-session-id': b.transport.sessionId!, 'mcp-protocol-version': '2025-11-25' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    assert.equal(hijack.status, 404, hijack.body);
    await env.waitState(bobTask.id, 'waiting', { headers: bob.headers });
  });

  test('scopes: tools/list shows what the token allows; a call above it is a step-up tool error', async () => {
    const narrow = await tokens.mint({ sub: alice.id, scope: 'caic:tasks.read caic:tasks.write', aud: RESOURCE, clientId: 'narrow-client' });
    await using c = await mcpClient(env.d.url, { authorization: `Bearer ${narrow}` });
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('tasks_list') && names.includes('task_create'), names.join());
    for (const hidden of ['task_stop', 'task_purge', 'clone_repo', 'get_usage', 'repos_list']) assert.ok(!names.includes(hidden), `${hidden} hidden`);
    const stop = await c.call('task_stop', { task: 1 });
    assert.equal(stop.isError, true);
    assert.equal(stop._meta?.['xyz.caic/error'], 'INSUFFICIENT_SCOPE');
    const challenge = String(stop._meta?.['mcp/www_authenticate']);
    assert.match(challenge, /^Bearer error="insufficient_scope", scope="caic:tasks.read caic:tasks.write caic:tasks.admin"/);
    assert.ok(challenge.includes(`resource_metadata="${METADATA}"`), challenge);
    // Push is within tasks.write; a forced push needs admin.
    const force = await c.call('task_push_branch_to_remote', { task: 1, force: true });
    assert.equal(force._meta?.['xyz.caic/error'], 'INSUFFICIENT_SCOPE');
    await assert.rejects(c.client.readResource({ uri: 'caic://usage' }), /caic:mcp.read/);
  });

  test('a session whose token is revoked is closed at the next recheck', async () => {
    const token = await tokens.mint({ sub: bob.id, scope: ALL, aud: RESOURCE, clientId: 'revoked-client' });
    const c = await mcpClient(env.d.url, { authorization: `Bearer ${token}` });
    await c.client.subscribeResource({ uri: `caic://tasks/${bobTask.id}` });
    const sid = c.transport.sessionId!;
    // Another token of the same user and client may use the session while it exists.
    const probeToken = await tokens.mint({ sub: bob.id, scope: 'caic:tasks.read', aud: RESOURCE, clientId: 'revoked-client' }); // not the same JWT
    const probe = () => post({ authorization: `Bearer ${probeToken}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, { jsonrpc: '2.0', id: 9, method: 'ping' });
    assert.equal((await probe()).status, 200);
    tokens.revoke(token);
    await waitUntil(probe, (r) => r.status === 404, { what: 'the session closed after its token was revoked', timeoutMs: 10_000, intervalMs: 100 });
    await c.client.close().catch(() => undefined);
  });

  test('the web session cookie (same origin) is accepted with every tool', async () => {
    const session = alice.headers.authorization!.slice('Bearer '.length);
    await using c = await mcpClient(env.d.url, { cookie: `caic_session=${session}` });
    assert.equal((await c.client.listTools()).tools.length, 20);
  });

  test('a session opened with the web cookie is closed at the next recheck after that sign-in logs out', async () => {
    const first = await signIn(env.d.url, HOST, stub, { id: 101, username: 'alice' });
    const session = first.authorization!.slice('Bearer '.length);
    const c = await mcpClient(env.d.url, { cookie: `caic_session=${session}` });
    const sid = c.transport.sessionId!;
    // Alice's other sign-in may use the session while it exists (same user), so it can watch it end.
    const probe = () => post({ cookie: `caic_session=${alice.headers.authorization!.slice('Bearer '.length)}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, { jsonrpc: '2.0', id: 9, method: 'ping' });
    assert.equal((await probe()).status, 200);
    const out = await http(`${env.d.url}/api/v1/auth/logout`, { method: 'POST', headers: { ...first, origin: `https://${HOST}` } });
    assert.ok(out.status < 300, `logout: ${out.status} ${out.body}`);
    await waitUntil(probe, (r) => r.status === 404, { what: 'the cookie session closed after its sign-in logged out', timeoutMs: 10_000, intervalMs: 100 });
    await c.client.close().catch(() => undefined);
  });

  test('audit: one record per call with who, client, tool, decision and result; never a token', () => {
    const calls = audit.filter((r) => r.event === 'mcp.tool');
    const denied = calls.find((r) => r.tool === 'task_stop' && r.decision === 'deny');
    assert.ok(denied, JSON.stringify(calls));
    assert.equal(denied.user, alice.id);
    assert.equal(denied.username, 'alice');
    assert.equal(denied.client, 'narrow-client');
    assert.equal(denied.result, 'INSUFFICIENT_SCOPE');
    const listed = calls.find((r) => r.tool === 'tasks_list' && r.username === 'bob');
    assert.ok(listed && listed.decision === 'allow' && listed.result === 'OK' && typeof listed.ms === 'number');
    const notFound = calls.find((r) => r.tool === 'task_get_detail' && r.username === 'alice');
    assert.equal(notFound?.result, 'NOT_FOUND');
    assert.ok(audit.some((r) => r.event === 'mcp.resource' && r.decision === 'deny'));
    const text = JSON.stringify(audit);
    for (const secret of [alice.token, bob.token, alice.headers.authorization!.slice(7)]) assert.ok(!text.includes(secret), 'no token in the audit log');
  });
});

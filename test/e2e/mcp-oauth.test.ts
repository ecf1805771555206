// An MCP client signing in to caic the way Claude or VS Code do: the SDK's Client with its OAuth client
// provider finds the authorization server from the 401, registers (DCR; then a Client ID Metadata
// Document on a local https server), and a person signs in (GitHub stand-in) and consents in real
// Chromium; then it drives a fake-agent task in a real container and refreshes its token.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auth, UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Task, TaskState } from '../../src/api/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { externalFetch, mcpClient, type TestMcpClient } from '../helpers/mcp.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { selfSignedCert, startTlsProxy, type TlsProxy } from '../helpers/tls-proxy.js';

const HOST = 'caic.test';
const ORIGIN = `https://${HOST}`;
const MCP_URL = `${ORIGIN}/api/v1/mcp`;
const REDIRECT = 'https://client.example/callback';

/** An MCP client's OAuth state, kept in memory as a real client keeps it on disk. */
class MemoryOAuthProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  readonly clientMetadataUrl?: string;

  constructor(readonly name: string, clientMetadataUrl?: string) {
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
  }
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.name, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

describe('an MCP client signs in with OAuth (login configured)', { timeout: 300_000 }, () => {
  let stub: StubForge;
  let env: TaskEnv;
  let tls: TlsProxy;
  let browser: TestBrowser;
  let docs: Server;
  let ca: string;
  let docUrl: string;
  let docFetches = 0;
  let task: Task;
  const clients: TestMcpClient[] = [];
  let fetchFn: typeof fetch;

  before(async () => {
    // The Client ID Metadata Document's host: https with a certificate only this test trusts.
    const docCert = await selfSignedCert('localhost');
    ca = docCert.cert;
    docs = createServer({ key: docCert.key, cert: ca }, (req, res) => {
      docFetches++;
      if (req.url !== '/mcp-client.json') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ client_id: docUrl, client_name: 'Metadata Doc Client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }));
    });
    await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r));
    docUrl = `https://localhost:${(docs.address() as AddressInfo).port}/mcp-client.json`;

    stub = await startStubForge();
    stub.user = { id: 4242, username: 'octocat' };
    env = await taskEnv({ extraConfig: `external_url = "${ORIGIN}"\n${githubLoginToml(stub, ['octocat'])}`, daemon: { oauthFetch: { allowPrivate: true, ca } } });
    fetchFn = externalFetch(HOST, env.d.url);
    tls = await startTlsProxy(HOST, new URL(env.d.url));
    browser = await launchBrowser({ args: [`--host-resolver-rules=MAP ${HOST} 127.0.0.1:${tls.port}`], ignoreHTTPSErrors: true });
  });
  after(async () => {
    for (const c of clients) await c[Symbol.asyncDispose]();
    await browser?.[Symbol.asyncDispose]();
    await tls?.[Symbol.asyncDispose]();
    await env?.[Symbol.asyncDispose]();
    await stub?.close();
    docs?.close();
  });

  /** The person's part, in Chromium: (sign in,) tick `tick` besides the read scopes, allow; the code the client gets. */
  const consent = async (url: URL, clientName: string, tick: RegExp[]): Promise<string> => {
    const page = await browser.newPage();
    let landed: URL | undefined;
    await page.route('https://client.example/**', (route) => {
      landed = new URL(route.request().url());
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'client got it' });
    });
    await page.goto(url.href);
    await page.getByRole('heading', { name: `Allow ${clientName} to use caic?` }).waitFor();
    for (const name of tick) await page.getByRole('checkbox', { name }).check();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByText('client got it').waitFor();
    assert.deepEqual(browser.pageErrors(page).filter((e) => !/401|404/.test(e)), []);
    await page.close();
    assert.ok(landed, 'redirected to the client');
    assert.equal(landed.searchParams.get('iss'), ORIGIN, 'RFC 9207 iss');
    const code = landed.searchParams.get('code');
    assert.ok(code);
    return code;
  };

  /** The whole sign-in as an MCP client goes through it: 401 → discovery → registration → browser → code → tokens → connected. */
  const signIn = async (provider: MemoryOAuthProvider, tick: RegExp[]): Promise<TestMcpClient> => {
    await assert.rejects(mcpClient(ORIGIN, {}, { authProvider: provider, fetch: fetchFn }), UnauthorizedError);
    const url = provider.authorizationUrl;
    assert.ok(url, 'the provider was sent to the authorization endpoint');
    assert.equal(url.origin + url.pathname, `${ORIGIN}/oauth/authorize`, 'found through the protected-resource metadata');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('resource'), MCP_URL);
    const code = await consent(url, provider.name, tick);
    await new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: fetchFn }).finishAuth(code);
    assert.ok(provider.saved?.access_token && provider.saved.refresh_token, 'an access and a refresh token');
    const c = await mcpClient(ORIGIN, {}, { authProvider: provider, fetch: fetchFn });
    clients.push(c);
    return c;
  };

  test('DCR, sign-in and consent in Chromium; tools by scope; a fake-agent task asks, is answered, finishes; the token refreshes', async () => {
    const provider = new MemoryOAuthProvider('SDK Test Client');
    const mcp = await signIn(provider, [/Start tasks/]);
    assert.ok(provider.client && !provider.client.client_id.startsWith('https://'), 'registered by DCR');
    assert.equal(docFetches, 0);

    const names = (await mcp.client.listTools()).tools.map((t) => t.name);
    for (const n of ['tasks_list', 'task_create', 'task_answer_question', 'repos_list']) assert.ok(names.includes(n), `${n} granted: ${names.join(' ')}`);
    for (const n of ['task_stop', 'task_purge', 'clone_repo']) assert.ok(!names.includes(n), `${n} needs a scope that was not ticked`);

    const read = async () => {
      const r = await mcp.client.readResource({ uri: `caic://tasks/${task.id}` });
      const c = r.contents[0]!;
      return JSON.parse('text' in c ? c.text : '') as Task;
    };
    /** Waits on the notifications of the subscription (not polling) until the task is in `state`. */
    const waitFor = async (state: TaskState) => {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const seen = mcp.updated.length;
        const t = await read();
        if (t.state === state) return t;
        if (mcp.updated.length === seen) await mcp.nextNotification(Math.max(1, deadline - Date.now()), `task ${task.id}: state ${state} (is ${t.state})`);
      }
    };

    const created = await mcp.call('task_create', { prompt: 'hello over OAuth', repo: 'proj', harness: 'fake' });
    assert.equal(created.isError, undefined, JSON.stringify(created));
    task = created.structuredContent as Task;
    await mcp.client.subscribeResource({ uri: `caic://tasks/${task.id}` });
    await waitFor('waiting');
    assert.equal((await env.container(task.id))?.State, 'running', 'a real container');

    const updatesBefore = mcp.updated.length;
    assert.equal((await mcp.call('task_send_message', { task: task.id, message: 'FAKE_ASK please' })).isError, undefined);
    await waitFor('asking');
    assert.ok(mcp.updated.slice(updatesBefore).includes(`caic://tasks/${task.id}`), 'notified when it asked');
    const answered = await mcp.call('task_answer_question', { task: task.id, answer: 'PostgreSQL' });
    assert.equal(answered.isError, undefined, JSON.stringify(answered));
    const done = await waitFor('waiting');
    assert.ok(done.result.length > 0, 'a result');
    const last = await mcp.call('agent_last_message', { task: task.id });
    assert.ok((last.structuredContent as { text: string }).text.length > 0, JSON.stringify(last));

    // Above the granted scopes: a step-up challenge, not a call.
    const stop = await mcp.call('task_stop', { task: task.id });
    assert.equal(stop.isError, true);
    assert.equal(stop._meta?.['xyz.caic/error'], 'INSUFFICIENT_SCOPE');

    // The SDK's refresh: a new access token, the refresh token rotated.
    const old = provider.saved!;
    assert.equal(await auth(provider, { serverUrl: new URL(MCP_URL), fetchFn }), 'AUTHORIZED');
    const fresh = provider.saved!;
    assert.notEqual(fresh.access_token, old.access_token);
    assert.ok(fresh.refresh_token && fresh.refresh_token !== old.refresh_token, 'the refresh token rotated');
    // The open session goes on with the new token (the transport reads it per request).
    const listed = await mcp.call('tasks_list', {});
    assert.deepEqual((listed.structuredContent as { tasks: { id: string }[] }).tasks.map((t) => t.id), [task.id]);
    const who = await env.d.daemon.oauth!.verifier.verify(fresh.access_token, MCP_URL);
    assert.equal(who?.clientId, provider.client.client_id);
    assert.notEqual(who?.userId, 'local', 'the signed-in user, not the no-login account');

    // Every call is in the audit log, attributed to the client; no token in it.
    const audit = await readFile(join(env.d.daemon.config.configDir, 'audit.jsonl'), 'utf8');
    const records = audit.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(records.some((r) => r.event === 'mcp.tool' && r.tool === 'task_create' && r.client === provider.client!.client_id && r.decision === 'allow'));
    assert.ok(records.some((r) => r.event === 'mcp.tool' && r.tool === 'task_stop' && r.decision === 'deny'));
    assert.ok(records.some((r) => r.event === 'consent.given'));
    for (const secret of [old.access_token, old.refresh_token!, fresh.access_token, fresh.refresh_token]) assert.ok(!audit.includes(secret), 'no token in the audit log');
  });

  test('a Client ID Metadata Document as client_id: fetched over https (a CA the test trusts), consent by its name, read-only tools', async () => {
    const provider = new MemoryOAuthProvider('Metadata Doc Client', docUrl);
    // Already signed in to caic in this browser: straight to the consent page.
    const mcp = await signIn(provider, []);
    assert.equal(provider.client?.client_id, docUrl, 'the URL is the client id; nothing was registered');
    assert.ok(docFetches >= 1, 'the document was fetched');
    const names = (await mcp.client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['agent_last_message', 'approvals_list', 'get_usage', 'repos_list', 'secrets_list', 'task_diff', 'task_get_detail', 'tasks_list'], 'read scopes only');
    const listed = await mcp.call('tasks_list', {});
    assert.deepEqual((listed.structuredContent as { tasks: { id: string }[] }).tasks.map((t) => t.id), [task.id], 'the same user’s tasks');
  });
});

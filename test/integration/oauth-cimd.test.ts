// Client ID Metadata Documents and the no-login loopback case: a client whose client_id is an https
// URL served by a local TLS server (its certificate trusted by the test), fetched through the SSRF
// guard, and a consent page shown even though no login is configured.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { guardedFetch } from '../../src/oauth/index.js';
import { TOOLS } from '../../src/mcp/index.js';
import { selfSignedCert } from '../helpers/tls-proxy.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { http } from '../helpers/http.js';
import { mcpClient } from '../helpers/mcp.js';
import { authorize, call, CookieJar, pkcePair, qs, token, type WalkTarget } from '../helpers/oauth-walk.js';

const REDIRECT = 'https://client.example/callback';

describe('Client ID Metadata Documents (no login, loopback)', { timeout: 120_000 }, () => {
  let d: TestDaemon;
  let t: WalkTarget;
  let https: Server;
  let ca: string;
  let clientId: string;
  let fetched = 0;
  let accessToken = '';

  before(async () => {
    const docCert = await selfSignedCert('localhost');
    ca = docCert.cert;
    https = createServer({ key: docCert.key, cert: ca }, (req, res) => {
      fetched++;
      if (req.url === '/client.json') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
        res.end(JSON.stringify({ client_id: clientId, client_name: 'Metadata Doc Client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    clientId = `https://localhost:${(https.address() as AddressInfo).port}/client.json`;
    d = await startTestDaemon('', { oauthFetch: { allowPrivate: true, ca } });
    t = { url: d.url };
  });
  after(async () => {
    await d?.[Symbol.asyncDispose]();
    https?.close();
  });

  test('an https client_id is fetched once, shown by name on the consent page, and gets tokens', async () => {
    const { verifier, challenge } = pkcePair();
    const issuer = d.url;
    const back = await authorize(
      t,
      new CookieJar(),
      { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'caic:mcp.read caic:tasks.admin', code_challenge: challenge, code_challenge_method: 'S256' },
      { scopes: ['caic:mcp.read'] },
    );
    assert.equal(back.searchParams.get('iss'), issuer);
    const res = await token(t, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT });
    assert.equal(res.status, 200, res.body);
    accessToken = res.json<{ access_token: string }>().access_token;
    const who = await d.daemon.oauth!.verifier.verify(accessToken);
    assert.deepEqual(who, { userId: 'local', scopes: ['caic:mcp.read'], clientId });
    assert.equal(fetched, 1, 'the document is cached');
    const grants = await call(t, '/api/v1/oauth/grants');
    assert.equal(grants.json<{ grants: { clientName: string }[] }>().grants[0]!.clientName, 'Metadata Doc Client');
  });

  test('MCP with no login: no token is the local user with every tool; a token holds only what was ticked; a bad one is refused', async () => {
    await using all = await mcpClient(d.url);
    assert.equal((await all.client.listTools()).tools.length, TOOLS.length);
    await using narrow = await mcpClient(d.url, { authorization: `Bearer ${accessToken}` });
    assert.deepEqual((await narrow.client.listTools()).tools.map((t) => t.name).sort(), ['get_usage', 'repos_list']);
    const stop = await narrow.call('task_stop', { task: 1 });
    assert.equal(stop._meta?.['xyz.caic/error'], 'INSUFFICIENT_SCOPE');
    const forged = await http(`${d.url}/api/v1/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${accessToken.slice(0, -4)}AAAA` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    assert.equal(forged.status, 401, forged.body);
    assert.match(String(forged.headers['www-authenticate']), /error="invalid_token"/);
  });

  test('the consent page: client name, redirect host, read scopes ticked and write/admin not', async () => {
    const { challenge } = pkcePair();
    const jar = new CookieJar();
    const start = await call(t, `/oauth/authorize?${qs({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'caic:tasks.read caic:tasks.write caic:tasks.admin', code_challenge: challenge, code_challenge_method: 'S256' })}`, { jar });
    const page = await call(t, String(start.headers.location), { jar });
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /Allow Metadata Doc Client to use caic\?/);
    assert.match(page.body, /client\.example/);
    assert.match(page.body, /value="caic:tasks.read" checked/);
    assert.match(page.body, /value="caic:tasks.write">/);
    assert.match(page.body, /value="caic:tasks.admin">/);
    assert.doesNotMatch(page.body, /<script/i, 'works without JavaScript');
  });

  test('the SSRF guard: loopback and private addresses are refused unless allowed; http is refused', async () => {
    const strict = guardedFetch({ ca });
    await assert.rejects(strict(clientId), /non-public address/);
    await assert.rejects(strict('http://example.com/x'), /only https/);
    const open = guardedFetch({ ca, allowPrivate: true });
    assert.equal((await open(clientId)).status, 200);
  });
});

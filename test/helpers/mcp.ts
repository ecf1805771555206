// MCP clients for tests: the SDK's own Client over Streamable HTTP, notifications collected with waits.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, type StreamableHTTPClientTransportOptions } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { SignJWT } from 'jose';
import type { McpTokenVerifier } from '../../src/mcp/index.js';

export interface TestMcpClient extends AsyncDisposable {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** URIs of every resources/updated notification, in order. */
  updated: string[];
  listChanged: number;
  /** Resolves when a notification arrives (or rejects at the deadline). */
  nextNotification(timeoutMs: number, what: string): Promise<void>;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
}

/** `url`: the daemon's base URL; `transport`: more options of the SDK transport (an OAuth client provider, a fetch). */
export async function mcpClient(url: string, headers: Record<string, string> = {}, transportOpts: StreamableHTTPClientTransportOptions = {}): Promise<TestMcpClient> {
  const client = new Client({ name: 'caic-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/api/v1/mcp`), { requestInit: { headers }, ...transportOpts });
  const updated: string[] = [];
  let listChanged = 0;
  let waiters: (() => void)[] = [];
  const notify = () => {
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  };
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updated.push(n.params.uri);
    notify();
  });
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
    listChanged++;
    notify();
  });
  await client.connect(transport);
  return {
    client,
    transport,
    updated,
    get listChanged() {
      return listChanged;
    },
    nextNotification(timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no MCP notification within ${timeoutMs} ms: ${what}`)), timeoutMs);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    call: (name, args = {}) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>,
    async [Symbol.asyncDispose]() {
      await transport.terminateSession().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}

/**
 * Stands in for caic's authorization server: HS256 access tokens minted by the test, checked for
 * signature, expiry and audience (the MCP resource URL), as the real verifier must.
 */
export function testTokens(secret = crypto.getRandomValues(new Uint8Array(32))) {
  /** Tokens the "authorization server" revoked (a grant deleted in Settings). */
  const revoked = new Set<string>();
  const verifier: McpTokenVerifier = {
    async verify(token, resource) {
      const { jwtVerify } = await import('jose');
      if (revoked.has(token)) return null;
      try {
        const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], audience: resource, requiredClaims: ['sub', 'exp'] });
        const str = (v: unknown) => (typeof v === 'string' ? v : '');
        return { userId: str(payload.sub), scopes: str(payload.scope).split(' ').filter(Boolean), clientId: str(payload.client_id) };
      } catch {
        return null;
      }
    },
  };
  const mint = (claims: { sub: string; scope: string; aud: string; clientId?: string; expiresIn?: string }) =>
    new SignJWT({ scope: claims.scope, client_id: claims.clientId ?? 'test-client' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.sub)
      .setAudience(claims.aud)
      .setIssuedAt()
      .setExpirationTime(claims.expiresIn ?? '1h')
      .sign(secret);
  return { verifier, mint, revoke: (token: string) => void revoked.add(token) };
}

/**
 * A fetch for the SDK client that reaches `https://<host>/…` (the daemon's external URL) at the
 * daemon's plain-HTTP listener with that Host header, as the TLS front a deployment has would.
 * Bodies stream (the GET notification stream), redirects are not followed (the SDK decides), and
 * aborting the request ends it. Any other URL goes to the global fetch.
 */
export function externalFetch(host: string, daemonUrl: string): typeof fetch {
  const target = new URL(daemonUrl);
  return async (input, init) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    if (url.host !== host) return fetch(req);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const headers = Object.fromEntries(req.headers);
    return new Promise<Response>((resolve, reject) => {
      const r = request(
        { host: target.hostname, port: target.port, method: req.method, path: `${url.pathname}${url.search}`, headers: { ...headers, host } },
        (res) => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) for (const x of ([] as string[]).concat(v ?? [])) h.append(k, x);
          const status = res.statusCode ?? 500;
          const empty = status === 204 || status === 304 || req.method === 'HEAD';
          if (empty) res.resume();
          resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers: h }));
        },
      );
      const abort = () => r.destroy(new DOMException('aborted', 'AbortError'));
      if (req.signal.aborted) return abort();
      req.signal.addEventListener('abort', abort, { once: true });
      r.on('error', reject);
      r.end(body);
    });
  };
}

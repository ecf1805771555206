// MCP clients for tests: the SDK's own Client over Streamable HTTP, notifications collected with waits.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
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

export async function mcpClient(url: string, headers: Record<string, string> = {}): Promise<TestMcpClient> {
  const client = new Client({ name: 'caic-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/api/v1/mcp`), { requestInit: { headers } });
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

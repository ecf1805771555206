// Walks caic's OAuth authorization flow over plain HTTP as a browser would (cookie jar, redirects by
// hand), and the client's side of it: DCR, PKCE, code exchange, refresh.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { http, type HttpResponse } from './http.js';

export class CookieJar {
  readonly cookies = new Map<string, string>();
  take(res: HttpResponse): void {
    for (const line of res.setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1);
      const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a) || /max-age=0\b/i.test(a.trim()));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** A query string. */
export function qs(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface WalkTarget {
  /** http://127.0.0.1:port of the daemon. */
  url: string;
  /** Host header (the external_url's host), or undefined for the listener's own. */
  host?: string;
}

export function form(data: Record<string, string | string[]>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(data)) for (const x of ([] as string[]).concat(v)) p.append(k, x);
  return p.toString();
}

export async function call(t: WalkTarget, path: string, opts: { method?: string; body?: string; headers?: Record<string, string>; jar?: CookieJar } = {}): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...(t.host ? { host: t.host } : {}), ...opts.headers };
  if (opts.jar && opts.jar.cookies.size) headers.cookie = opts.jar.header();
  if (opts.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await http(`${t.url}${path}`, { method: opts.method ?? 'GET', headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  opts.jar?.take(res);
  return res;
}

export async function register(t: WalkTarget, metadata: Record<string, unknown>): Promise<{ client_id: string; registration_access_token: string; registration_client_uri: string }> {
  const res = await call(t, '/oauth/register', { method: 'POST', body: JSON.stringify(metadata), headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 201, res.body);
  return res.json();
}

/** Follows redirects on this server until one leaves it (to the client's redirect URI) or a page answers. */
export async function follow(t: WalkTarget, first: HttpResponse, jar: CookieJar): Promise<HttpResponse | URL> {
  let res = first;
  for (let i = 0; i < 10; i++) {
    if (res.status < 300 || res.status >= 400) return res;
    const loc = new URL(String(res.headers.location), `https://${t.host ?? 'localhost'}`);
    const ours = !t.host ? loc.host === new URL(t.url).host || loc.host === 'localhost' : loc.host === t.host;
    if (!ours) return loc;
    res = await call(t, `${loc.pathname}${loc.search}`, { jar, headers: { accept: 'text/html' } });
  }
  throw new Error('too many redirects');
}

/** Pulls the consent form's hidden CSRF value and action out of the page. */
export function consentForm(html: string): { action: string; csrf: string; checked: string[]; offered: string[] } {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(action && csrf, `consent page: ${html.slice(0, 300)}`);
  const offered = [...html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1]!);
  const checked = [...html.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]!);
  return { action, csrf, checked, offered };
}

/** From /oauth/authorize to the redirect back to the client, ticking `scopes` and allowing (or denying). */
export async function authorize(
  t: WalkTarget,
  jar: CookieJar,
  params: Record<string, string>,
  decide: { scopes: string[]; decision?: 'allow' | 'deny' },
): Promise<URL> {
  const start = await call(t, `/oauth/authorize?${qs(params)}`, { jar, headers: { accept: 'text/html' } });
  const page = await follow(t, start, jar);
  assert.ok(!(page instanceof URL), `expected the consent page, went to ${page instanceof URL ? page.href : ''}`);
  assert.equal(page.status, 200, page.body.slice(0, 500));
  const f = consentForm(page.body);
  const posted = await call(t, f.action, { method: 'POST', jar, body: form({ csrf: f.csrf, scope: decide.scopes, decision: decide.decision ?? 'allow' }), headers: { accept: 'text/html' } });
  const back = await follow(t, posted, jar);
  assert.ok(back instanceof URL, `expected a redirect to the client, got ${back instanceof URL ? '' : `${back.status} ${back.body.slice(0, 300)}`}`);
  return back;
}

export async function token(t: WalkTarget, params: Record<string, string>): Promise<HttpResponse> {
  return call(t, '/oauth/token', { method: 'POST', body: form(params) });
}

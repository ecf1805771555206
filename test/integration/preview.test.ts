// App previews on a real daemon with login on (two users): a FAKE_SERVE dev server in a real task
// container is detected and proxied over the task's SSH connection, HTTP and WebSocket, and every
// guard of the preview hosts holds: no cookie, a spent or misplaced token, another user's task, Host
// tricks, caic's cookies kept from the app, the app's cookies kept to its host, the task's end.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { PreviewOpenResp, PreviewsResp, Task } from '../../src/api/index.js';
import { signIn } from '../helpers/login.js';
import { dockerCli } from '../helpers/engine.js';
import { cookieAttributes, cookiePair, http, type HttpResponse } from '../helpers/http.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { waitUntil, within } from '../helpers/wait.js';

const HOST = 'caic.test';
const DOMAIN = 'preview.test';

describe('app previews', () => {
  let stub: StubForge;
  let env: TaskEnv;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  let task: Task;
  let bobTask: Task;
  const ph = (t: Task, port = 3000) => `p${port}-${t.id}.${DOMAIN}`;
  /** A request to a preview host, through the daemon's one listener. */
  const preview = (host: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string | Buffer): Promise<HttpResponse> =>
    http(`${env.d.url}${path}`, { method, headers: { host, ...headers }, ...(body !== undefined ? { body } : {}) });
  const open = async (t: Task, who: Record<string, string>, port = 3000) => {
    const r = await env.api('POST', `/api/v1/tasks/${t.id}/previews/${port}/open`, undefined, who);
    assert.equal(r.status, 200, r.body);
    const url = new URL(r.json<PreviewOpenResp>().url);
    return { url, host: url.hostname, path: `${url.pathname}${url.search}` };
  };
  /** Opens a port's preview and trades the link for its cookie. */
  const cookieFor = async (t: Task, who: Record<string, string>, port = 3000) => {
    const o = await open(t, who, port);
    const r = await preview(o.host, o.path);
    assert.equal(r.status, 302, r.body);
    return cookiePair(r.setCookies.find((c) => c.startsWith('caic_preview='))!);
  };
  const serving = async (t: Task, who: Record<string, string>) =>
    waitUntil(
      async () => (await env.api('GET', `/api/v1/tasks/${t.id}/previews`, undefined, who)).json<PreviewsResp>(),
      (p) => p.ports.some((x) => x.port === 3000),
      { timeoutMs: 30_000, what: 'port 3000 detected' },
    );

  before(async () => {
    stub = await startStubForge();
    env = await taskEnv({ extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(stub, ['alice', 'bob'])}\n[preview]\ndomain = "${DOMAIN}"\n` });
    alice = await signIn(env.d.url, HOST, stub, { id: 601, username: 'alice' });
    bob = await signIn(env.d.url, HOST, stub, { id: 602, username: 'bob' });
    task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_SERVE 3000' } }, alice);
    bobTask = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_SERVE 3000' } }, bob);
    await env.waitState(task.id, 'waiting', { headers: alice });
    await env.waitState(bobTask.id, 'waiting', { headers: bob });
  });
  after(async () => {
    try {
      await env?.[Symbol.asyncDispose]();
    } finally {
      await stub?.close();
    }
  });

  test('the dev server is detected with its preview origin; only its owner sees it', async () => {
    const p = await serving(task, alice);
    assert.equal(p.available, true);
    assert.deepEqual(p.ports.find((x) => x.port === 3000), { port: 3000, host: '127.0.0.1', url: `https://${ph(task)}/` });
    assert.ok(!p.ports.some((x) => x.port === 22), 'sshd is not a preview');
    assert.equal((await env.api('GET', `/api/v1/tasks/${task.id}/previews`, undefined, bob)).status, 404, "bob: alice's task does not exist");
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/previews/3000/open`, undefined, bob)).status, 404);
    assert.equal((await env.api('GET', `/api/v1/tasks/${task.id}/previews`, undefined, { host: HOST })).status, 401, 'no session');
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/previews/3000/open`, undefined, { host: HOST })).status, 401);
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/previews/22/open`, undefined, alice)).status, 400, 'sshd cannot be opened');
  });

  test('an open link is single-use, good on its own host only, and sets a host-only cookie', async () => {
    const o = await open(task, alice);
    assert.equal(o.host, ph(task));
    const other = await preview(ph(task, 3001), o.path);
    assert.equal(other.status, 403, 'a token for port 3000 on the host of port 3001');
    assert.equal((await preview(o.host, o.path)).status, 403, 'spent by being shown to the wrong host');
    const o2 = await open(task, alice);
    assert.equal((await preview(ph(bobTask), o2.path)).status, 403, "alice's token on bob's task's host");
    const o3 = await open(task, alice);
    const ok = await preview(o3.host, `${o3.path}&next=${encodeURIComponent('//evil.example/')}`);
    assert.equal(ok.status, 302);
    assert.equal(ok.headers.location, '/', 'next may only be a path on the preview host');
    const set = ok.setCookies.find((c) => c.startsWith('caic_preview='))!;
    const attrs = cookieAttributes(set);
    assert.ok('httponly' in attrs && attrs.samesite === 'Lax' && attrs.path === '/', set);
    assert.ok(!('domain' in attrs), 'host-only: no Domain');
    assert.equal((await preview(o3.host, o3.path)).status, 403, 'reused');
  });

  test('without the cookie, with a cookie of another preview or user, or for Host tricks: refused, the app never reached', async () => {
    const mine = await cookieFor(task, alice);
    assert.equal((await preview(ph(task), '/headers')).status, 401, 'no cookie');
    assert.equal((await preview(ph(task), '/headers', { cookie: 'caic_preview=forged' })).status, 401, 'forged cookie');
    assert.equal((await preview(ph(task, 3001), '/headers', { cookie: mine })).status, 401, "port 3000's cookie on port 3001's host");
    const bobs = await cookieFor(bobTask, bob);
    assert.equal((await preview(ph(bobTask), '/headers', { cookie: bobs })).status, 200, 'bob on his own preview');
    assert.equal((await preview(ph(task), '/headers', { cookie: bobs })).status, 401, "bob's cookie on a host naming alice's task");
    // A caic session is no preview credential.
    const session = `caic_session=${alice.authorization!.slice('Bearer '.length)}`;
    assert.equal((await preview(ph(task), '/headers', { cookie: session })).status, 401);
    assert.equal((await preview(ph(task), '/headers', { authorization: alice.authorization! })).status, 401);
    // Host names that are not exactly a preview host go to caic's own edge: the host lock refuses them.
    // Signing out everywhere ends bob's previews too.
    assert.equal((await env.api('POST', '/api/v1/auth/logout-everywhere', undefined, bob)).status, 200);
    assert.equal((await preview(ph(bobTask), '/headers', { cookie: bobs })).status, 401, 'his preview cookie died with his sessions');
    for (const host of [`${ph(task)}.evil`, `x.${ph(task)}`, `p03000-${task.id}.${DOMAIN}`, `p3000-${task.id}.${DOMAIN}:x`, `p99999-${task.id}.${DOMAIN}`]) {
      const r = await preview(host, '/headers', { cookie: mine });
      assert.equal(r.status, 403, `${host}: ${r.body.slice(0, 100)}`);
      assert.match(r.body, /invalid host/);
    }
  });

  test('proxied: page, absolute-path assets, streamed upload, redirects; caic cookies never reach the app, the app cannot set them', async () => {
    const mine = await cookieFor(task, alice);
    const page = await preview(ph(task), '/', { cookie: mine });
    assert.equal(page.status, 200);
    assert.match(page.body, /src="\/assets\/app.js"/);
    assert.equal((await preview(ph(task), '/assets/app.js', { cookie: mine })).status, 200);
    assert.match((await preview(ph(task), '/assets/style.css', { cookie: mine })).body, /rgb\(1, 2, 3\)/);
    const session = `caic_session=${alice.authorization!.slice('Bearer '.length)}`;
    const seen = await preview(ph(task), '/headers?x=1', { cookie: `${session}; app=1; ${mine}`, 'x-forwarded-for': '6.6.6.6', connection: 'keep-alive, x-hop', 'x-hop': 'h' });
    const h = seen.json<{ headers: Record<string, string>; url: string }>();
    assert.equal(h.url, '/headers?x=1');
    assert.equal(h.headers.cookie, 'app=1', 'the caic session and the preview cookie are stripped');
    assert.equal(h.headers.host, ph(task));
    assert.equal(h.headers['x-forwarded-host'], ph(task));
    assert.equal(h.headers['x-forwarded-proto'], 'http');
    assert.equal(h.headers['x-forwarded-for'], undefined, "the client's claims are dropped");
    assert.equal(h.headers['x-hop'], undefined, 'hop-by-hop');
    const cookies = await preview(ph(task), `/cookies?domain=${DOMAIN}`, { cookie: mine });
    assert.deepEqual(cookies.setCookies, ['app_cookie=1; Path=/', 'tossed=1; Path=/'], 'caic_session dropped, Domain removed (host-only)');
    const redirect = await preview(ph(task), '/redirect', { cookie: mine });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, `http://${ph(task)}/assets/style.css`, "the app's loopback origin becomes the preview's");
    const up = await preview(ph(task), '/upload', { cookie: mine, 'content-type': 'application/octet-stream' }, 'POST', Buffer.alloc(5 << 20, 7));
    assert.deepEqual(up.json(), { bytes: 5 << 20 });
    const big = await preview(ph(task), '/bytes?mb=3', { cookie: mine });
    assert.equal(big.body.length, 3 << 20);
    const nothing = await cookieFor(task, alice, 3999);
    const refused = await preview(ph(task, 3999), '/', { cookie: nothing });
    assert.equal(refused.status, 502);
    assert.match(refused.body, /Nothing answers on port 3999/);
  });

  test('WebSocket: echoes through the proxy with the cookie, refused without; the task stopping closes it and the preview', async () => {
    const mine = await cookieFor(task, alice);
    const portsBefore = dockerCli(['port', (await env.container(task.id))!.Id], { encoding: 'utf8' });
    const refused = new WebSocket(`ws://127.0.0.1:${new URL(env.d.url).port}/echo`, { headers: { host: ph(task) } });
    const status = await within(new Promise<number>((resolve) => refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))), 10_000, 'the refusal');
    assert.equal(status, 401);
    const ws = new WebSocket(`ws://127.0.0.1:${new URL(env.d.url).port}/echo`, { headers: { host: ph(task), cookie: mine } });
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    await within(new Promise((r, j) => (ws.once('open', r), ws.once('error', j))), 10_000, 'the socket to open');
    ws.send('hello over ssh');
    ws.send(Buffer.alloc(200_000, 65).toString());
    await waitUntil(() => got, (g) => g.length === 2, { timeoutMs: 10_000, what: 'two echoes' });
    assert.equal(got[0], 'hello over ssh');
    assert.equal(got[1]!.length, 200_000);
    assert.equal(dockerCli(['port', (await env.container(task.id))!.Id], { encoding: 'utf8' }), portsBefore, 'nothing new published');
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/stop`, undefined, alice)).status, 200);
    await within(closed, 30_000, 'the WebSocket to close when the task stops');
    await env.waitState(task.id, ['stopped', 'failed'], { headers: alice });
    const after = await preview(ph(task), '/', { cookie: mine });
    assert.ok(after.status === 401 || after.status === 410, `closed: ${after.status}`);
    assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/previews/3000/open`, undefined, alice)).status, 409, 'no preview of a stopped task');
  });

  test('the daemon closing cuts open previews instead of waiting for them', async () => {
    const t = await env.create({ repos: [], harness: 'fake', prompt: { text: 'FAKE_SERVE 3000' } }, alice);
    await env.waitState(t.id, 'waiting', { headers: alice });
    await serving(t, alice);
    const ws = new WebSocket(`ws://127.0.0.1:${new URL(env.d.url).port}/echo`, { headers: { host: ph(t), cookie: await cookieFor(t, alice) } });
    await within(new Promise((r, j) => (ws.once('open', r), ws.once('error', j))), 10_000, 'the socket to open');
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    await within(env.d.daemon.close(), 20_000, 'the daemon to close with a preview WebSocket open');
    await within(closed, 10_000, 'the preview WebSocket to be cut');
  });
});

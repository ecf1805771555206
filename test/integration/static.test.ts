// The web UI served by the daemon over real sockets: precompressed assets, cache headers, SPA fallback, CSP.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';

type Envelope = { error: { code: string; message: string } };
const LOCAL_ONLY = '[server]\nallow_origins = ["local"]\n';
const INDEX = '<!doctype html><html><head><title>caic ui fixture</title></head><body><div id="root"></div></body></html>\n';
// Large and repetitive so the compressed copies are clearly different bytes from the original.
const APP_JS = `export const rows = [${Array.from({ length: 400 }, (_, i) => `"row ${i}"`).join(',')}];\n`;
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>\n';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request that keeps the body as bytes: compressed answers are checked byte for byte. */
function get(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function json<T>(r: Raw): T {
  return JSON.parse(r.body.toString('utf8')) as T;
}

/** The web UI's HTML: the fixture's index.html, not cached without revalidation, under the CSP. */
function assertIndex(r: Raw, what: string): void {
  assert.equal(r.status, 200, what);
  assert.equal(r.body.toString('utf8'), INDEX, what);
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8', what);
  assert.equal(r.headers['cache-control'], 'no-cache', what);
  const csp = String(r.headers['content-security-policy']);
  assert.match(csp, /frame-ancestors 'none'/, what);
  assert.match(csp, /script-src 'self';/, what);
  assert.match(csp, /img-src 'self' data: blob: https:;/, what);
  assert.equal(r.headers['x-frame-options'], 'DENY', what);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
}

async function writeFixture(dir: string, withIndex: boolean): Promise<void> {
  await mkdir(join(dir, 'assets'), { recursive: true });
  if (withIndex) await writeFile(join(dir, 'index.html'), INDEX);
  const js = Buffer.from(APP_JS);
  await writeFile(join(dir, 'assets', 'app-abc123.js'), js);
  await writeFile(join(dir, 'assets', 'app-abc123.js.br'), brotliCompressSync(js));
  await writeFile(join(dir, 'assets', 'app-abc123.js.gz'), gzipSync(js));
  await writeFile(join(dir, 'favicon.svg'), FAVICON);
}

describe('web UI build present', () => {
  let dir: TempDir;
  let d: TestDaemon;
  before(async () => {
    dir = await tempDir();
    await writeFixture(join(dir.path, 'web'), true);
    d = await startTestDaemon(LOCAL_ONLY, { dir, webDir: join(dir.path, 'web') });
  });
  after(async () => {
    await d[Symbol.asyncDispose]();
    await dir[Symbol.asyncDispose]();
  });

  test('assets: brotli preferred, then gzip, else the original bytes; type, Vary and immutable caching', async () => {
    const url = `${d.url}/assets/app-abc123.js`;
    const br = await get(url, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(br.status, 200);
    assert.equal(br.headers['content-encoding'], 'br');
    assert.notDeepEqual(br.body, Buffer.from(APP_JS), 'the compressed copy went out');
    assert.equal(brotliDecompressSync(br.body).toString('utf8'), APP_JS);

    const gz = await get(url, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.body).toString('utf8'), APP_JS);

    const plain = await get(url);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.deepEqual(plain.body, Buffer.from(APP_JS));

    const identity = await get(url, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(identity.headers['content-encoding'], undefined);
    assert.deepEqual(identity.body, Buffer.from(APP_JS));

    // The original file's type (not the .br/.gz file's), the same whichever copy went out.
    assert.match(String(plain.headers['content-type']), /^(text|application)\/javascript; charset=utf-8$/);
    for (const r of [br, gz, plain, identity]) {
      assert.equal(r.headers['content-type'], plain.headers['content-type']);
      assert.match(String(r.headers.vary), /accept-encoding/i);
      assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['content-security-policy'], undefined, 'the CSP is for documents');
    }
    assert.equal(Number(br.headers['content-length']), br.body.length);

    const head = await get(url, { method: 'HEAD', headers: { 'accept-encoding': 'br' } });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-encoding'], 'br');
    assert.equal(head.body.length, 0);
  });

  test('top-level files are cached for an hour', async () => {
    const icon = await get(`${d.url}/favicon.svg`);
    assert.equal(icon.status, 200);
    assert.equal(icon.body.toString('utf8'), FAVICON);
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
    assert.equal(icon.headers['cache-control'], 'public, max-age=3600');
  });

  test('index.html at /, at /index.html and for the UI routes, with the security headers', async () => {
    assertIndex(await get(`${d.url}/`), '/');
    assertIndex(await get(`${d.url}/index.html`), '/index.html');
    assertIndex(await get(`${d.url}/task/@abc+slug`), 'fallback');
    assertIndex(await get(`${d.url}/task/@abc+slug?tab=diff`, { headers: { accept: 'text/html', 'accept-encoding': 'gzip, br' } }), 'fallback with query');
    assertIndex(await get(`${d.url}/settings`), 'one-segment fallback');
    const head = await get(`${d.url}/task/x`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['cache-control'], 'no-cache');
    assert.equal(head.body.length, 0);
  });

  test('server paths never fall back to the UI', async () => {
    for (const path of ['/api/v1/nope', '/api', '/.well-known/x', '/webhooks/nope', '/healthz/x', '/assets/app-old999.js']) {
      const r = await get(`${d.url}${path}`, { headers: { accept: 'text/html' } });
      assert.equal(r.status, 404, path);
      assert.match(String(r.headers['content-type']), /^application\/json/, path);
      const body = json<Envelope>(r);
      assert.equal(body.error.code, 'NOT_FOUND', path);
    }
    // A long or odd path is not repeated in the answer.
    const long = await get(`${d.url}/api/v1/tasks/${'z'.repeat(300)}`);
    assert.deepEqual(json(long), { error: { code: 'NOT_FOUND', message: 'no route for GET (this path)' } });
    assert.deepEqual(json(await get(`${d.url}/api/v1/nope`)), { error: { code: 'NOT_FOUND', message: 'no route for GET /api/v1/nope' } });
    // Other methods on UI paths are not the UI's: the envelope, not index.html.
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await get(`${d.url}/task/@abc+slug`, { method });
      assert.equal(r.status, 404, method);
      assert.equal(json<Envelope>(r).error.code, 'NOT_FOUND');
    }
    const post = await get(`${d.url}/`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    // The API is untouched.
    const cfg = await get(`${d.url}/api/v1/server/config`);
    assert.equal(cfg.status, 200);
    assert.match(String(cfg.headers['content-type']), /^application\/json/);
    assert.equal((await get(`${d.url}/healthz`)).status, 200);
  });

  test('a malformed URL is a 400 envelope with the security headers, never the UI and never the path echoed', async () => {
    for (const path of ['/%c0%ae%c0%ae/etc/passwd', '/assets/%E0%A4%A.js', '/task/%ff%fe<script>']) {
      const r = await get(`${d.url}${path}`, { headers: { accept: 'text/html' } });
      assert.equal(r.status, 400, path);
      assert.match(String(r.headers['content-type']), /^application\/json/, path);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
      assert.equal(r.headers['referrer-policy'], 'no-referrer', path);
      assert.deepEqual(json(r), { error: { code: 'BAD_REQUEST', message: 'the URL is malformed (invalid percent-encoding)' } }, path);
    }
  });

  test('revalidation: an unchanged index.html answers 304', async () => {
    const first = await get(`${d.url}/`);
    const etag = String(first.headers.etag);
    assert.ok(etag.length > 2, 'an ETag');
    const again = await get(`${d.url}/task/x`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });
});

describe('web UI files still pass the IP gate', () => {
  test('a refused client gets 403 for the page, an asset and a UI route', async () => {
    await using dir = await tempDir();
    await writeFixture(join(dir.path, 'web'), true);
    await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\ntrusted_proxies = ["127.0.0.1"]\n', {
      dir,
      webDir: join(dir.path, 'web'),
    });
    for (const path of ['/', '/assets/app-abc123.js', '/favicon.svg', '/task/x', '/index.html']) {
      const r = await get(`${d.url}${path}`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(r.status, 403, path);
      assert.equal(json<Envelope>(r).error.code, 'FORBIDDEN', path);
      assert.equal((await get(`${d.url}${path}`)).status, 200, `${path} from a local client`);
    }
    // A malformed URL does not get past the gate either.
    const bad = await get(`${d.url}/%c0%ae%c0%ae/etc/passwd`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(bad.status, 403);
    assert.equal(json<Envelope>(bad).error.code, 'FORBIDDEN');
  });
});

describe('web UI not built', () => {
  test('without index.html: the status page at /, no static files, no fallback', async () => {
    await using dir = await tempDir();
    await writeFixture(join(dir.path, 'web'), false);
    await using d = await startTestDaemon(LOCAL_ONLY, { dir, webDir: join(dir.path, 'web') });
    const page = await get(`${d.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.body.toString('utf8'), /no-auth mode/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    for (const path of ['/assets/app-abc123.js', '/favicon.svg', '/task/@abc+slug']) {
      const r = await get(`${d.url}${path}`);
      assert.equal(r.status, 404, path);
      assert.equal(json<Envelope>(r).error.code, 'NOT_FOUND', path);
    }
  });
});

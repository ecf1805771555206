// Real Chromium loads a page from a local node:http server: its script runs, a screenshot is saved,
// and the helper reports console and page errors (none on the good page, both on the broken one).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { launchBrowser } from '../helpers/browser.js';

// `<link rel="icon" href="data:,">` keeps Chromium from fetching /favicon.ico (a 404 is a console error).
const PAGES: Record<string, string> = {
  '/': `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>loading</title>
<h1 id="out">static</h1>
<script>
  document.title = 'ran ' + (6 * 7);
  document.getElementById('out').textContent = 'script ran';
</script>`,
  '/broken': `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>broken</title>
<script>
  console.error('expected console error');
  throw new Error('expected page error');
</script>`,
};

/** A node:http server on 127.0.0.1 (random port) serving PAGES; disposing it drops every connection. */
async function serve(): Promise<{ url: string } & AsyncDisposable> {
  const server = createServer((req, res) => {
    const body = PAGES[req.url ?? ''];
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}

test('Chromium runs a served page’s script, screenshots it, and reports page errors', async () => {
  await using site = await serve();
  await using browser = await launchBrowser();

  const page = await browser.newPage({ width: 800, height: 600 });
  await page.goto(`${site.url}/`);
  assert.equal(await page.title(), 'ran 42');
  assert.equal(await page.textContent('#out'), 'script ran');
  assert.deepEqual(page.viewportSize(), { width: 800, height: 600 });

  const png = await readFile(await browser.screenshot(page, 'browser-smoke'));
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file');
  assert.equal(png.readUInt32BE(16), 800, 'PNG width is the viewport width');
  assert.deepEqual(browser.pageErrors(page), []);

  const broken = await browser.newPage();
  await broken.goto(`${site.url}/broken`);
  const errors = browser.pageErrors(broken);
  assert.equal(errors.length, 2, errors.join('\n'));
  assert.ok(errors.some((e) => e.startsWith('console.error: expected console error')), errors.join('\n'));
  assert.ok(errors.some((e) => e.startsWith('pageerror: Error: expected page error')), errors.join('\n'));
  assert.deepEqual(browser.pageErrors(page), [], 'errors are kept per page');
});

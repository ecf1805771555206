// App previews' pure parts: the /proc/net/tcp{,6} parser, preview host names, header rewriting and
// the open tokens / cookies, each against hostile input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseListeners, MAX_PORTS } from '../../src/tasks/index.js';
import { parsePreviewHost, previewHostname, isPreviewDomain } from '../../src/http/preview/host.js';
import { downstreamResponseHeaders, rewriteLocation, rewriteSetCookie, stripCaicCookies, upstreamRequestHeaders } from '../../src/http/preview/headers.js';
import { PreviewGrants, TOKEN_TTL_MS } from '../../src/http/preview/grants.js';

const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const line = (addr: string, st = '0A', uid = 1000) => `   0: ${addr} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000  ${uid}        0 9655606 1 0000000000000000 100 0 0 10 0`;
const V6_ANY = '00000000000000000000000000000000';
const V6_LO = '00000000000000000000000001000000';

test('listeners: loopback and wildcard count, sshd and other states and addresses do not', () => {
  const text = [
    TCP_HEADER,
    line('0100007F:0BB8'), // 127.0.0.1:3000
    line('00000000:1F90'), // 0.0.0.0:8080
    line('00000000:0016'), // sshd 22
    line('0200007F:0BB9'), // 127.0.0.2:3001: not the loopback a forward reaches
    line('020011AC:0BBA'), // 172.17.0.2:3002: the bridge address only
    line('0100007F:0BBB', '01'), // an established connection, not a listener
    line(`${V6_ANY}:1389`), // [::]:5001
    line(`${V6_LO}:138A`), // [::1]:5002
    line('0000000000000000FFFF00000100007F:138B'), // ::ffff:127.0.0.1:5003
    line(`${V6_LO}:0BB8`), // 3000 on ::1 too: 127.0.0.1 wins
  ].join('\n');
  assert.deepEqual(parseListeners(text), [
    { port: 3000, host: '127.0.0.1' },
    { port: 5001, host: '127.0.0.1' },
    { port: 5002, host: '::1' },
    { port: 5003, host: '127.0.0.1' },
    { port: 8080, host: '127.0.0.1' },
  ]);
});

test("listeners: the egress proxy's own (its user's uid, named first) are no previews; an app of root's or the user's is", () => {
  const text = ['egress-uid 999', TCP_HEADER, line('0100007F:C738', '0A', 999), line('0100007F:C739', '0A', 999), line(`${V6_LO}:C738`, '0A', 999), line('0100007F:0BB8'), line('00000000:0050', '0A', 0)].join('\n');
  assert.deepEqual(parseListeners(text), [
    { port: 80, host: '127.0.0.1' },
    { port: 3000, host: '127.0.0.1' },
  ]);
  // Without the line (an image without the proxy's user, or an empty uid), nothing is hidden.
  for (const first of ['', 'egress-uid ', 'egress-uid x', 'egress-uid 999 1']) {
    assert.equal(parseListeners([first, line('0100007F:C738', '0A', 999)].join('\n')).length, 1, JSON.stringify(first));
  }
});

test('listeners: hostile and malformed text yields nothing, never throws, and stays bounded', () => {
  for (const junk of ['', '\0\0\0', 'x'.repeat(100_000), line('ZZZZZZZZ:0BB8'), line('0100007F:0BB8:12'), line('0100007F:BB8'), line('0100007F:0000'), line('01000:0BB8'), '0: 0100007F:0BB8 0 0A', `   x: 0100007F:0BB8 00000000:0000 0A`]) {
    assert.deepEqual(parseListeners(junk), [], JSON.stringify(junk.slice(0, 40)));
  }
  const many = Array.from({ length: 500 }, (_, i) => line(`0100007F:${(1000 + i).toString(16).toUpperCase().padStart(4, '0')}`)).join('\n');
  assert.equal(parseListeners(many).length, MAX_PORTS);
});

test('preview hosts: exactly p<port>-<task>.<domain>, any listener port, nothing else', () => {
  const id = '0123456789abcdefghjkmnpqrs';
  assert.equal(previewHostname({ port: 3000, taskId: id }, 'localhost'), `p3000-${id}.localhost`);
  assert.deepEqual(parsePreviewHost(`p3000-${id}.localhost:2242`, 'localhost'), { port: 3000, taskId: id });
  assert.deepEqual(parsePreviewHost(`P3000-${id.toUpperCase()}.LOCALHOST.`, 'localhost'), { port: 3000, taskId: id });
  assert.deepEqual(parsePreviewHost(`p8080-${id}.preview.example.com`, 'preview.example.com'), { port: 8080, taskId: id });
  for (const bad of [
    undefined,
    '',
    'localhost:2242',
    `p3000-${id}.example.com`, // another domain
    `x.p3000-${id}.localhost`, // a label more
    `p3000-${id}.evil.localhost`,
    `p03000-${id}.localhost`, // leading zero
    `p70000-${id}.localhost`, // not a port
    `p0-${id}.localhost`,
    `p3000-short.localhost`, // not a task id
    `p3000-${id}_.localhost`,
    `user@p3000-${id}.localhost`,
    `p3000-${id}.localhost:99999x`,
    `p3000-${id}.localhost:`,
    `p3000-${id}.localhost.evil`,
    `[::1]`,
    `p3000-${id}.localhost\r\nx: y`,
  ]) {
    assert.equal(parsePreviewHost(bad, 'localhost'), null, String(bad));
  }
  assert.equal(parsePreviewHost(`p3000-${id}.preview.example.com`, 'example.com'), null, 'one label under the domain only');
  assert.ok(isPreviewDomain('preview.example.com') && isPreviewDomain('localhost'));
  assert.ok(!isPreviewDomain('http://x') && !isPreviewDomain('a..b') && !isPreviewDomain('x:80') && !isPreviewDomain('-a.b'));
});

test('request headers: hop-by-hop, forwarding claims and caic cookies dropped; Host and X-Forwarded-* ours', () => {
  const raw = [
    'Host', 'evil.example',
    'Connection', 'keep-alive, X-Secret',
    'X-Secret', 'hop',
    'Keep-Alive', 'timeout=5',
    'TE', 'trailers',
    'Proxy-Authorization', 'Basic xx',
    'X-Forwarded-For', '6.6.6.6',
    'X-Forwarded-Host', 'spoofed',
    'Forwarded', 'for=6.6.6.6',
    'X-Real-IP', '6.6.6.6',
    'Cookie', 'caic_session=SECRET; app=1; caic_preview=PV; CAIC_other=x',
    'Accept', 'text/html',
  ];
  const out = upstreamRequestHeaders(raw, { publicHost: 'p3000-x.localhost:2242', proto: 'http', websocket: false });
  const joined = out.join('\n');
  for (const gone of ['evil.example', 'X-Secret', 'keep-alive', 'trailers', 'Basic', '6.6.6.6', 'spoofed', 'SECRET', 'PV', 'CAIC_other']) assert.ok(!joined.includes(gone), gone);
  assert.deepEqual(out, ['Cookie', 'app=1', 'Accept', 'text/html', 'Host', 'p3000-x.localhost:2242', 'X-Forwarded-Host', 'p3000-x.localhost:2242', 'X-Forwarded-Proto', 'http']);
  assert.equal(stripCaicCookies('caic_session=a'), null);
  const chunked = upstreamRequestHeaders(['Transfer-Encoding', 'chunked'], { publicHost: 'h', proto: 'https', websocket: false });
  assert.deepEqual(chunked.slice(-2), ['Transfer-Encoding', 'chunked']);
  const ws = upstreamRequestHeaders(['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Key', 'k'], { publicHost: 'h', proto: 'http', websocket: true });
  assert.deepEqual(ws, ['Sec-WebSocket-Key', 'k', 'Host', 'h', 'X-Forwarded-Host', 'h', 'X-Forwarded-Proto', 'http', 'Connection', 'Upgrade', 'Upgrade', 'websocket']);
});

test('response headers: the app cannot set cookies beyond its host nor caic cookies; loopback redirects made public', () => {
  assert.equal(rewriteSetCookie('a=1; Domain=localhost; Path=/; HttpOnly'), 'a=1; Path=/; HttpOnly');
  assert.equal(rewriteSetCookie('a=1;domain=.example.com'), 'a=1');
  assert.equal(rewriteSetCookie('caic_session=x; Path=/'), null);
  assert.equal(rewriteSetCookie(' CAIC_PREVIEW=x'), null);
  assert.equal(rewriteSetCookie('__Host-caic_session=x; Secure; Path=/'), null);
  const origin = 'http://p3000-x.localhost:2242';
  assert.equal(rewriteLocation('http://localhost:3000/a?b#c', 3000, origin), `${origin}/a?b#c`);
  assert.equal(rewriteLocation('http://127.0.0.1:3000/', 3000, origin), `${origin}/`);
  assert.equal(rewriteLocation('http://localhost:4000/', 3000, origin), 'http://localhost:4000/', 'another port is another server');
  assert.equal(rewriteLocation('https://example.com/', 3000, origin), 'https://example.com/');
  assert.equal(rewriteLocation('/relative', 3000, origin), '/relative');
  assert.equal(rewriteLocation('http://[bad', 3000, origin), 'http://[bad');
  const out = downstreamResponseHeaders(
    ['Content-Type', 'text/html', 'Connection', 'close, X-Hop', 'X-Hop', '1', 'Transfer-Encoding', 'chunked', 'Alt-Svc', 'h3=":443"', 'Set-Cookie', 'a=1; Domain=localhost', 'Set-Cookie', 'caic_session=evil', 'Location', 'http://localhost:3000/x'],
    { port: 3000, previewOrigin: origin, upgrade: false },
  );
  assert.deepEqual(out, ['Content-Type', 'text/html', 'Set-Cookie', 'a=1', 'Location', `${origin}/x`]);
});

test('grants: a token is single-use, expires, and holds on its own host only; cookies likewise, dropped with the task', () => {
  let now = 1_000_000;
  const g = new PreviewGrants(() => now);
  const grant = { userId: 'u1', username: 'alice', epoch: 0, taskId: 't1', port: 3000, hostname: 'p3000-t1.localhost' };
  const a = g.mint(grant);
  assert.equal(g.redeem(a.token, 'p3001-t1.localhost'), null, 'another host');
  assert.equal(g.redeem(a.token, 'p3000-t1.localhost'), null, 'refused elsewhere: spent');
  const b = g.mint(grant);
  assert.deepEqual(g.redeem(b.token, 'p3000-t1.localhost'), grant);
  assert.equal(g.redeem(b.token, 'p3000-t1.localhost'), null, 'used');
  const c = g.mint(grant);
  now += TOKEN_TTL_MS;
  assert.equal(g.redeem(c.token, 'p3000-t1.localhost'), null, 'expired');
  assert.equal(g.redeem('', 'p3000-t1.localhost'), null);
  const s = g.session(grant);
  assert.deepEqual(g.check(s.value, 'p3000-t1.localhost'), grant);
  assert.deepEqual(g.check(s.value, 'p3000-t1.localhost'), grant, 'a cookie is not single-use');
  g.dropTask('t1');
  assert.equal(g.check(s.value, 'p3000-t1.localhost'), null, 'gone with its task');
});

// The in-container egress proxy (images/agent/egress-proxy.pl) as a program, run here with perl on
// loopback ports: what it forwards, what it refuses and counts, what hostile request heads get,
// its DNS trap, and its table across a restart. The packet filter and the TCP trap need a
// container (test/integration/egress.test.ts).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/ports.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const PROXY = fileURLToPath(new URL('../../../images/agent/egress-proxy.pl', import.meta.url));

interface Row {
  host: string;
  port: number;
  count: number;
  lastAt: string;
}

/** One request written as is; everything the proxy sends back until it closes (or 5 s). */
function raw(port: number, data: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    const timer = setTimeout(() => s.destroy(), 5_000);
    s.on('connect', () => s.write(data));
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('error', () => undefined);
  });
}

describe('the egress proxy program', () => {
  let dir: TempDir;
  let proxy: ChildProcess | undefined;
  let server: Server;
  let upstream: number;
  const hits: string[] = [];
  const ports = { proxy: 0, trap: 0, dns: 0 };

  const start = async () => {
    proxy = spawn('perl', [PROXY, join(dir.path, 'policy.json'), dir.path, String(ports.proxy), String(ports.trap), String(ports.dns)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proxy.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitUntil(() => readFile(join(dir.path, 'ready'), 'utf8').catch(() => ''), (s) => s === `${proxy!.pid}\n`, { timeoutMs: 10_000, what: `the proxy ready (${stderr})` });
  };
  const stop = async () => {
    if (!proxy || proxy.exitCode !== null) return;
    const exited = new Promise((r) => proxy!.once('exit', r));
    proxy.kill('SIGTERM');
    await exited;
  };
  const table = async () => (JSON.parse(await readFile(join(dir.path, 'blocked.json'), 'utf8')) as { blocked: Row[] }).blocked;
  const count = async (host: string, port: number) => (await table()).find((r) => r.host === host && r.port === port)?.count ?? 0;

  before(async () => {
    dir = await tempDir('egress-proxy');
    server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url} ${req.headers.connection ?? ''} ${req.headers['proxy-authorization'] ?? ''}`);
      res.end(`hello ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    upstream = (server.address() as AddressInfo).port;
    ports.proxy = await freePort();
    ports.trap = await freePort();
    ports.dns = await freePort();
    const allow = [`127.0.0.1:${upstream}`, `*.example.com:${upstream}`, `localhost:${upstream}`, '10.0.0.0/8:443', '[fd00::/16]:443'];
    await writeFile(join(dir.path, 'policy.json'), JSON.stringify({ mode: 'allowlist', allow }));
    await start();
  });
  after(async () => {
    await stop();
    await new Promise((r) => server.close(r));
    await dir?.[Symbol.asyncDispose]();
  });

  test('an allowed destination: absolute URL in origin form with Connection: close, and CONNECT', async () => {
    const get = await raw(ports.proxy, `GET http://127.0.0.1:${upstream}/a?b=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: secret\r\n\r\n`);
    assert.match(get, /^HTTP\/1\.1 200 OK/);
    assert.match(get, /hello \/a\?b=1$/);
    assert.equal(hits.at(-1), 'GET /a?b=1 close ', 'origin form, the proxy fields dropped, asked to close');
    const tunnel = await raw(ports.proxy, `CONNECT 127.0.0.1:${upstream} HTTP/1.1\r\n\r\nGET /t HTTP/1.0\r\n\r\n`);
    assert.match(tunnel, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK/);
    assert.match(tunnel, /hello \/t$/);
    // An IPv4-mapped address is the IPv4 address.
    assert.match(await raw(ports.proxy, `CONNECT [::ffff:127.0.0.1]:${upstream} HTTP/1.1\r\n\r\nGET /m HTTP/1.0\r\n\r\n`), /hello \/m$/);
  });

  test('refused and counted: another port, another address, a name not listed, userinfo and fragment tricks', async () => {
    const before = hits.length;
    const cases: [string, string, number][] = [
      [`CONNECT 127.0.0.1:${upstream + 1} HTTP/1.1\r\n\r\n`, '127.0.0.1', upstream + 1],
      [`GET http://127.0.0.2:${upstream}/ HTTP/1.1\r\n\r\n`, '127.0.0.2', upstream],
      [`CONNECT evil.test:443 HTTP/1.1\r\n\r\n`, 'evil.test', 443],
      [`GET http://127.0.0.1:${upstream}@evil.test/ HTTP/1.1\r\n\r\n`, 'evil.test', 80],
      [`GET http://evil.test#@127.0.0.1:${upstream}/ HTTP/1.1\r\n\r\n`, 'evil.test', 80],
      [`CONNECT EVIL.Example.com.:${upstream + 2} HTTP/1.1\r\n\r\n`, 'evil.example.com', upstream + 2],
      [`CONNECT [fd01::1]:443 HTTP/1.1\r\n\r\n`, 'fd01::1', 443],
      [`CONNECT 11.0.0.1:443 HTTP/1.1\r\n\r\n`, '11.0.0.1', 443],
    ];
    for (const [req, host, port] of cases) {
      const r = await raw(ports.proxy, req);
      assert.match(r, /^HTTP\/1\.1 403 Forbidden/, req);
      assert.ok(r.includes('is not in this task\'s allowlist'), r);
      await waitUntil(() => count(host, port), (n) => n >= 1, { what: `${host}:${port} counted` });
    }
    assert.equal(hits.length, before, 'nothing reached the server');
  });

  test('hostile heads: clear 4xx answers, nothing resolved or reached', async () => {
    const before = hits.length;
    const cases: [string | Buffer, RegExp][] = [
      ['GARBAGE\r\n\r\n', /^HTTP\/1\.1 400 .*not an HTTP\/1 request/s],
      ['\r\n\r\n', /^HTTP\/1\.1 400/],
      ['GET /relative HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 .*forward proxy/s],
      ['GET ftp://127.0.0.1/ HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400 .*forward proxy/s],
      ['CONNECT nohostport HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400 .*CONNECT needs host:port/s],
      ['CONNECT 127.0.0.1:0 HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400/],
      ['CONNECT 127.0.0.1:65536 HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400/],
      [`GET http://127.0.0.1:99999/ HTTP/1.1\r\n\r\n`, /^HTTP\/1\.1 400/],
      // A NUL would end the name where the resolver reads it: "localhost", which is allowed.
      [Buffer.from(`CONNECT localhost\0.example.com:${upstream} HTTP/1.1\r\n\r\nGET /nul HTTP/1.0\r\n\r\n`, 'latin1'), /^HTTP\/1\.1 400 .*not a host name/s],
      [`CONNECT 0x7f.1:${upstream} HTTP/1.1\r\n\r\n`, /^HTTP\/1\.1 400 .*not a host name/s],
      [`CONNECT 2130706433:${upstream} HTTP/1.1\r\n\r\n`, /^HTTP\/1\.1 400 .*not a host name/s],
      [`GET http://127.0.0.%31:${upstream}/ HTTP/1.1\r\n\r\n`, /^HTTP\/1\.1 400 .*not a host name/s],
      [`GET http://caf\u00e9.example.com:${upstream}/ HTTP/1.1\r\n\r\n`, /^HTTP\/1\.1 400 .*not a host name/s],
      [`GET http://x.example.com:${upstream}/ HTTP/1.1\r\n${'X-Pad: y\r\n'.repeat(8000)}\r\n`, /^HTTP\/1\.1 431/],
    ];
    for (const [req, want] of cases) assert.match(await raw(ports.proxy, req), want, JSON.stringify(req.toString().slice(0, 60)));
    assert.equal(hits.length, before, 'nothing reached the server');
    // Still serving.
    assert.match(await raw(ports.proxy, `GET http://localhost:${upstream}/still HTTP/1.1\r\nHost: localhost\r\n\r\n`), /hello \/still$/);
  });

  test('DNS: every query answered REFUSED at once, the name counted; junk is counted and not answered', async () => {
    const sock = createSocket('udp4');
    try {
      const answers: Buffer[] = [];
      sock.on('message', (m) => answers.push(m));
      const name = Buffer.concat([Buffer.from([5]), Buffer.from('exfil'), Buffer.from([7]), Buffer.from('EXAMPLE'), Buffer.from([0])]);
      const query = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]);
      sock.send(query, ports.dns, '127.0.0.1');
      sock.send(Buffer.from('junk'), ports.dns, '127.0.0.1');
      await waitUntil(() => answers.length, (n) => n >= 1, { what: 'the answer' });
      const a = answers[0]!;
      assert.equal(a.readUInt16BE(0), 0x1234, 'same id');
      assert.equal(a[2]! & 0x80, 0x80, 'a response');
      assert.equal(a[2]! & 0x01, 0x01, 'RD kept');
      assert.equal(a[3]! & 0x0f, 5, 'REFUSED');
      assert.equal(a.readUInt16BE(4), 1, 'the question');
      assert.equal(a.length, query.length, 'no answer records');
      await waitUntil(() => count('exfil.example', 0), (n) => n === 1, { what: 'the name counted' });
      await waitUntil(() => count('(dns)', 0), (n) => n === 1, { what: 'the junk counted' });
      assert.equal(answers.length, 1, 'junk gets no answer');
    } finally {
      sock.close();
    }
  });

  test('the table is kept across a restart, and counting goes on', async () => {
    const before = await table();
    assert.ok(before.every((r) => typeof r.host === 'string' && Number.isInteger(r.port) && r.count >= 1 && !Number.isNaN(Date.parse(r.lastAt))));
    await stop();
    await start();
    assert.deepEqual(await table(), before, 'the same table after a restart');
    await raw(ports.proxy, `CONNECT evil.test:443 HTTP/1.1\r\n\r\n`);
    await waitUntil(() => count('evil.test', 443), (n) => n === 2, { what: 'counting on from where it was' });
  });
});

// caic's egress proxy: runs in a task container whose policy is not open, as the `caic-egress` user,
// the only user the container's packet filter lets open connections that leave the container (see
// entrypoint.sh and docs/security.md#network-egress). Plain Node (Debian's nodejs), no dependencies.
//
//   node egress-proxy.mjs <policy.json> <state dir> <proxy port> <trap port> <dns port>
//
// - proxy port (127.0.0.1, ::1): HTTP CONNECT and plain-HTTP forward proxy. The host name and port a
//   client asks for are checked against the allowlist before anything is resolved (a name that is
//   not allowed is never looked up: no DNS tunnel through the proxy); an IP literal passes only an
//   address or CIDR entry. Allowed names are resolved here, with the container's resolver.
// - trap port: the packet filter redirects every other TCP connection of the container's users here;
//   the original destination is read from /proc/net/tcp{,6} (the client's socket still names it),
//   counted, and the connection is reset.
// - dns port (UDP): every DNS query of the container's users lands here; the name is counted and
//   the query answered REFUSED at once (no resolver outside the proxy).
// Refusals are counted per host and port in <state dir>/blocked.json (written atomically), which
// the daemon reads over SSH.
import dgram from 'node:dgram';
import dns from 'node:dns';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const [policyPath, stateDir, proxyPort, trapPort, dnsPort] = process.argv.slice(2);
const policy = JSON.parse(fs.readFileSync(policyPath, 'utf8'));
/** Distinct destinations kept in the table; beyond, refusals count under one row. */
const MAX_ROWS = 256;
const CONNECT_TIMEOUT_MS = 15_000;

// ---- the allowlist --------------------------------------------------------------------------

function v4ToBig(a) {
  return a.split('.').reduce((n, p) => (n << 8n) | BigInt(Number(p)), 0n);
}

function v6ToBig(a) {
  let s = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = v4ToBig(v4[1]);
    s = `${s.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

/** An address as [family, big integer]; IPv4-mapped IPv6 addresses count as IPv4. */
function addr(ip) {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (m) return [4, v4ToBig(m[1])];
  return net.isIPv4(ip) ? [4, v4ToBig(ip)] : [6, v6ToBig(ip)];
}

/** One allowlist entry (already checked by the daemon; anything unreadable allows nothing). */
function parseEntry(raw) {
  const e = String(raw).trim().toLowerCase();
  let host = e;
  let port;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(e);
  if (bracket) [, host, port] = bracket;
  else if ((e.match(/:/g) || []).length === 1) [host, port] = e.split(':');
  const ports = port ? [Number(port)] : [80, 443];
  const [ip, bits] = host.split('/');
  if (net.isIP(ip)) {
    const [family, n] = addr(ip);
    const width = family === 4 ? 32 : 128;
    const b = bits === undefined ? width : Number(bits);
    return { kind: 'cidr', family, width, bits: b, net: width === b ? n : (n >> BigInt(width - b)) << BigInt(width - b), ports };
  }
  if (host.startsWith('*.')) return { kind: 'name', name: host.slice(2), wildcard: true, ports };
  return { kind: 'name', name: host, wildcard: false, ports };
}

const entries = policy.mode === 'allowlist' ? (policy.allow || []).map(parseEntry) : [];

/** An IPv6 address in its one canonical text (RFC 5952): the table names it one way however it was written. */
function v6Text(n) {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = [-1, 0];
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best[1] && j - i >= 2) best = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best[0] < 0) return hex.join(':');
  return `${hex.slice(0, best[0]).join(':')}::${hex.slice(best[0] + best[1]).join(':')}`;
}

/** A host as asked for: lower case, no brackets, no trailing dot; an address in its canonical form. */
function normalHost(h) {
  const s = String(h).trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (!net.isIP(s)) return s;
  const [family, n] = addr(s);
  return family === 4 ? [24n, 16n, 8n, 0n].map((b) => Number((n >> b) & 255n)).join('.') : v6Text(n);
}

function allowed(host, port) {
  if (net.isIP(host)) {
    const [family, n] = addr(host);
    return entries.some((e) => e.kind === 'cidr' && e.family === family && e.ports.includes(port) && (e.bits === 0 ? true : n >> BigInt(e.width - e.bits) === e.net >> BigInt(e.width - e.bits)));
  }
  return entries.some((e) => e.kind === 'name' && e.ports.includes(port) && (e.wildcard ? host.endsWith(`.${e.name}`) : host === e.name));
}

// ---- the table of refusals ------------------------------------------------------------------

const rows = new Map();
// A container that starts again (a revived task) keeps counting where it was.
try {
  for (const r of JSON.parse(fs.readFileSync(`${stateDir}/blocked.json`, 'utf8')).blocked.slice(0, MAX_ROWS)) {
    if (typeof r.host === 'string' && Number.isInteger(r.port) && Number.isInteger(r.count)) rows.set(`${r.host}\n${r.port}`, { host: r.host, port: r.port, count: r.count, lastAt: String(r.lastAt) });
  }
} catch {
  // first start
}
let writing = null;
let dirty = false;

function refused(host, port) {
  let key = `${host}\n${port}`;
  if (!rows.has(key) && rows.size >= MAX_ROWS) key = '(other)\n0';
  const row = rows.get(key) || { host: key === '(other)\n0' ? '(other)' : host, port: key === '(other)\n0' ? 0 : port, count: 0, lastAt: '' };
  row.count += 1;
  row.lastAt = new Date().toISOString();
  rows.set(key, row);
  dirty = true;
  writing ??= setTimeout(flush, 50);
}

function flush() {
  writing = null;
  if (!dirty) return;
  dirty = false;
  const tmp = `${stateDir}/blocked.json.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ blocked: [...rows.values()] }), { mode: 0o644 });
  fs.renameSync(tmp, `${stateDir}/blocked.json`);
}

// ---- connecting for a client ----------------------------------------------------------------

/** Addresses of an allowed host: an IP literal as is, a name from the container's resolver. */
function resolve(host) {
  if (net.isIP(host)) return Promise.resolve([host]);
  return new Promise((ok, fail) => dns.lookup(host, { all: true, verbatim: true }, (err, list) => (err ? fail(err) : ok(list.map((a) => a.address)))));
}

async function dial(host, port) {
  let last;
  for (const address of await resolve(host)) {
    try {
      return await new Promise((ok, fail) => {
        const s = net.connect({ host: address, port });
        const timer = setTimeout(() => s.destroy(new Error(`connecting to ${address}:${port} timed out`)), CONNECT_TIMEOUT_MS);
        s.once('connect', () => {
          clearTimeout(timer);
          s.removeListener('error', fail);
          ok(s);
        });
        s.once('error', (err) => {
          clearTimeout(timer);
          fail(err);
        });
      });
    } catch (err) {
      last = err;
    }
  }
  throw last || new Error(`${host} has no address`);
}

/** host and port of a CONNECT target (`host:port`, `[v6]:port`); null when it is neither. */
function target(authority) {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(authority) || /^([^:[\]]+):(\d{1,5})$/.exec(authority);
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: normalHost(m[1]), port } : null;
}

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'upgrade']);

function refuseText(host, port) {
  return `caic egress: ${host.includes(':') ? `[${host}]` : host}:${port} is not in this task's allowlist\n`;
}

const server = http.createServer((req, res) => {
  let url;
  try {
    url = new URL(req.url);
  } catch {
    url = null;
  }
  if (!url || url.protocol !== 'http:') {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('caic egress: this is a forward proxy; send absolute http:// URLs, or CONNECT for anything else\n');
    return;
  }
  const host = normalHost(url.hostname);
  const port = Number(url.port || 80);
  if (!allowed(host, port)) {
    refused(host, port);
    res.writeHead(403, { 'content-type': 'text/plain' }).end(refuseText(host, port));
    return;
  }
  const headers = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i];
    if (!HOP.has(k.toLowerCase())) headers[k] = headers[k] === undefined ? req.rawHeaders[i + 1] : `${headers[k]}, ${req.rawHeaders[i + 1]}`;
  }
  dial(host, port).then(
    (sock) => {
      const up = http.request({ createConnection: () => sock, method: req.method, path: `${url.pathname}${url.search}`, headers, setHost: false }, (upRes) => {
        const out = [];
        for (let i = 0; i < upRes.rawHeaders.length; i += 2) if (!HOP.has(upRes.rawHeaders[i].toLowerCase())) out.push(upRes.rawHeaders[i], upRes.rawHeaders[i + 1]);
        res.writeHead(upRes.statusCode || 502, out);
        upRes.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    },
    (err) => {
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`caic egress: cannot reach ${host}:${port}: ${err.message}\n`);
    },
  );
});

server.on('connect', (req, client, head) => {
  const t = target(req.url);
  client.on('error', () => client.destroy());
  if (!t) {
    client.end('HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\r\ncaic egress: CONNECT needs host:port\n');
    return;
  }
  if (!allowed(t.host, t.port)) {
    refused(t.host, t.port);
    const body = refuseText(t.host, t.port);
    client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return;
  }
  dial(t.host, t.port).then(
    (up) => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.on('error', () => client.destroy());
      client.on('close', () => up.destroy());
      up.on('close', () => client.destroy());
      up.pipe(client);
      client.pipe(up);
    },
    (err) => client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n\r\ncaic egress: cannot reach ${t.host}:${t.port}: ${err.message}\n`),
  );
});

// A plain-HTTP WebSocket (or other upgrade) through the proxy: the request head goes up as it came.
server.on('upgrade', (req, client, head) => {
  let url;
  try {
    url = new URL(req.url);
  } catch {
    client.destroy();
    return;
  }
  const host = normalHost(url.hostname);
  const port = Number(url.port || 80);
  client.on('error', () => client.destroy());
  if (url.protocol !== 'http:' || !allowed(host, port)) {
    if (url.protocol === 'http:') refused(host, port);
    client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\n${refuseText(host, port)}`);
    return;
  }
  dial(host, port).then(
    (up) => {
      const lines = [`${req.method} ${url.pathname}${url.search} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) if (!/^proxy-/i.test(req.rawHeaders[i])) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      up.on('error', () => client.destroy());
      client.on('close', () => up.destroy());
      up.pipe(client);
      client.pipe(up);
    },
    () => client.destroy(),
  );
});

// ---- the traps ------------------------------------------------------------------------------

/** `0100007F:1F90` (or the 32-hex-digit IPv6 form) of /proc/net/tcp as [address, port]. */
function procAddr(field) {
  const [hex, p] = field.split(':');
  const port = parseInt(p, 16);
  if (hex.length === 8) return [[0, 1, 2, 3].map((i) => parseInt(hex.slice(6 - 2 * i, 8 - 2 * i), 16)).join('.'), port];
  const words = [0, 1, 2, 3].map((w) => hex.slice(w * 8, w * 8 + 8).match(/../g).reverse().join(''));
  const groups = words.flatMap((w) => [w.slice(0, 4), w.slice(4)]).map((g) => parseInt(g, 16).toString(16));
  const text = groups.join(':');
  const mapped = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(text);
  if (mapped) {
    const n = (parseInt(mapped[1], 16) << 16) + parseInt(mapped[2], 16);
    return [[24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.'), port];
  }
  return [text, port];
}

function sameAddr(a, b) {
  if (!net.isIP(a) || !net.isIP(b)) return false;
  const [fa, na] = addr(a);
  const [fb, nb] = addr(b);
  return fa === fb && na === nb;
}

/** The destination a redirected connection from `peer` was meant for, from the client socket's own entry. */
function originalDestination(file, peerAddress, peerPort) {
  for (const f of file) {
    let text;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 3) continue;
      const [local, lport] = procAddr(cols[1]);
      if (lport === peerPort && sameAddr(local, peerAddress)) {
        const [remote, rport] = procAddr(cols[2]);
        return { host: remote, port: rport };
      }
    }
  }
  return null;
}

function trap(sock) {
  const dest = originalDestination(['/proc/net/tcp', '/proc/net/tcp6'], sock.remoteAddress, sock.remotePort);
  refused(dest ? normalHost(dest.host) : '(unknown)', dest ? dest.port : 0);
  if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
  else sock.destroy();
}

/** The name a DNS query asks for, or null. */
function queryName(msg) {
  if (msg.length < 17) return null;
  const labels = [];
  let i = 12;
  while (i < msg.length && msg[i] !== 0) {
    const n = msg[i];
    if (n > 63 || i + 1 + n > msg.length) return null;
    labels.push(msg.subarray(i + 1, i + 1 + n).toString('latin1'));
    i += 1 + n;
  }
  const name = labels.join('.').toLowerCase();
  return /^[a-z0-9_.-]{1,253}$/.test(name) ? { name, end: i + 5 } : null;
}

function dnsTrap(family, host) {
  const sock = dgram.createSocket({ type: family, ipv6Only: family === 'udp6' });
  sock.on('message', (msg, rinfo) => {
    const q = queryName(msg);
    // A lookup: port 0 in the table (the name, not a connection, was asked for).
    refused(q ? q.name : '(dns)', 0);
    if (!q || q.end > msg.length) return;
    const reply = Buffer.from(msg.subarray(0, q.end));
    reply[2] = 0x80 | (msg[2] & 0x78) | (msg[2] & 0x01); // QR, opcode, RD
    reply[3] = 0x05; // REFUSED
    reply.writeUInt16BE(1, 4);
    reply.fill(0, 6, 12);
    sock.send(reply, rinfo.port, rinfo.address);
  });
  sock.on('error', () => {});
  sock.bind(Number(dnsPort), host);
}

// ---- start ----------------------------------------------------------------------------------

const listens = [];
const listen = (srv, host, port) =>
  new Promise((ok) => {
    srv.once('error', () => ok(false));
    srv.listen({ host, port: Number(port), ipv6Only: host === '::1' }, () => ok(true));
  });
const trapV4 = net.createServer(trap);
const trapV6 = net.createServer(trap);
const proxyV6 = http.createServer(server.listeners('request')[0]);
for (const ev of ['connect', 'upgrade']) proxyV6.on(ev, server.listeners(ev)[0]);
listens.push(listen(server, '127.0.0.1', proxyPort), listen(trapV4, '127.0.0.1', trapPort));
// IPv6 loopback may be off in the container: then there is nothing to serve there.
listens.push(listen(proxyV6, '::1', proxyPort), listen(trapV6, '::1', trapPort));
dnsTrap('udp4', '127.0.0.1');
try {
  dnsTrap('udp6', '::1');
} catch {
  // no IPv6
}
const [v4proxy, v4trap] = await Promise.all(listens);
if (!v4proxy || !v4trap) {
  process.stderr.write('caic egress: cannot listen on 127.0.0.1\n');
  process.exit(1);
}
dirty = true;
flush();
fs.writeFileSync(`${stateDir}/ready`, `${process.pid}\n`);

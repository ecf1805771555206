// IP parsing, the prefix trie, and client address resolution through trusted proxies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCidr, parseIp, PrefixTrie, resolveClientAddress } from '../../src/http/gate/index.js';

test('parseIp accepts v4, v6, mapped and zoned forms and rejects legacy shorthands', () => {
  assert.equal(parseIp('203.0.113.9')?.text, '203.0.113.9');
  assert.equal(parseIp('::ffff:203.0.113.9')?.kind, 'ipv4');
  assert.equal(parseIp('::ffff:203.0.113.9')?.text, '203.0.113.9');
  assert.equal(parseIp('[2001:db8::1]')?.text, '2001:db8::1');
  assert.equal(parseIp('fe80::1%eth0')?.text, 'fe80::1');
  for (const bad of ['', 'localhost', '127.1', '0x7f.0.0.1', '1.2.3.4.5', '2001:db8::g', undefined]) {
    assert.equal(parseIp(bad), null, String(bad));
  }
});

test('the trie finds every containing prefix, shortest first, in both families', () => {
  const trie = new PrefixTrie<string>();
  for (const c of ['10.0.0.0/8', '10.1.0.0/16', '0.0.0.0/0', '2001:db8::/32', '::ffff:192.0.2.0/120']) trie.insert(parseCidr(c)!, c);
  const hits = (ip: string) => {
    const out: string[] = [];
    trie.visit(parseIp(ip)!, (v) => out.push(v));
    return out;
  };
  assert.deepEqual(hits('10.1.2.3'), ['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16']);
  assert.deepEqual(hits('11.0.0.1'), ['0.0.0.0/0']);
  assert.deepEqual(hits('192.0.2.7'), ['0.0.0.0/0', '::ffff:192.0.2.0/120']);
  assert.deepEqual(hits('2001:db8:ffff::1'), ['2001:db8::/32']);
  assert.deepEqual(hits('2001:db9::1'), []);
  assert.equal(trie.contains(parseIp('::ffff:10.1.0.1')!), true);
});

test('the trie agrees with a linear scan on random data', () => {
  const trie = new PrefixTrie<number>();
  const ranges: [number, number, number][] = [];
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  for (let i = 0; i < 3000; i++) {
    const bits = 8 + (rand() % 25);
    const base = (rand() >>> (32 - bits)) << (32 - bits);
    const addr = [base >>> 24, (base >>> 16) & 255, (base >>> 8) & 255, base & 255].join('.');
    trie.insert(parseCidr(`${addr}/${bits}`)!, i);
    ranges.push([base >>> 0, bits, i]);
  }
  for (let j = 0; j < 2000; j++) {
    const ip = rand();
    const text = [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
    const expected = ranges.filter(([b, bits]) => bits === 0 || ip >>> (32 - bits) === b >>> (32 - bits)).map(([, , i]) => i).sort((a, b) => a - b);
    const got: number[] = [];
    trie.visit(parseIp(text)!, (v) => got.push(v));
    assert.deepEqual(got.sort((a, b) => a - b), expected, text);
  }
});

test('X-Forwarded-For is read only from trusted proxies, rightmost untrusted hop first', () => {
  const proxies = new PrefixTrie<true>();
  for (const c of ['127.0.0.1/32', '10.0.0.0/8']) proxies.insert(parseCidr(c)!, true);
  const trusted = (ip: ReturnType<typeof parseIp> & object) => proxies.contains(ip);
  const r = (peer: string, xff?: string | string[]) => resolveClientAddress(peer, xff, trusted);

  // An untrusted peer cannot claim to be local.
  assert.deepEqual([r('203.0.113.5', '127.0.0.1').ip?.text, r('203.0.113.5', '127.0.0.1').viaTrustedProxy], ['203.0.113.5', false]);
  // A trusted proxy: the rightmost address that is not one of ours wins (the left part is client-controlled).
  assert.equal(r('127.0.0.1', '1.1.1.1, 198.51.100.7, 10.0.0.2').ip?.text, '198.51.100.7');
  assert.equal(r('::ffff:127.0.0.1', '198.51.100.7').ip?.text, '198.51.100.7');
  assert.equal(r('127.0.0.1', ['1.1.1.1', '198.51.100.8']).ip?.text, '198.51.100.8');
  // No header, or only our own proxies: the request started inside.
  assert.equal(r('127.0.0.1').ip?.text, '127.0.0.1');
  assert.equal(r('127.0.0.1', '10.0.0.3, 10.0.0.2').ip?.text, '10.0.0.3');
  // Garbage from a trusted proxy: unknown client (the gate refuses), never a fallback to the proxy.
  assert.equal(r('127.0.0.1', 'not-an-ip, 10.0.0.2').ip, null);
  assert.equal(r('127.0.0.1', '[2001:db8::5]').ip?.text, '2001:db8::5');
});

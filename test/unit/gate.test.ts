// The allowlist decision: named origins, CIDRs, countries (through a real MaxMind reader), precedence.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AllowOrigins, NamedOrigin } from '../../src/config/index.js';
import { Gate, openGeoDb, parseIp, type GeoLookup } from '../../src/http/gate/index.js';
import { writeCountryMmdb } from '../helpers/mmdb-writer.js';
import { tempDir } from '../helpers/tmp.js';

function allow(entries: { names?: NamedOrigin[]; cidrs?: string[]; countries?: string[] }): AllowOrigins {
  return { names: new Set(entries.names ?? []), cidrs: entries.cidrs ?? [], countries: new Set(entries.countries ?? []) };
}

async function geoFixture(): Promise<GeoLookup> {
  await using dir = await tempDir();
  const path = join(dir.path, 'GeoLite2-Country.mmdb');
  await writeCountryMmdb(path, [
    { cidr: '81.2.69.0/24', country: 'GB' },
    { cidr: '203.0.113.0/24', country: 'CA' },
    { cidr: '198.51.100.0/24', country: 'US' },
    { cidr: '192.30.252.0/22', country: 'US' }, // a GitHub hooks range
    { cidr: '160.79.104.0/21', country: 'US' }, // Anthropic
    { cidr: '2001:db8:ca::/48', country: 'CA' },
    { cidr: '2a0a:a440::/29', country: 'DE' },
  ]);
  return openGeoDb(path);
}

const verdict = (gate: Gate, ip: string) => gate.evaluate(parseIp(ip)!);

test('local and tailscale are recognised for v4, v6 and IPv4-mapped v6', () => {
  const gate = new Gate({ allow: allow({ names: ['local', 'tailscale'] }), trustedProxies: [], geo: null });
  for (const ip of ['127.0.0.1', '10.2.3.4', '172.16.0.1', '192.168.1.1', '169.254.1.1', '::1', 'fd00::1', 'fe80::1', '::ffff:192.168.0.9']) {
    assert.deepEqual(verdict(gate, ip), { allowed: true, origin: 'local', country: null }, ip);
  }
  for (const ip of ['100.64.0.1', '100.127.255.254', 'fd7a:115c:a1e0::1']) {
    assert.equal(verdict(gate, ip).origin, 'tailscale', ip);
  }
  assert.deepEqual(verdict(gate, '8.8.8.8'), { allowed: false, origin: '', country: null });
  assert.equal(verdict(gate, '172.32.0.1').allowed, false);
});

test('countries allow and deny through the GeoLite2 database', async () => {
  const geo = await geoFixture();
  const gate = new Gate({ allow: allow({ names: ['local'], countries: ['CA'] }), trustedProxies: [], geo });
  assert.deepEqual(verdict(gate, '203.0.113.7'), { allowed: true, origin: 'CA', country: 'CA' });
  assert.deepEqual(verdict(gate, '2001:db8:ca::42'), { allowed: true, origin: 'CA', country: 'CA' });
  assert.deepEqual(verdict(gate, '81.2.69.160'), { allowed: false, origin: 'GB', country: 'GB' });
  assert.deepEqual(verdict(gate, '9.9.9.9'), { allowed: false, origin: '', country: null });
  assert.deepEqual(verdict(gate, '127.0.0.1'), { allowed: true, origin: 'local', country: null });
});

test('CIDR entries allow v4 and v6, even inside a named range that is not allowed', async () => {
  const geo = await geoFixture();
  const gate = new Gate({ allow: allow({ cidrs: ['198.51.100.0/25', '2001:db8:1::/48', '10.9.0.0/16'] }), trustedProxies: [], geo });
  assert.deepEqual(verdict(gate, '198.51.100.5'), { allowed: true, origin: '198.51.100.0/25', country: 'US' });
  assert.equal(verdict(gate, '198.51.100.200').allowed, false);
  assert.equal(verdict(gate, '2001:db8:1::9').allowed, true);
  assert.equal(verdict(gate, '2001:db8:2::9').allowed, false);
  // "local" is not in the list, but the CIDR is: the explicit entry wins.
  assert.equal(verdict(gate, '10.9.1.1').allowed, true);
  assert.deepEqual(verdict(gate, '10.8.1.1'), { allowed: false, origin: 'local', country: null });
});

test('named origins resolve before countries', async () => {
  const geo = await geoFixture();
  const gate = new Gate({ allow: allow({ names: ['github'], countries: ['GB'] }), trustedProxies: [], geo });
  gate.setNamedRanges('github', ['192.30.252.0/22', '2a0a:a440::/29']);
  // A GitHub hook address in the US: allowed as "github" although US is not listed.
  assert.deepEqual(verdict(gate, '192.30.252.10'), { allowed: true, origin: 'github', country: 'US' });
  assert.equal(verdict(gate, '2a0a:a440::1').origin, 'github');
  // Another US address is judged by its country.
  assert.deepEqual(verdict(gate, '198.51.100.1'), { allowed: false, origin: 'US', country: 'US' });
  // Tailscale's v6 prefix sits inside the local ULA block; the more specific name wins.
  assert.equal(verdict(gate, 'fd7a:115c:a1e0::5').origin, 'tailscale');
});

test('sets that are not allowed do not shadow country rules', async () => {
  const geo = await geoFixture();
  const gate = new Gate({ allow: allow({ countries: ['US'] }), trustedProxies: [], geo });
  // 160.79.104.0/21 is Anthropic, but "anthropic" is not listed: the US rule decides.
  assert.deepEqual(verdict(gate, '160.79.104.9'), { allowed: true, origin: 'US', country: 'US' });
  const withAnthropic = new Gate({ allow: allow({ names: ['anthropic'] }), trustedProxies: [], geo });
  assert.deepEqual(verdict(withAnthropic, '160.79.104.9'), { allowed: true, origin: 'anthropic', country: 'US' });
});

test('remote list updates replace the named ranges', () => {
  const gate = new Gate({ allow: allow({ names: ['openai'] }), trustedProxies: [], geo: null });
  assert.equal(verdict(gate, '23.102.140.113').allowed, false);
  gate.setNamedRanges('openai', ['23.102.140.112/28']);
  assert.equal(verdict(gate, '23.102.140.113').origin, 'openai');
  gate.setNamedRanges('openai', []);
  assert.equal(verdict(gate, '23.102.140.113').allowed, false);
});

test('trusted proxies are matched by CIDR', () => {
  const gate = new Gate({ allow: allow({ names: ['local'] }), trustedProxies: ['127.0.0.1/32', 'fd00::/8'], geo: null });
  assert.equal(gate.isTrustedProxy(parseIp('127.0.0.1')!), true);
  assert.equal(gate.isTrustedProxy(parseIp('::ffff:127.0.0.1')!), true);
  assert.equal(gate.isTrustedProxy(parseIp('fd12::1')!), true);
  assert.equal(gate.isTrustedProxy(parseIp('127.0.0.2')!), false);
});

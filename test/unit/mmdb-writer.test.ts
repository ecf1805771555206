// Unit tests for the MMDB test-database writer: builds GeoLite2-Country files and reads them back with the real `maxmind` reader, and with Debian's mmdblookup when it is installed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// node:test's describe/it return promises the runner tracks itself; `void` marks that for eslint.
import { describe, it } from 'node:test';
import { open, Reader } from 'maxmind';
import type { CountryResponse } from 'maxmind';
import {
  buildCountryMmdb,
  DATABASE_TYPE,
  DEFAULT_DESCRIPTION,
  writeCountryMmdb,
} from '../helpers/mmdb-writer.js';
import type { BuildOptions, CountryEntry } from '../helpers/mmdb-writer.js';

const BUILD_EPOCH = 1_700_000_000;

// Overlaps on purpose (10/8 > 10.1/16 > 10.1.2/24, 2001:db8::/32 > 2001:db8:1::/48), and
// listed widest-last for the 10.x chain to prove order does not matter.
const FIXTURE: CountryEntry[] = [
  { cidr: '81.2.69.0/24', country: 'GB', name: 'United Kingdom', continent: 'EU' },
  { cidr: '10.1.2.0/24', country: 'MX', name: 'Mexico', continent: 'NA' },
  { cidr: '10.1.0.0/16', country: 'CA', name: 'Canada', continent: 'NA' },
  { cidr: '10.0.0.0/8', country: 'US', name: 'United States', continent: 'NA' },
  { cidr: '2001:db8::/32', country: 'DE', name: 'Germany', continent: 'EU' },
  { cidr: '2001:db8:1::/48', country: 'JP', name: 'Japan', continent: 'AS' },
  { cidr: '2a02:ff00::/24', country: 'FR' },
];

function readerFor(entries: CountryEntry[], opts: BuildOptions = {}): Reader<CountryResponse> {
  return new Reader<CountryResponse>(buildCountryMmdb(entries, { buildEpoch: BUILD_EPOCH, ...opts }));
}

function isoAt(reader: Reader<CountryResponse>, ip: string): string | null {
  return reader.get(ip)?.country?.iso_code ?? null;
}

/** Size of the data section: between the tree's 16-byte separator and the metadata marker. */
function dataSectionSize(db: Buffer): number {
  const { searchTreeSize } = new Reader<CountryResponse>(db).metadata;
  const marker = db.lastIndexOf(Buffer.from('\xAB\xCD\xEFMaxMind.com', 'latin1'));
  return marker - (searchTreeSize + 16);
}

void describe('buildCountryMmdb read back with maxmind', () => {
  const reader = readerFor(FIXTURE);

  void it('returns a GeoLite2-Country shaped record for an IPv4 hit', () => {
    const record = reader.get('81.2.69.1');
    assert.ok(record?.country);
    assert.equal(record.country.iso_code, 'GB');
    assert.equal(record.country.names.en, 'United Kingdom');
    assert.equal(typeof record.country.geoname_id, 'number');
    assert.deepEqual(record.registered_country, record.country);
    assert.equal(record.continent?.code, 'EU');
    assert.equal(record.continent?.names.en, 'Europe');

    const [, prefixLength] = reader.getWithPrefixLength('81.2.69.254');
    assert.equal(prefixLength, 24);
  });

  void it('defaults the English name to the code and omits continent when not given', () => {
    const record = reader.get('2a02:ff12::1');
    assert.equal(record?.country?.iso_code, 'FR');
    assert.equal(record?.country?.names.en, 'FR');
    assert.equal(record?.continent, undefined);
  });

  void it('answers IPv6 lookups', () => {
    assert.equal(isoAt(reader, '2001:db8:ffff::1'), 'DE');
    assert.equal(reader.get('2001:db8:ffff::1')?.country?.names.en, 'Germany');
    // The tree depth reached is the network's prefix, unless a narrower sibling split it.
    assert.equal(reader.getWithPrefixLength('2a02:ff12::1')[1], 24);
    assert.equal(reader.getWithPrefixLength('2001:db8:1:2::3')[1], 48);
  });

  void it('returns null for addresses no entry covers', () => {
    for (const ip of ['8.8.8.8', '81.2.70.1', '0.0.0.0', '255.255.255.255', '2001:db9::1', '::1', 'ffff::']) {
      assert.equal(reader.get(ip), null, ip);
    }
  });

  void it('lets the most specific network win, IPv4 and IPv6', () => {
    assert.equal(isoAt(reader, '10.200.0.1'), 'US');
    assert.equal(isoAt(reader, '10.1.200.1'), 'CA');
    assert.equal(isoAt(reader, '10.1.2.3'), 'MX');
    assert.equal(isoAt(reader, '10.1.3.0'), 'CA');
    assert.equal(isoAt(reader, '2001:db8:1::1'), 'JP');
    assert.equal(isoAt(reader, '2001:db8:2::1'), 'DE');
  });

  void it('gives the same answers whatever order entries are given in', () => {
    // FIXTURE lists the 10.x chain narrowest first; reversed, it is widest first.
    const reversed = readerFor([...FIXTURE].reverse());
    const interleaved = readerFor([...FIXTURE].sort((a, b) => a.country.localeCompare(b.country)));
    for (const ip of ['10.200.0.1', '10.1.200.1', '10.1.2.3', '2001:db8:1::1', '2001:db8:2::1', '81.2.69.1']) {
      assert.equal(isoAt(reversed, ip), isoAt(reader, ip), ip);
      assert.equal(isoAt(interleaved, ip), isoAt(reader, ip), ip);
    }
  });

  void it('answers IPv4-mapped and IPv4-compatible IPv6 forms like the IPv4 address', () => {
    assert.equal(isoAt(reader, '::ffff:81.2.69.1'), 'GB');
    assert.equal(isoAt(reader, '::ffff:5102:4501'), 'GB');
    assert.equal(isoAt(reader, '::ffff:10.1.2.3'), 'MX');
    assert.equal(reader.get('::ffff:8.8.8.8'), null);
    assert.equal(isoAt(reader, '::81.2.69.1'), 'GB');
  });

  void it('writes the GeoLite2-Country metadata', () => {
    const { metadata } = reader;
    assert.equal(metadata.databaseType, DATABASE_TYPE);
    assert.equal(metadata.databaseType, 'GeoLite2-Country');
    assert.equal(metadata.binaryFormatMajorVersion, 2);
    assert.equal(metadata.binaryFormatMinorVersion, 0);
    assert.equal(metadata.ipVersion, 6);
    assert.equal(metadata.recordSize, 24);
    assert.equal(metadata.nodeByteSize, 6);
    assert.deepEqual(metadata.languages, ['en']);
    assert.equal(metadata.buildEpoch.getTime(), BUILD_EPOCH * 1000);
    // mmdb-lib types `description` as a string, but the spec (and the decoded value) is a map.
    assert.deepEqual(metadata.description, { en: DEFAULT_DESCRIPTION });
    // IPv4 entries sit 96 levels down, so even this small tree has well over 96 nodes.
    assert.ok(metadata.nodeCount > 96);
    assert.equal(metadata.searchTreeSize, metadata.nodeCount * 6);
  });

  void it('honours buildEpoch and description options and defaults the epoch to now', () => {
    const custom = readerFor(FIXTURE, { buildEpoch: 1_234_567_890, description: 'custom text' });
    assert.equal(custom.metadata.buildEpoch.toISOString(), '2009-02-13T23:31:30.000Z');
    assert.deepEqual(custom.metadata.description, { en: 'custom text' });

    const before = Math.floor(Date.now() / 1000);
    const defaulted = new Reader<CountryResponse>(buildCountryMmdb(FIXTURE));
    const epoch = defaulted.metadata.buildEpoch.getTime() / 1000;
    assert.ok(epoch >= before && epoch <= Math.ceil(Date.now() / 1000), String(epoch));
  });
});

void describe('buildCountryMmdb layout details', () => {
  void it('stores identical records once in the data section', () => {
    const gb = { country: 'GB', name: 'United Kingdom' };
    const one = dataSectionSize(buildCountryMmdb([{ cidr: '81.2.69.0/24', ...gb }]));
    const three = dataSectionSize(
      buildCountryMmdb([
        { cidr: '81.2.69.0/24', ...gb },
        { cidr: '2.16.0.0/13', ...gb },
        { cidr: '2a02:c7f::/32', ...gb },
      ]),
    );
    const two = dataSectionSize(
      buildCountryMmdb([
        { cidr: '81.2.69.0/24', ...gb },
        { cidr: '2.16.0.0/13', country: 'FR' },
      ]),
    );
    assert.ok(one > 0);
    assert.equal(three, one);
    assert.ok(two > one);
  });

  void it('keeps records apart when only the name differs', () => {
    const reader = readerFor([
      { cidr: '81.2.69.0/24', country: 'GB', name: 'United Kingdom' },
      { cidr: '81.2.70.0/24', country: 'GB', name: 'Great Britain' },
    ]);
    assert.equal(reader.get('81.2.69.1')?.country?.names.en, 'United Kingdom');
    assert.equal(reader.get('81.2.70.1')?.country?.names.en, 'Great Britain');
  });

  for (const recordSize of [24, 28, 32] as const) {
    void it(`reads back with record size ${recordSize}`, () => {
      const reader = readerFor(FIXTURE, { recordSize });
      assert.equal(reader.metadata.recordSize, recordSize);
      assert.equal(reader.metadata.nodeByteSize, recordSize / 4);
      assert.equal(isoAt(reader, '10.1.2.3'), 'MX');
      assert.equal(isoAt(reader, '::ffff:81.2.69.1'), 'GB');
      assert.equal(isoAt(reader, '2001:db8:1::1'), 'JP');
      assert.equal(reader.get('8.8.8.8'), null);
    });
  }

  void it('handles /0 networks: an IPv6 default covers IPv4 space unless something narrower does', () => {
    const reader = readerFor([
      { cidr: '::/0', country: 'AQ' },
      { cidr: '81.2.69.0/24', country: 'GB' },
    ]);
    assert.equal(isoAt(reader, '2001:db8::1'), 'AQ');
    assert.equal(isoAt(reader, '8.8.8.8'), 'AQ');
    assert.equal(isoAt(reader, '81.2.69.1'), 'GB');
    assert.equal(isoAt(reader, '::ffff:81.2.69.1'), 'GB');

    const ipv4Default = readerFor([{ cidr: '0.0.0.0/0', country: 'AQ' }]);
    assert.equal(isoAt(ipv4Default, '8.8.8.8'), 'AQ');
    assert.equal(isoAt(ipv4Default, '::ffff:8.8.8.8'), 'AQ');
    assert.equal(ipv4Default.get('2001:db8::1'), null);
  });

  void it('agrees with a brute-force longest-prefix match on random overlapping IPv4 networks', () => {
    // Park-Miller PRNG: deterministic so a failure is reproducible, and exact in doubles.
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 48271) % 2147483647;
      return seed % n;
    };
    const TEN = 0x0a000000;
    const maskOf = (prefix: number): number => (0xffffffff << (32 - prefix)) >>> 0;
    const toIp = (n: number): string => [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.');
    const codes = ['AA', 'BB', 'CC', 'DD', 'EE'];

    // 150 distinct networks inside 10.0.0.0/12 with prefixes /12../28, so they overlap heavily.
    const networks = new Map<string, { base: number; prefix: number; country: string }>();
    while (networks.size < 150) {
      const prefix = 12 + random(17);
      const base = ((TEN + random(1 << 20)) & maskOf(prefix)) >>> 0;
      networks.set(`${base}/${prefix}`, { base, prefix, country: codes[random(codes.length)] ?? 'AA' });
    }
    const entries = [...networks.values()].map((n) => ({ cidr: `${toIp(n.base)}/${n.prefix}`, country: n.country }));
    const reader = readerFor(entries);

    const expected = (ip: number): string | null => {
      let best: { prefix: number; country: string } | undefined;
      for (const n of networks.values()) {
        if (((ip & maskOf(n.prefix)) >>> 0) === n.base && (!best || n.prefix > best.prefix)) best = n;
      }
      return best?.country ?? null;
    };
    // Queries cover 10.0.0.0/11, so half of them fall outside every network.
    for (let i = 0; i < 2000; i++) {
      const ip = TEN + random(1 << 21);
      assert.equal(isoAt(reader, toIp(ip)), expected(ip), toIp(ip));
    }
  });

  void it('builds a valid database with no entries', () => {
    const reader = readerFor([]);
    assert.equal(reader.get('81.2.69.1'), null);
    assert.equal(reader.get('2001:db8::1'), null);
    assert.equal(reader.metadata.databaseType, 'GeoLite2-Country');
  });

  void it('rejects bad input', () => {
    const bad: Array<[CountryEntry, RegExp]> = [
      [{ cidr: 'not-an-ip/24', country: 'GB' }, /invalid CIDR/],
      [{ cidr: '81.2.69.0', country: 'GB' }, /invalid CIDR/],
      [{ cidr: '81.2.69.0/', country: 'GB' }, /invalid CIDR/],
      [{ cidr: '81.2.69.0/33', country: 'GB' }, /prefix length/],
      [{ cidr: '256.2.69.0/24', country: 'GB' }, /invalid CIDR/],
      [{ cidr: '081.2.69.0/24', country: 'GB' }, /invalid CIDR/],
      [{ cidr: '2001:db8::/129', country: 'GB' }, /prefix length/],
      [{ cidr: '2001:db8:::/32', country: 'GB' }, /invalid CIDR/],
      [{ cidr: 'fe80::%eth0/64', country: 'GB' }, /invalid CIDR/],
      [{ cidr: '81.2.69.1/24', country: 'GB' }, /host bits/],
      [{ cidr: '2001:db8::1/32', country: 'GB' }, /host bits/],
      [{ cidr: '::ffff:81.2.69.0/120', country: 'GB' }, /IPv4-mapped/],
      [{ cidr: '81.2.69.0/24', country: 'gb' }, /country/],
      [{ cidr: '81.2.69.0/24', country: 'GBR' }, /country/],
      [{ cidr: '81.2.69.0/24', country: '' }, /country/],
      [{ cidr: '81.2.69.0/24', country: 'GB', name: '' }, /name/],
      [{ cidr: '81.2.69.0/24', country: 'GB', continent: 'XX' as never }, /continent/],
    ];
    for (const [entry, message] of bad) {
      assert.throws(() => buildCountryMmdb([entry]), message, JSON.stringify(entry));
    }
  });

  void it('rejects the same network listed twice, including in IPv4-compatible form', () => {
    assert.throws(
      () =>
        buildCountryMmdb([
          { cidr: '81.2.69.0/24', country: 'GB' },
          { cidr: '81.2.69.0/24', country: 'FR' },
        ]),
      /duplicate network/,
    );
    assert.throws(
      () =>
        buildCountryMmdb([
          { cidr: '81.2.69.0/24', country: 'GB' },
          { cidr: '::5102:4500/120', country: 'GB' },
        ]),
      /duplicate network/,
    );
  });

  void it('rejects an out-of-range buildEpoch', () => {
    assert.throws(() => buildCountryMmdb(FIXTURE, { buildEpoch: -1 }), /buildEpoch/);
    assert.throws(() => buildCountryMmdb(FIXTURE, { buildEpoch: 1.5 }), /buildEpoch/);
  });
});

void describe('writeCountryMmdb', () => {
  void it('writes a file that maxmind.open() loads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mmdb-writer-'));
    try {
      const file = join(dir, 'GeoLite2-Country.mmdb');
      await writeCountryMmdb(file, FIXTURE);
      const reader = await open<CountryResponse>(file);
      assert.equal(reader.get('81.2.69.1')?.country?.iso_code, 'GB');
      assert.equal(reader.metadata.databaseType, 'GeoLite2-Country');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const MMDBLOOKUP = '/usr/bin/mmdblookup';

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs mmdblookup without throwing on a non-zero exit (a miss exits non-zero). */
function mmdblookup(args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(MMDBLOOKUP, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`could not run ${MMDBLOOKUP}`, { cause: error }));
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

void describe('cross-check with libmaxminddb', () => {
  void it('mmdblookup reads the same answers', async (t) => {
    if (!existsSync(MMDBLOOKUP)) {
      t.skip('mmdblookup not installed');
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'mmdb-writer-'));
    try {
      const file = join(dir, 'GeoLite2-Country.mmdb');
      await writeCountryMmdb(file, FIXTURE, { buildEpoch: BUILD_EPOCH });

      // mmdblookup prints a looked-up string value as `"GB" <utf8_string>`.
      const lookups: Array<[string, string[], string]> = [
        ['81.2.69.1', ['country', 'iso_code'], '"GB"'],
        ['81.2.69.1', ['country', 'names', 'en'], '"United Kingdom"'],
        ['81.2.69.1', ['continent', 'code'], '"EU"'],
        ['10.1.2.3', ['country', 'iso_code'], '"MX"'],
        ['10.1.3.3', ['country', 'iso_code'], '"CA"'],
        ['2001:db8:1::1', ['country', 'iso_code'], '"JP"'],
        ['2001:db8:2::1', ['country', 'iso_code'], '"DE"'],
        ['::ffff:81.2.69.1', ['country', 'iso_code'], '"GB"'],
      ];
      for (const [ip, path, expected] of lookups) {
        const result = await mmdblookup(['--file', file, '--ip', ip, ...path]);
        assert.equal(result.code, 0, `${ip}: ${result.stderr}`);
        assert.match(result.stdout, new RegExp(`^\\s*${expected} <utf8_string>\\s*$`), ip);
      }

      const miss = await mmdblookup(['--file', file, '--ip', '8.8.8.8']);
      assert.notEqual(miss.code, 0);
      assert.match(miss.stderr + miss.stdout, /Could not find an entry/);

      const verbose = await mmdblookup(['--file', file, '--ip', '81.2.69.1', '--verbose']);
      assert.equal(verbose.code, 0, verbose.stderr);
      assert.match(verbose.stdout, /Record size:\s+24 bits/);
      assert.match(verbose.stdout, /IP version:\s+IPv6/);
      assert.match(verbose.stdout, /Binary format:\s+2\.0/);
      assert.match(verbose.stdout, /Type:\s+GeoLite2-Country/);
      assert.match(verbose.stdout, new RegExp(`Build epoch:\\s+${BUILD_EPOCH}\\b`));
      // libmaxminddb reports the depth in the IPv6 tree: 96 + 24 for 81.2.69.0/24.
      assert.match(verbose.stdout, /Record prefix length: 120/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

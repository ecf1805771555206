// Test helper: builds small MaxMind DB (MMDB v2) files in the GeoLite2-Country layout, so tests can drive the real `maxmind` reader without shipping a GeoLite2 database.
//
// Layout (MaxMind DB File Format Spec v2.0):
//   [binary search tree][16 zero bytes][data section]["\xAB\xCD\xEFMaxMind.com"][metadata map]
// The tree is an IPv6 tree (ip_version 6). IPv4 networks live under ::/96, as in real GeoLite2
// files, and ::ffff:0:0/96 (IPv4-mapped) is aliased to that same subtree so `::ffff:a.b.c.d`
// answers like `a.b.c.d` (the 6to4 and Teredo aliases of real files are not made).
// geoname_id values are synthetic (stable and unique per code), not real GeoNames ids; tests
// should not depend on them.
import { writeFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';

export type ContinentCode = 'AF' | 'AN' | 'AS' | 'EU' | 'NA' | 'OC' | 'SA';

export interface CountryEntry {
  /** Network in CIDR notation: '81.2.69.0/24' or '2001:db8::/32'. Host bits must be zero. */
  cidr: string;
  /** ISO 3166-1 alpha-2 code in upper case, e.g. 'GB'. */
  country: string;
  /** English country name; defaults to the code. */
  name?: string;
  /** When given, the record also carries a GeoLite2-style `continent` map. */
  continent?: ContinentCode;
}

export type RecordSize = 24 | 28 | 32;

export interface BuildOptions {
  /** build_epoch in seconds since the Unix epoch; defaults to now. */
  buildEpoch?: number;
  /** English metadata description; defaults to a fixed test description. */
  description?: string;
  /** Forces a record size; by default the smallest that fits is used (24 for test-sized data). */
  recordSize?: RecordSize;
}

export const DATABASE_TYPE = 'GeoLite2-Country';
export const DEFAULT_DESCRIPTION = 'Synthetic GeoLite2-Country test database';

/** Builds a complete MMDB file in memory. Throws on malformed entries. */
export function buildCountryMmdb(entries: CountryEntry[], opts: BuildOptions = {}): Buffer {
  const { networks, records } = prepareEntries(entries);
  const root = buildTree(networks);
  const { encoded: data, offsets } = encodeRecords(records);
  const nodes = numberNodes(root);
  const recordSize = opts.recordSize ?? smallestRecordSize(nodes.order.length, data.length);
  const tree = writeTree(nodes, offsets, recordSize);
  const metadata = encodeValue(
    metadataMap({
      nodeCount: nodes.order.length,
      recordSize,
      buildEpoch: opts.buildEpoch ?? Math.floor(Date.now() / 1000),
      description: opts.description ?? DEFAULT_DESCRIPTION,
    }),
  );
  return Buffer.concat([tree, DATA_SECTION_SEPARATOR, data, METADATA_MARKER, metadata]);
}

/** Builds the database and writes it to `path`. */
export async function writeCountryMmdb(
  path: string,
  entries: CountryEntry[],
  opts: BuildOptions = {},
): Promise<void> {
  await writeFile(path, buildCountryMmdb(entries, opts));
}

// ---------------------------------------------------------------------------
// Input validation
// ---------------------------------------------------------------------------

/** A network as a full 128-bit address plus a prefix length in the IPv6 tree. */
interface Network {
  bytes: Uint8Array;
  prefix: number;
}

/** A validated network and the index of its (deduplicated) data record. */
interface PlacedNetwork extends Network {
  record: number;
}

interface CountryRecordInput {
  country: string;
  name: string;
  continent: ContinentCode | undefined;
}

const ADDRESS_BITS = 128;
/** Readers look IPv4 addresses up after 96 zero bits, so IPv4 prefixes are shifted by 96. */
const IPV4_SUBTREE_BITS = 96;
/** ::ffff:0:0/96, served by the IPv4 subtree instead of holding data of its own. */
const IPV4_MAPPED: Network = {
  bytes: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]),
  prefix: 96,
};

const CONTINENT_NAMES: Record<ContinentCode, string> = {
  AF: 'Africa',
  AN: 'Antarctica',
  AS: 'Asia',
  EU: 'Europe',
  NA: 'North America',
  OC: 'Oceania',
  SA: 'South America',
};

function prepareEntries(entries: CountryEntry[]): {
  networks: PlacedNetwork[];
  records: CountryRecordInput[];
} {
  const records: CountryRecordInput[] = [];
  const recordIndex = new Map<string, number>();
  const seenNetworks = new Set<string>();
  const networks: PlacedNetwork[] = [];

  for (const entry of entries) {
    const input = validateRecord(entry);
    const network = parseCidr(entry.cidr);
    // The same network written twice (possibly once as IPv4, once as ::a.b.c.d) is ambiguous.
    const networkKey = `${Buffer.from(network.bytes).toString('hex')}/${network.prefix}`;
    if (seenNetworks.has(networkKey)) throw new Error(`duplicate network: ${entry.cidr}`);
    seenNetworks.add(networkKey);

    // Identical records are stored once in the data section; the tree points at them repeatedly.
    const recordKey = JSON.stringify([input.country, input.name, input.continent ?? null]);
    let record = recordIndex.get(recordKey);
    if (record === undefined) {
      record = records.push(input) - 1;
      recordIndex.set(recordKey, record);
    }
    networks.push({ ...network, record });
  }
  return { networks, records };
}

function validateRecord(entry: CountryEntry): CountryRecordInput {
  if (!/^[A-Z]{2}$/.test(entry.country)) {
    throw new Error(`country must be two upper-case letters, got ${JSON.stringify(entry.country)}`);
  }
  if (entry.name !== undefined && (typeof entry.name !== 'string' || entry.name === '')) {
    throw new Error(`name for ${entry.country} must be a non-empty string`);
  }
  if (entry.continent !== undefined && !Object.hasOwn(CONTINENT_NAMES, entry.continent)) {
    throw new Error(`unknown continent code ${JSON.stringify(entry.continent)}`);
  }
  return { country: entry.country, name: entry.name ?? entry.country, continent: entry.continent };
}

function parseCidr(cidr: string): Network {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  if (!match?.[1] || !match[2]) throw new Error(`invalid CIDR ${JSON.stringify(cidr)}`);
  const address = match[1];
  const prefix = Number(match[2]);

  let network: Network;
  if (isIPv4(address)) {
    if (prefix > 32) throw new Error(`invalid IPv4 prefix length in ${cidr}`);
    const bytes = new Uint8Array(16);
    bytes.set(parseIPv4(address), 12);
    network = { bytes, prefix: IPV4_SUBTREE_BITS + prefix };
  } else if (isIPv6(address) && !address.includes('%')) {
    if (prefix > ADDRESS_BITS) throw new Error(`invalid IPv6 prefix length in ${cidr}`);
    network = { bytes: parseIPv6(address), prefix };
    if (contains(IPV4_MAPPED, network)) {
      throw new Error(`${cidr} is IPv4-mapped; write it in IPv4 form (it is served from the IPv4 subtree)`);
    }
  } else {
    throw new Error(`invalid CIDR ${JSON.stringify(cidr)}`);
  }

  // Host bits set usually means a typo in the test data, so refuse rather than silently mask.
  for (let i = network.prefix; i < ADDRESS_BITS; i++) {
    if (bitAt(network.bytes, i) === 1) throw new Error(`host bits set in ${cidr}`);
  }
  return network;
}

/** Caller has already checked the text with net.isIPv4. */
function parseIPv4(text: string): number[] {
  return text.split('.').map(Number);
}

/** Caller has already checked the text with net.isIPv6, so only the expansion is done here. */
function parseIPv6(text: string): Uint8Array {
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two 16-bit groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let hex = text;
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = parseIPv4(tail);
    hex = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }

  // '::' stands for as many zero groups as are needed to make eight.
  const gap = hex.indexOf('::');
  let groups: string[];
  if (gap < 0) {
    groups = hex.split(':');
  } else {
    const head = hex.slice(0, gap) === '' ? [] : hex.slice(0, gap).split(':');
    const rest = hex.slice(gap + 2) === '' ? [] : hex.slice(gap + 2).split(':');
    groups = [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  }

  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}

/** Bit `i` of the address, counting from the most significant bit. */
function bitAt(bytes: Uint8Array, i: number): 0 | 1 {
  return (((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) as 0 | 1;
}

function contains(outer: Network, inner: Network): boolean {
  if (inner.prefix < outer.prefix) return false;
  for (let i = 0; i < outer.prefix; i++) {
    if (bitAt(outer.bytes, i) !== bitAt(inner.bytes, i)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Search tree
// ---------------------------------------------------------------------------

/** A leaf is the index of a data record, or null for "no data here". */
type Leaf = number | null;
type Child = TrieNode | Leaf;
interface TrieNode {
  children: [Child, Child];
}

function isNode(child: Child): child is TrieNode {
  return child !== null && typeof child === 'object';
}

function buildTree(networks: PlacedNetwork[]): TrieNode {
  const root: TrieNode = { children: [null, null] };
  // Wider networks first, so a narrower one is carved out of them later and the most specific
  // network wins whatever order the caller listed them in. (Array.prototype.sort is stable.)
  const widestFirst = [...networks].sort((a, b) => a.prefix - b.prefix);
  for (const network of widestFirst) insert(root, network);
  aliasIpv4Mapped(root);
  return root;
}

function insert(root: TrieNode, network: PlacedNetwork): void {
  if (network.prefix === 0) {
    // The root is always a node (readers start by reading node 0), so /0 fills both halves.
    root.children = [network.record, network.record];
    return;
  }
  let node = root;
  for (let depth = 0; depth < network.prefix - 1; depth++) {
    node = descend(node, bitAt(network.bytes, depth));
  }
  node.children[bitAt(network.bytes, network.prefix - 1)] = network.record;
}

/**
 * Steps to the child on `bit`. A leaf there becomes a node whose halves both keep the leaf's
 * value, so the wider network still covers everything except what is inserted below it.
 */
function descend(node: TrieNode, bit: 0 | 1): TrieNode {
  const child = node.children[bit];
  if (isNode(child)) return child;
  const split: TrieNode = { children: [child, child] };
  node.children[bit] = split;
  return split;
}

/**
 * Points ::ffff:0:0/96 at whatever ::/96 holds (the IPv4 subtree), as MaxMind's own writers do,
 * so IPv4-mapped IPv6 lookups answer like IPv4 ones. This makes the tree a DAG, which the
 * format allows: a record may point at any node.
 */
function aliasIpv4Mapped(root: TrieNode): void {
  let ipv4Subtree: Child = root;
  for (let depth = 0; depth < IPV4_SUBTREE_BITS && isNode(ipv4Subtree); depth++) {
    ipv4Subtree = ipv4Subtree.children[0];
  }
  let node = root;
  for (let depth = 0; depth < IPV4_MAPPED.prefix - 1; depth++) {
    node = descend(node, bitAt(IPV4_MAPPED.bytes, depth));
  }
  node.children[bitAt(IPV4_MAPPED.bytes, IPV4_MAPPED.prefix - 1)] = ipv4Subtree;
}

interface NumberedNodes {
  order: TrieNode[];
  ids: Map<TrieNode, number>;
}

/** Breadth-first numbering; the root must be node 0. Shared (aliased) nodes get one number. */
function numberNodes(root: TrieNode): NumberedNodes {
  const order = [root];
  const ids = new Map([[root, 0]]);
  for (let i = 0; i < order.length; i++) {
    for (const child of order[i]?.children ?? []) {
      if (isNode(child) && !ids.has(child)) {
        ids.set(child, order.length);
        order.push(child);
      }
    }
  }
  return { order, ids };
}

const DATA_SECTION_SEPARATOR = Buffer.alloc(16);

function smallestRecordSize(nodeCount: number, dataSize: number): RecordSize {
  // Largest possible record value: a pointer just past the end of the data section.
  const largest = nodeCount + DATA_SECTION_SEPARATOR.length + dataSize;
  for (const size of [24, 28, 32] as const) {
    if (largest < 2 ** size) return size;
  }
  throw new Error('database too large for a 32-bit record size');
}

function writeTree(nodes: NumberedNodes, dataOffsets: number[], recordSize: RecordSize): Buffer {
  const nodeCount = nodes.order.length;
  const nodeBytes = recordSize / 4; // two records per node
  const tree = Buffer.alloc(nodeCount * nodeBytes);

  // Spec: a record equal to node_count means "no data"; values above it point into the data
  // section at (value - node_count - 16).
  const recordValue = (child: Child): number => {
    if (isNode(child)) {
      const id = nodes.ids.get(child);
      if (id === undefined) throw new Error('internal error: unnumbered node');
      return id;
    }
    if (child === null) return nodeCount;
    const offset = dataOffsets[child];
    if (offset === undefined) throw new Error('internal error: unknown data record');
    return nodeCount + DATA_SECTION_SEPARATOR.length + offset;
  };

  nodes.order.forEach((node, id) => {
    const [left, right] = node.children;
    writeNode(tree, id * nodeBytes, recordValue(left), recordValue(right), recordSize);
  });
  return tree;
}

function writeNode(out: Buffer, at: number, left: number, right: number, recordSize: RecordSize): void {
  const limit = 2 ** recordSize;
  if (left >= limit || right >= limit) throw new Error(`record does not fit in ${recordSize} bits`);
  switch (recordSize) {
    case 24:
      out.writeUIntBE(left, at, 3);
      out.writeUIntBE(right, at + 3, 3);
      return;
    case 28:
      // 7 bytes: left's low 24 bits, a byte holding both records' top nibbles (left's first),
      // then right's low 24 bits.
      out.writeUIntBE(left & 0xffffff, at, 3);
      out[at + 3] = ((left >>> 24) << 4) | (right >>> 24);
      out.writeUIntBE(right & 0xffffff, at + 4, 3);
      return;
    case 32:
      out.writeUInt32BE(left, at);
      out.writeUInt32BE(right, at + 4);
      return;
  }
}

// ---------------------------------------------------------------------------
// Data section
// ---------------------------------------------------------------------------

/** The subset of MMDB data types this writer needs, tagged so integer widths are explicit. */
type DataValue =
  | { type: 'utf8'; value: string }
  | { type: 'uint16' | 'uint32' | 'uint64'; value: bigint }
  | { type: 'array'; value: DataValue[] }
  | { type: 'map'; value: Array<[string, DataValue]> };

/** Type numbers from the spec. Numbers above 7 are "extended" and need a second byte. */
const TYPE_NUMBER: Record<DataValue['type'], number> = {
  utf8: 2,
  uint16: 5,
  uint32: 6,
  map: 7,
  uint64: 9,
  array: 11,
};

const utf8 = (value: string): DataValue => ({ type: 'utf8', value });
const array = (value: DataValue[]): DataValue => ({ type: 'array', value });
/** Keeps the object's key order, so output bytes are deterministic. */
const map = (fields: Record<string, DataValue>): DataValue => ({ type: 'map', value: Object.entries(fields) });

function uint(type: 'uint16' | 'uint32' | 'uint64', value: number | bigint): DataValue {
  const big = BigInt(value);
  const bits = { uint16: 16n, uint32: 32n, uint64: 64n }[type];
  if (big < 0n || big >= 1n << bits) throw new Error(`${value} does not fit in ${type}`);
  return { type, value: big };
}

function encodeRecords(records: CountryRecordInput[]): { encoded: Buffer; offsets: number[] } {
  const chunks: Buffer[] = [];
  const offsets: number[] = [];
  let size = 0;
  for (const record of records) {
    const encoded = encodeValue(countryRecord(record));
    offsets.push(size);
    chunks.push(encoded);
    size += encoded.length;
  }
  return { encoded: Buffer.concat(chunks), offsets };
}

/** The shape of a GeoLite2-Country record (only the English names). */
function countryRecord({ country, name, continent }: CountryRecordInput): DataValue {
  const countryMap = map({
    geoname_id: uint('uint32', syntheticGeonameId(COUNTRY_ID_BASE, country)),
    iso_code: utf8(country),
    names: map({ en: utf8(name) }),
  });
  const fields: Record<string, DataValue> = {};
  if (continent !== undefined) {
    fields.continent = map({
      code: utf8(continent),
      geoname_id: uint('uint32', syntheticGeonameId(CONTINENT_ID_BASE, continent)),
      names: map({ en: utf8(CONTINENT_NAMES[continent]) }),
    });
  }
  fields.country = countryMap;
  // Real GeoLite2 records also carry the country the network is registered to; here it is the same.
  fields.registered_country = countryMap;
  return map(fields);
}

const COUNTRY_ID_BASE = 9_000_000;
const CONTINENT_ID_BASE = 9_100_000;

/** A stable id unique per two-letter code (26 * 26 codes per base). */
function syntheticGeonameId(base: number, code: string): number {
  return base + (code.charCodeAt(0) - 65) * 26 + (code.charCodeAt(1) - 65);
}

function encodeValue(value: DataValue): Buffer {
  const chunks: Buffer[] = [];
  appendValue(value, chunks);
  return Buffer.concat(chunks);
}

function appendValue(value: DataValue, out: Buffer[]): void {
  switch (value.type) {
    case 'utf8': {
      const bytes = Buffer.from(value.value, 'utf8');
      out.push(controlBytes(value.type, bytes.length), bytes);
      return;
    }
    case 'uint16':
    case 'uint32':
    case 'uint64': {
      const bytes = minimalBigEndian(value.value);
      out.push(controlBytes(value.type, bytes.length), bytes);
      return;
    }
    case 'array':
      out.push(controlBytes(value.type, value.value.length));
      for (const item of value.value) appendValue(item, out);
      return;
    case 'map':
      // A map's size is its number of pairs; keys are always UTF-8 strings.
      out.push(controlBytes(value.type, value.value.length));
      for (const [key, item] of value.value) {
        appendValue(utf8(key), out);
        appendValue(item, out);
      }
      return;
  }
}

/**
 * The control byte: 3 type bits then 5 size bits. Extended types put 0 in the type bits and
 * (type - 7) in the next byte. Sizes of 29 and up spill into 1-3 following bytes.
 */
function controlBytes(type: DataValue['type'], size: number): Buffer {
  const typeNumber = TYPE_NUMBER[type];
  let sizeBits: number;
  let sizeBytes: Buffer;
  if (size < 29) {
    sizeBits = size;
    sizeBytes = Buffer.alloc(0);
  } else if (size < 29 + 0x100) {
    sizeBits = 29;
    sizeBytes = Buffer.from([size - 29]);
  } else if (size < 285 + 0x10000) {
    sizeBits = 30;
    sizeBytes = Buffer.alloc(2);
    sizeBytes.writeUInt16BE(size - 285);
  } else if (size < 65821 + 0x1000000) {
    sizeBits = 31;
    sizeBytes = Buffer.alloc(3);
    sizeBytes.writeUIntBE(size - 65821, 0, 3);
  } else {
    throw new Error(`value too large for MMDB: ${size}`);
  }
  const head = typeNumber <= 7 ? [(typeNumber << 5) | sizeBits] : [sizeBits, typeNumber - 7];
  return Buffer.concat([Buffer.from(head), sizeBytes]);
}

/** Unsigned integers are stored big-endian without leading zero bytes (zero takes no bytes). */
function minimalBigEndian(value: bigint): Buffer {
  const bytes: number[] = [];
  for (let rest = value; rest > 0n; rest >>= 8n) bytes.unshift(Number(rest & 0xffn));
  return Buffer.from(bytes);
}

// ---------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------

/** "\xAB\xCD\xEF" followed by "MaxMind.com"; readers search for its last occurrence. */
const METADATA_MARKER = Buffer.concat([Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com', 'ascii')]);

function metadataMap(fields: {
  nodeCount: number;
  recordSize: RecordSize;
  buildEpoch: number;
  description: string;
}): DataValue {
  if (!Number.isSafeInteger(fields.buildEpoch) || fields.buildEpoch < 0) {
    throw new Error(`buildEpoch must be a non-negative integer, got ${fields.buildEpoch}`);
  }
  return map({
    binary_format_major_version: uint('uint16', 2),
    binary_format_minor_version: uint('uint16', 0),
    build_epoch: uint('uint64', fields.buildEpoch),
    database_type: utf8(DATABASE_TYPE),
    description: map({ en: utf8(fields.description) }),
    ip_version: uint('uint16', 6),
    languages: array([utf8('en')]),
    node_count: uint('uint32', fields.nodeCount),
    record_size: uint('uint16', fields.recordSize),
  });
}

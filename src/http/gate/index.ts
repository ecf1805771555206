// Public surface of the gate: client address resolution, origin allowlist, remote lists, geo database.
export { Gate, type Verdict, type GateOptions } from './gate.js';
export { resolveClientAddress, type ClientAddress } from './client-ip.js';
export { parseIp, parseCidr, type ParsedIp, type ParsedCidr } from './ip.js';
export { PrefixTrie } from './prefix-trie.js';
export { openGeoDb, type GeoLookup } from './geo.js';
export { RemoteCidrList, parseGitHubMeta, parseOpenAiRanges, REFRESH_INTERVAL_MS, type RemoteListOptions } from './remote-list.js';
export { LOCAL_CIDRS, TAILSCALE_CIDRS, ANTHROPIC_CIDRS } from './ranges.js';

// The IP allowlist: resolves a client address to an origin (named set, CIDR, country) and decides.
import type { AllowOrigins, NamedOrigin } from '../../config/index.js';
import type { GeoLookup } from './geo.js';
import { parseCidr, type ParsedIp } from './ip.js';
import { PrefixTrie } from './prefix-trie.js';
import { ANTHROPIC_CIDRS, LOCAL_CIDRS, TAILSCALE_CIDRS } from './ranges.js';

export interface Verdict {
  allowed: boolean;
  /** Named origin, the matching allowlist CIDR, the country code, or '' when nothing is known. */
  origin: string;
  /** Country from the geo database (looked up for every non-local address when one is configured). */
  country: string | null;
}

/**
 * Named origins in resolution order. Tailscale comes before local because its IPv6 prefix lies
 * inside the ULA block fc00::/7 and the more specific name is the truthful one.
 */
const NAMED_PRIORITY: readonly NamedOrigin[] = ['tailscale', 'local', 'github', 'anthropic', 'openai'];

type Entry = { kind: 'named'; origin: NamedOrigin; priority: number } | { kind: 'cidr'; cidr: string };

export interface GateOptions {
  allow: AllowOrigins;
  trustedProxies: readonly string[];
  geo: GeoLookup | null;
}

/** Verdicts are cached per address: most traffic comes from few clients. */
const VERDICT_CACHE_SIZE = 10_000;

export class Gate {
  private table = new PrefixTrie<Entry>();
  private readonly verdicts = new Map<string, Verdict>();
  private readonly trusted = new PrefixTrie<true>();
  private readonly named = new Map<NamedOrigin, readonly string[]>();

  constructor(private readonly opts: GateOptions) {
    for (const value of opts.trustedProxies) {
      const cidr = parseCidr(value);
      if (cidr) this.trusted.insert(cidr, true);
    }
    this.named.set('local', LOCAL_CIDRS);
    this.named.set('tailscale', TAILSCALE_CIDRS);
    this.named.set('anthropic', ANTHROPIC_CIDRS);
    this.rebuild();
  }

  /**
   * Replaces the ranges of a named origin (github and openai arrive from remote lists). Lookups
   * keep using the old table until the new one is complete.
   */
  setNamedRanges(origin: NamedOrigin, cidrs: readonly string[]): void {
    this.named.set(origin, cidrs);
    this.rebuild();
  }

  isTrustedProxy(ip: ParsedIp): boolean {
    return this.trusted.contains(ip);
  }

  evaluate(ip: ParsedIp): Verdict {
    const cached = this.verdicts.get(ip.text);
    if (cached) return cached;
    const verdict = this.resolve(ip);
    if (this.verdicts.size >= VERDICT_CACHE_SIZE) this.verdicts.clear();
    this.verdicts.set(ip.text, verdict);
    return verdict;
  }

  private resolve(ip: ParsedIp): Verdict {
    let best: NamedOrigin | undefined;
    let bestPriority = Infinity;
    let cidr: string | undefined;
    this.table.visit(ip, (entry) => {
      if (entry.kind === 'cidr') cidr = entry.cidr; // visited shortest first: the last one is the most specific
      else if (entry.priority < bestPriority) {
        best = entry.origin;
        bestPriority = entry.priority;
      }
    });
    const geo = this.opts.geo;
    const country = geo && best !== 'local' && best !== 'tailscale' ? geo.country(ip.text) : null;
    const { names, countries } = this.opts.allow;
    if (best && names.has(best)) return { allowed: true, origin: best, country };
    if (cidr) return { allowed: true, origin: cidr, country };
    if (best) return { allowed: false, origin: best, country };
    return { allowed: country !== null && countries.has(country), origin: country ?? '', country };
  }

  private rebuild(): void {
    const table = new PrefixTrie<Entry>();
    const { names, cidrs } = this.opts.allow;
    NAMED_PRIORITY.forEach((origin, priority) => {
      // Sets other than local/tailscale only label traffic when allowed: otherwise a country rule
      // would be shadowed by, say, an Anthropic address that is also in an allowed country.
      if (origin !== 'local' && origin !== 'tailscale' && !names.has(origin)) return;
      for (const value of this.named.get(origin) ?? []) {
        const parsed = parseCidr(value);
        if (parsed) table.insert(parsed, { kind: 'named', origin, priority });
      }
    });
    for (const value of cidrs) {
      const parsed = parseCidr(value);
      if (parsed) table.insert(parsed, { kind: 'cidr', cidr: parsed.text });
    }
    this.table = table;
    this.verdicts.clear();
  }
}

// CIDR lists published as JSON (GitHub meta, OpenAI): fetched at start, refreshed daily with
// backoff, cached on disk so a failed fetch falls back to the last good (even stale) copy.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PRIVATE_DIR_MODE, VERSION, writeFileAtomic } from '../../config/index.js';
import type { Logger } from '../../log/index.js';
import { parseCidr } from './ip.js';

export const REFRESH_INTERVAL_MS = 24 * 60 * 60 * 1000;
const FETCH_TIMEOUT_MS = 10_000;
const RETRY_INITIAL_MS = 30_000;
const RETRY_MAX_MS = 60 * 60 * 1000;

const CacheFile = z.object({ fetchedAt: z.string(), urls: z.array(z.string()), cidrs: z.array(z.string()) });

export interface RemoteListOptions {
  /** Origin name (`github`, `openai`): names the cache file and log lines. */
  name: string;
  urls: readonly string[];
  /** Extracts CIDR strings from one URL's JSON document; throws when the shape is wrong. */
  parse: (json: unknown) => string[];
  cacheDir: string;
  logger: Logger;
  headers?: Record<string, string>;
  now?: () => number;
  refreshMs?: number;
  retryInitialMs?: number;
}

/** Validates and de-duplicates CIDRs; drops entries that do not parse. */
function cleanCidrs(values: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const value of values) {
    const cidr = parseCidr(value);
    if (cidr) out.add(cidr.text);
  }
  return [...out];
}

export class RemoteCidrList {
  private cidrs: string[] = [];
  private fetchedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private readonly listeners = new Set<(cidrs: readonly string[]) => void>();
  private readonly cacheFile: string;
  private readonly now: () => number;

  constructor(private readonly opts: RemoteListOptions) {
    this.cacheFile = join(opts.cacheDir, 'origins', `${opts.name}.json`);
    this.now = opts.now ?? Date.now;
  }

  get name(): string {
    return this.opts.name;
  }

  current(): readonly string[] {
    return this.cidrs;
  }

  /** Age of the data in use, or Infinity when there is none. */
  ageMs(): number {
    return this.fetchedAt ? this.now() - this.fetchedAt : Infinity;
  }

  onUpdate(listener: (cidrs: readonly string[]) => void): void {
    this.listeners.add(listener);
  }

  /**
   * Loads the disk cache, then fetches when it is missing or older than a day. Resolves once
   * data is in hand or `maxWaitMs` passed, whichever comes first: startup never waits longer.
   */
  async start(maxWaitMs = 3_000): Promise<void> {
    await this.loadCache();
    const refreshMs = this.opts.refreshMs ?? REFRESH_INTERVAL_MS;
    if (this.ageMs() < refreshMs) {
      this.schedule(refreshMs - this.ageMs());
      return;
    }
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      this.refresh(),
      new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, maxWaitMs);
        timeout.unref();
      }),
    ]);
    clearTimeout(timeout);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One fetch attempt; on failure keeps the current (possibly stale) data and retries with backoff. */
  async refresh(): Promise<boolean> {
    clearTimeout(this.timer);
    const { logger, name } = this.opts;
    try {
      const cidrs = await this.fetchAll();
      this.failures = 0;
      this.fetchedAt = this.now();
      // Persisted before it is published, so whoever sees the new list can also find it on disk.
      await this.saveCache(cidrs).catch((err: unknown) => logger.warn({ list: name, err }, 'cannot write origin list cache'));
      this.set(cidrs);
      logger.info({ list: name, cidrs: cidrs.length }, 'origin list fetched');
      this.schedule(this.opts.refreshMs ?? REFRESH_INTERVAL_MS);
      return true;
    } catch (err) {
      this.failures++;
      const delay = Math.min((this.opts.retryInitialMs ?? RETRY_INITIAL_MS) * 2 ** (this.failures - 1), RETRY_MAX_MS);
      logger.warn(
        { list: name, err: (err as Error).message, usingCached: this.cidrs.length, staleMs: this.ageMs(), retryInMs: delay },
        'origin list fetch failed',
      );
      this.schedule(delay);
      return false;
    }
  }

  private async fetchAll(): Promise<string[]> {
    const all: string[] = [];
    for (const url of this.opts.urls) {
      const res = await fetch(url, {
        headers: { 'user-agent': `caic/${VERSION}`, accept: 'application/json', ...this.opts.headers },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      all.push(...this.opts.parse(await res.json()));
    }
    const cidrs = cleanCidrs(all);
    if (cidrs.length === 0) throw new Error('no CIDRs in the published list');
    return cidrs;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private set(cidrs: string[]): void {
    this.cidrs = cidrs;
    for (const listener of this.listeners) listener(cidrs);
  }

  private async loadCache(): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(this.cacheFile, 'utf8'));
    } catch {
      return; // no cache or unreadable: fetch decides
    }
    const parsed = CacheFile.safeParse(json);
    // A cache of other URLs (the config changed) describes a different list.
    if (!parsed.success || parsed.data.urls.join('\n') !== this.opts.urls.join('\n')) return;
    const fetchedAt = Date.parse(parsed.data.fetchedAt);
    if (!Number.isFinite(fetchedAt)) return;
    this.fetchedAt = fetchedAt;
    this.set(cleanCidrs(parsed.data.cidrs));
  }

  private async saveCache(cidrs: readonly string[]): Promise<void> {
    await mkdir(join(this.opts.cacheDir, 'origins'), { recursive: true, mode: PRIVATE_DIR_MODE });
    const body = { fetchedAt: new Date(this.fetchedAt).toISOString(), urls: this.opts.urls, cidrs };
    await writeFileAtomic(this.cacheFile, `${JSON.stringify(body)}\n`);
  }
}

const GitHubMeta = z.object({ hooks: z.array(z.string()) });
const OpenAiRanges = z.object({
  prefixes: z.array(z.object({ ipv4Prefix: z.string().optional(), ipv6Prefix: z.string().optional() })),
});

/** GitHub's webhook sender ranges: the `hooks` list of the meta API. */
export function parseGitHubMeta(json: unknown): string[] {
  return GitHubMeta.parse(json).hooks;
}

/** OpenAI's published ChatGPT connector/agent egress ranges. */
export function parseOpenAiRanges(json: unknown): string[] {
  return OpenAiRanges.parse(json).prefixes.flatMap((p) => [p.ipv4Prefix, p.ipv6Prefix].filter((x): x is string => !!x));
}

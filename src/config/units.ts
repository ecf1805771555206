// Sizes ("8g", "512m") and durations ("30s", "2h", "7d") as config.toml writes them, parsed to bytes and ms.

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Bytes of "8g", "512m", "64k", "1048576" (binary units, case-insensitive); 0 for "" or "0" (off); null when malformed. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (text.trim() === '') return 0;
  if (!m) return null;
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** Milliseconds of "500ms", "30s", "10m", "2h", "7d"; 0 for "" or "0" (off); null when malformed. */
export function parseDuration(text: string): number | null {
  if (text.trim() === '' || text.trim() === '0') return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!m) return null;
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** A byte count for people: "1.5 GiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** `[limits]` in bytes and milliseconds (0: off). */
export interface ResourceLimits {
  memoryBytes: number;
  diskBytes: number;
  diskWarnPercent: number;
  statsIntervalMs: number;
  idleStopMs: number;
  removeStoppedAfterMs: number;
  orphanGraceMs: number;
  pruneImages: boolean;
  gcIntervalMs: number;
  minFreeDiskBytes: number;
}

/** The `[limits]` table (already validated by the schema) as numbers. */
export function resourceLimits(l: {
  memory: string;
  disk: string;
  disk_warn_percent: number;
  stats_interval: string;
  idle_stop: string;
  remove_stopped_after: string;
  orphan_grace: string;
  prune_images: boolean;
  gc_interval: string;
  min_free_disk: string;
}): ResourceLimits {
  return {
    memoryBytes: parseSize(l.memory) ?? 0,
    diskBytes: parseSize(l.disk) ?? 0,
    diskWarnPercent: l.disk_warn_percent,
    statsIntervalMs: parseDuration(l.stats_interval) ?? 0,
    idleStopMs: parseDuration(l.idle_stop) ?? 0,
    removeStoppedAfterMs: parseDuration(l.remove_stopped_after) ?? 0,
    orphanGraceMs: parseDuration(l.orphan_grace) ?? 0,
    pruneImages: l.prune_images,
    gcIntervalMs: parseDuration(l.gc_interval) ?? 0,
    minFreeDiskBytes: parseSize(l.min_free_disk) ?? 0,
  };
}

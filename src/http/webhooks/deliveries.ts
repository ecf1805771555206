// Webhook deliveries already handled: a bounded set of delivery ids, persisted so a replay is ignored across restarts.
import { join } from 'node:path';
import { readStateFile, writeFileAtomic } from '../../config/index.js';
import type { Logger } from '../../log/index.js';

export const DELIVERIES_FILE_NAME = 'webhook-deliveries.json';
/** Enough for days of deliveries of a busy installation; a replay older than that is not expected (GitHub keeps 3 days). */
export const MAX_DELIVERIES = 20_000;
const MAX_ID_LENGTH = 200;
/** At most one rewrite of the file per this interval under a burst of deliveries (a crash loses at most that much). */
export const DELIVERIES_WRITE_INTERVAL_MS = 1_000;

/**
 * Remembers delivery ids (oldest forgotten first once `max` is reached). `claim` is synchronous,
 * so two copies of one delivery arriving at once cannot both be handled. The file is rewritten
 * atomically in the background, one write at a time and at most one per
 * DELIVERIES_WRITE_INTERVAL_MS (a burst of CI deliveries costs one write a second, not one each);
 * `close` writes what is left at once.
 */
export class DeliveryLog {
  private readonly ids = new Set<string>();
  private writing: Promise<void> | null = null;
  private dirty = false;
  private lastWrite = 0;
  private pause: { timer: NodeJS.Timeout; done: () => void } | null = null;
  private closing = false;

  private constructor(
    private readonly path: string,
    private readonly max: number,
    private readonly logger: Logger,
  ) {}

  static async open(dir: string, logger: Logger, max = MAX_DELIVERIES): Promise<DeliveryLog> {
    const log = new DeliveryLog(join(dir, DELIVERIES_FILE_NAME), max, logger);
    const text = await readStateFile(log.path);
    if (text !== null) {
      try {
        const ids: unknown = JSON.parse(text);
        if (!Array.isArray(ids)) throw new Error('not a JSON array');
        for (const id of ids.slice(-max)) if (typeof id === 'string' && id.length <= MAX_ID_LENGTH) log.ids.add(id);
      } catch (err) {
        // The set only prevents duplicates: a damaged file costs at most a replay, not the daemon.
        logger.warn({ file: log.path, err: (err as Error).message }, 'webhook delivery log unreadable; starting empty');
      }
    }
    return log;
  }

  /** True when `id` is new (and now remembered); false for a delivery seen before. */
  claim(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value!);
    this.schedule();
    return true;
  }

  /** Forgets a delivery whose handling failed, so the forge's redelivery is handled. */
  release(id: string): void {
    if (this.ids.delete(id)) this.schedule();
  }

  private schedule(): void {
    this.dirty = true;
    this.writing ??= this.flush();
  }

  private async flush(): Promise<void> {
    while (this.dirty) {
      const wait = this.lastWrite + DELIVERIES_WRITE_INTERVAL_MS - Date.now();
      if (wait > 0 && !this.closing) {
        await new Promise<void>((resolve) => {
          this.pause = { timer: setTimeout(resolve, wait), done: resolve };
        });
        this.pause = null;
      }
      this.dirty = false;
      this.lastWrite = Date.now();
      try {
        await writeFileAtomic(this.path, JSON.stringify([...this.ids]));
      } catch (err) {
        this.logger.error({ file: this.path, err: (err as Error).message }, 'could not save the webhook delivery log');
      }
    }
    this.writing = null;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.pause) {
      clearTimeout(this.pause.timer);
      this.pause.done();
    }
    await this.writing;
  }
}

/** A delivery id as a forge sends it: printable ASCII, bounded; anything else is not remembered. */
export function deliveryId(header: string | string[] | undefined): string | null {
  const v = Array.isArray(header) ? header[0] : header;
  return v && v.length <= MAX_ID_LENGTH && /^[\x21-\x7e]+$/.test(v) ? v : null;
}

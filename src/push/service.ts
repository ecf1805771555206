// PushService: the caller's subscriptions, and a bounded queue that sends task news to them (web-push: VAPID + aes128gcm).
import type { Agent } from 'node:https';
import webpush, { WebPushError } from 'web-push';
import type { PushKind, PushPayload, PushSubscribeReq, PushSubscription, Task } from '../api/index.js';
import type { Logger } from '../log/index.js';
import { endpointProblem, pushAgent, type EndpointPolicy } from './endpoint.js';
import type { VapidKeys } from './keys.js';
import type { SubscriptionStore, StoredSubscription } from './store.js';

export interface PushOptions {
  /** The VAPID key pair, made on first use (loadOrCreateVapidKeys); called once. */
  keys: () => Promise<VapidKeys>;
  store: SubscriptionStore;
  /** The VAPID `sub` claim: mailto: or https:. */
  subject: string;
  logger: Logger;
  /** Tests only: allow loopback/private push endpoints and trust this CA (a local push-service stand-in). */
  testEndpoints?: { ca: string };
  /** Tests: the first retry delay (default 1 s; doubled per attempt, at most MAX_RETRY_MS). */
  retryBaseMs?: number;
}

/** Pushes waiting to be sent; beyond this the newest are dropped (the task engine never waits on push). */
export const MAX_QUEUE = 1000;
/** Concurrent deliveries. */
const WORKERS = 4;
/** Retries after a 429, a 5xx or a network error, per delivery. */
export const MAX_RETRIES = 3;
const MAX_RETRY_MS = 60_000;
/** How long a push service may keep an undelivered message. */
const TTL_SECONDS = 24 * 3600;
const TITLE_MAX = 120;
/** The request timeout per push. */
const SEND_TIMEOUT_MS = 15_000;

export class PushValidationError extends Error {}

interface Job {
  userId: string;
  sub: StoredSubscription;
  payload: PushPayload;
  attempt: number;
}

const URGENCY: Record<PushKind, 'high' | 'normal'> = { asking: 'high', plan: 'high', failed: 'high', approval: 'high', ci_failed: 'normal', finished: 'normal', test: 'normal' };

/** The path the web UI routes a task to (router.ts: /task/@<id>+<slug>; the slug is cosmetic). */
export function taskUrl(id: string): string {
  return `/task/@${id}`;
}

export class PushService {
  private readonly queue: Job[] = [];
  private running = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly agent: Agent;
  private readonly policy: EndpointPolicy;
  private closed = false;
  /** Counters, for the log and tests. */
  readonly stats = { sent: 0, dropped: 0, removed: 0, retried: 0, failed: 0 };

  constructor(private readonly opts: PushOptions) {
    this.policy = { allowPrivate: Boolean(opts.testEndpoints) };
    this.agent = pushAgent(this.policy, opts.testEndpoints ?? {});
  }

  private keysOnce: Promise<VapidKeys> | null = null;

  /** The key pair, loaded or made on the first call; a failure is retried on the next one. */
  private keys(): Promise<VapidKeys> {
    this.keysOnce ??= this.opts.keys().catch((err: unknown) => {
      this.keysOnce = null;
      throw err;
    });
    return this.keysOnce;
  }

  async publicKey(): Promise<string> {
    return (await this.keys()).publicKey;
  }

  list(userId: string): PushSubscription[] {
    return this.opts.store.list(userId).map(view);
  }

  async subscribe(userId: string, req: PushSubscribeReq): Promise<PushSubscription> {
    const problem = endpointProblem(req.endpoint, this.policy);
    if (problem) throw new PushValidationError(problem);
    const p256dh = Buffer.from(req.keys.p256dh, 'base64url');
    if (p256dh.length !== 65 || p256dh[0] !== 4) throw new PushValidationError('keys.p256dh must be an uncompressed P-256 point (65 bytes)');
    if (Buffer.from(req.keys.auth, 'base64url').length !== 16) throw new PushValidationError('keys.auth must be 16 bytes');
    return view(await this.opts.store.add(userId, req));
  }

  async unsubscribe(userId: string, by: { id?: string | undefined; endpoint?: string | undefined }): Promise<boolean> {
    const sub = this.opts.store.list(userId).find((s) => (by.id ? s.id === by.id : s.endpoint === by.endpoint));
    return sub ? this.opts.store.remove(userId, sub.id) : false;
  }

  /** Queues a push of `kind` about `task` to each of `userId`'s subscriptions; returns how many. Never waits for the network. */
  notify(userId: string, kind: PushKind, task: Pick<Task, 'id' | 'title'>, detail?: string): number {
    const subs = this.opts.store.list(userId);
    const cut = (s: string) => (s.length > TITLE_MAX ? `${s.slice(0, TITLE_MAX - 1)}…` : s);
    const title = cut(task.title);
    const payload: PushPayload = { v: 1, kind, taskId: task.id, title, url: kind === 'test' ? '/' : taskUrl(task.id), ...(detail ? { detail: cut(detail) } : {}) };
    for (const sub of subs) this.enqueue({ userId, sub, payload, attempt: 0 });
    return subs.length;
  }

  private enqueue(job: Job): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUE) {
      this.stats.dropped++;
      this.opts.logger.warn({ user: job.userId, kind: job.payload.kind }, 'push queue full: notification dropped');
      return;
    }
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.running < WORKERS && this.queue.length && !this.closed) {
      const job = this.queue.shift()!;
      this.running++;
      const p = this.deliver(job).finally(() => {
        this.running--;
        this.inflight.delete(p);
        this.pump();
      });
      this.inflight.add(p);
    }
  }

  private async deliver(job: Job): Promise<void> {
    const { subject, logger } = this.opts;
    const origin = new URL(job.sub.endpoint).origin;
    try {
      const keys = await this.keys();
      await webpush.sendNotification({ endpoint: job.sub.endpoint, keys: job.sub.keys }, JSON.stringify(job.payload), {
        vapidDetails: { subject, publicKey: keys.publicKey, privateKey: keys.privateKey },
        TTL: TTL_SECONDS,
        urgency: URGENCY[job.payload.kind],
        topic: undefined,
        contentEncoding: 'aes128gcm',
        agent: this.agent,
        timeout: SEND_TIMEOUT_MS,
      });
      this.stats.sent++;
      logger.debug({ user: job.userId, service: origin, kind: job.payload.kind }, 'push sent');
    } catch (err) {
      const status = err instanceof WebPushError ? err.statusCode : 0;
      if (status === 404 || status === 410) {
        // The browser unsubscribed or the subscription expired: it will never work again.
        this.stats.removed++;
        await this.opts.store.remove(job.userId, job.sub.id).catch((e: unknown) => logger.warn({ err: e }, 'push: removing a gone subscription failed'));
        logger.info({ user: job.userId, service: origin, status }, 'push subscription gone: removed');
        return;
      }
      const retriable = status === 0 || status === 429 || status >= 500;
      if (retriable && job.attempt < MAX_RETRIES && !this.closed) {
        this.stats.retried++;
        const retryAfter = err instanceof WebPushError ? Number(err.headers?.['retry-after']) : NaN;
        const base = (this.opts.retryBaseMs ?? 1000) * 2 ** job.attempt;
        const delay = Math.min(MAX_RETRY_MS, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : base * (0.75 + Math.random() / 2));
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.enqueue({ ...job, attempt: job.attempt + 1 });
        }, delay);
        t.unref();
        this.timers.add(t);
        return;
      }
      this.stats.failed++;
      logger.warn({ user: job.userId, service: origin, status, err: status ? undefined : (err as Error).message }, 'push not delivered');
    }
  }

  /** Stops retries and waits for deliveries under way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    await Promise.allSettled([...this.inflight]);
    this.agent.destroy();
    await this.opts.store.close();
  }
}

function view(s: StoredSubscription): PushSubscription {
  return { id: s.id, endpointOrigin: new URL(s.endpoint).origin, createdAt: s.createdAt };
}

// Wire types of Web Push: the VAPID public key, a browser's PushSubscription, and what a push says.
import { z } from 'zod';

export const PushKeyResp = z
  .object({ publicKey: z.string().describe("The server's VAPID public key (base64url, uncompressed P-256 point): PushManager.subscribe's applicationServerKey.") })
  .meta({ id: 'PushKeyResp' });
export type PushKeyResp = z.infer<typeof PushKeyResp>;

const b64url = (min: number, max: number) => z.string().min(min).max(max).regex(/^[A-Za-z0-9_-]+=*$/, 'must be base64url');

/** PushSubscription.toJSON() as a browser gives it. The endpoint's host is checked by the server (public https only). */
export const PushSubscribeReq = z
  .object({
    endpoint: z.url().max(1024).describe("The push service's URL for this browser (https)."),
    expirationTime: z.number().nullable().optional(),
    keys: z.object({
      p256dh: b64url(80, 100).describe("The browser's P-256 public key (uncompressed point, base64url)."),
      auth: b64url(16, 32).describe('The 16-byte authentication secret (base64url).'),
    }),
  })
  .meta({ id: 'PushSubscribeReq' });
export type PushSubscribeReq = z.infer<typeof PushSubscribeReq>;

export const PushSubscription = z
  .object({
    id: z.string().describe('Stable id of the subscription (a hash of its endpoint).'),
    endpointOrigin: z.string().describe("The push service's origin (the full endpoint is a capability and is not echoed)."),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'PushSubscription' });
export type PushSubscription = z.infer<typeof PushSubscription>;

export const PushSubscriptionsResp = z.object({ subscriptions: z.array(PushSubscription) }).meta({ id: 'PushSubscriptionsResp' });
export type PushSubscriptionsResp = z.infer<typeof PushSubscriptionsResp>;

export const PushUnsubscribeReq = z
  .object({ endpoint: z.url().max(1024).optional(), id: z.string().max(100).optional() })
  .refine((v) => Boolean(v.endpoint) !== Boolean(v.id), 'give either endpoint or id')
  .meta({ id: 'PushUnsubscribeReq' });
export type PushUnsubscribeReq = z.infer<typeof PushUnsubscribeReq>;

export const PushUnsubscribeResp = z.object({ removed: z.boolean() }).meta({ id: 'PushUnsubscribeResp' });

export const PushTestResp = z.object({ sent: z.int().describe('Subscriptions the test notification was queued for.') }).meta({ id: 'PushTestResp' });

/** What happened to a task, as a push says it. */
export const PushKind = z.enum(['asking', 'plan', 'finished', 'failed', 'ci_failed', 'approval', 'test']).meta({ id: 'PushKind' });
export type PushKind = z.infer<typeof PushKind>;

/**
 * The decrypted payload of a push (the service worker reads it): the task and what happened, nothing
 * of the transcript beyond the title.
 */
export const PushPayload = z
  .object({
    v: z.literal(1),
    kind: PushKind,
    taskId: z.string(),
    title: z.string().max(200),
    url: z.string().describe('Path of the task page, to open on click.'),
    detail: z.string().max(200).optional().describe('What the notification says besides the title (approval: the tool that waits).'),
  })
  .meta({ id: 'PushPayload' });
export type PushPayload = z.infer<typeof PushPayload>;

// Wire schemas of app previews: the ports a task's container listens on, and opening one.
import { z } from 'zod';
import { TaskId } from './tasks.js';

export const PreviewPortParams = z.object({
  id: TaskId,
  port: z.coerce.number().int().min(1).max(65535).refine((p) => p !== 22, 'port 22 is the container\'s sshd, not a preview'),
});

export const PreviewPort = z.object({
  port: z.number().int(),
  /** The container loopback the server listens on (a server on ::1 alone is reached there). */
  host: z.enum(['127.0.0.1', '::1']),
  /** The preview's own origin (opening it needs the open route's link); null when previews are unavailable here. */
  url: z.string().nullable(),
});
export type PreviewPort = z.infer<typeof PreviewPort>;

export const PreviewsResp = z.object({
  /** TCP ports listened on in the container (loopback or wildcard), sshd's left out; refreshed at most every few seconds. */
  ports: z.array(PreviewPort),
  /** Whether this server can serve previews to this client (a preview domain is configured, or the client uses a loopback name). */
  available: z.boolean(),
  /** Why previews are unavailable, when they are. */
  reason: z.string().optional(),
});
export type PreviewsResp = z.infer<typeof PreviewsResp>;

export const PreviewOpenResp = z.object({
  /** One-time link (60 s): it sets the preview's own cookie on the preview host and lands on `/`. */
  url: z.string(),
  /** The preview's origin, for display. */
  origin: z.string(),
  expiresAt: z.string(),
});
export type PreviewOpenResp = z.infer<typeof PreviewOpenResp>;

// Who may use a preview host: single-use open tokens minted by the caic API, exchanged on the
// preview host for a host-only cookie; both bound to one user, task, port and host name.
import { randomBytes } from 'node:crypto';

/** What an open token or a preview cookie allows: this user, this task's port, on this host name. */
export interface PreviewGrant {
  /** The signed-in user who opened it; null in no-auth mode. */
  userId: string | null;
  username: string | null;
  /** The user's session epoch when it was opened: "sign out everywhere" ends the preview too. */
  epoch: number;
  taskId: string;
  port: number;
  /** The preview's host name (lower-case, no port): a token or cookie is good there only. */
  hostname: string;
}

interface Entry extends PreviewGrant {
  expiresAt: number;
}

/** Long enough to follow a redirect, short enough that a leaked URL is useless (single use anyway). */
export const TOKEN_TTL_MS = 60_000;
/** A preview cookie lasts a working day at most; opening the preview again from caic renews it. */
export const COOKIE_TTL_MS = 12 * 3600_000;
const MAX_TOKENS = 1_000;
const MAX_COOKIES = 10_000;

function put(map: Map<string, Entry>, max: number, entry: Entry): string {
  const key = randomBytes(32).toString('base64url');
  // Oldest first (insertion order): a flood of opens forgets the oldest, never grows memory.
  while (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, entry);
  return key;
}

function take(map: Map<string, Entry>, key: string, hostname: string, now: number, consume: boolean): PreviewGrant | null {
  const e = map.get(key);
  if (!e) return null;
  if (e.expiresAt <= now) {
    map.delete(key);
    return null;
  }
  // A value presented on another host is refused and spent: it was copied where it does not belong.
  if (consume || e.hostname !== hostname) map.delete(key);
  if (e.hostname !== hostname) return null;
  const { expiresAt: _, ...grant } = e;
  return grant;
}

/**
 * Tokens and cookies in memory: a daemon restart forgets them (the user opens the preview again).
 * Values are 256 random bits; nothing about the grant can be read from them.
 */
export class PreviewGrants {
  private readonly tokens = new Map<string, Entry>();
  private readonly cookies = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A single-use token for the open redirect. */
  mint(grant: PreviewGrant): { token: string; expiresAt: Date } {
    const expiresAt = this.now() + TOKEN_TTL_MS;
    return { token: put(this.tokens, MAX_TOKENS, { ...grant, expiresAt }), expiresAt: new Date(expiresAt) };
  }

  /** Spends a token presented on `hostname`: its grant, or null (unknown, used, expired, other host). */
  redeem(token: string, hostname: string): PreviewGrant | null {
    return take(this.tokens, token, hostname, this.now(), true);
  }

  /** The cookie value for a redeemed grant. */
  session(grant: PreviewGrant): { value: string; maxAgeSeconds: number } {
    return { value: put(this.cookies, MAX_COOKIES, { ...grant, expiresAt: this.now() + COOKIE_TTL_MS }), maxAgeSeconds: COOKIE_TTL_MS / 1000 };
  }

  /** The grant of a cookie presented on `hostname`, or null. */
  check(cookie: string, hostname: string): PreviewGrant | null {
    return take(this.cookies, cookie, hostname, this.now(), false);
  }

  /** Forgets every token and cookie of a task (it stopped). */
  dropTask(taskId: string): void {
    for (const map of [this.tokens, this.cookies]) for (const [k, e] of map) if (e.taskId === taskId) map.delete(k);
  }
}

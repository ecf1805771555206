// VoiceGateway: the sessions of one gateway (embedded or standalone): token check, caps, offer/close, idle and shutdown.
import { randomBytes } from 'node:crypto';
import type { ErrorCode, VoiceRtcCloseResp, VoiceRtcOfferResp } from '../../api/index.js';
import type { Logger } from '../../log/index.js';
import type { VoiceBackend } from '../backend.js';
import { VoiceTokenError, type VerifiedVoiceToken } from '../tokens.js';
import { icePeerConfig, type IcePeerConfig } from './ice.js';
import { BadOfferError, RtcSession, type RtcTiming } from './session.js';

/** What a route answers: a value, or an error code of the envelope with its message. */
export type GatewayResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export const GATEWAY_DEFAULTS = {
  /** A session nobody spoke in, sent a message in or heard from the model in this long ends. */
  idleMs: 30 * 60_000,
  /** Sessions at once on one gateway (about a tenth of a core each for the audio alone). */
  maxSessions: 20,
  /** Sessions at once per user: a phone and a browser, and one more that is still closing. */
  maxSessionsPerSub: 3,
} as const;

export interface VoiceGatewayOptions {
  backend: VoiceBackend;
  /** Checks the bearer token (VoiceTokenVerifier). */
  verifier: { verify(token: unknown): Promise<VerifiedVoiceToken> };
  logger: Logger;
  /** `[voice-gateway.config.server]`. */
  server: { webrtc_udp_port: number; announce_addresses: readonly string[] };
  idleMs?: number;
  maxSessions?: number;
  maxSessionsPerSub?: number;
  /** bench:voice: every packet's timestamps through each session (see RtcTiming); unset, nothing is measured. */
  onTiming?: (sessionId: string, timing: RtcTiming) => void;
}

/** Ids of ended sessions remembered, so a late close answers `closed: false` rather than 404. */
const ENDED_MEMORY = 1024;

function bearer(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return m ? m[1]! : null;
}

export class VoiceGateway {
  private readonly sessions = new Map<string, RtcSession>();
  private readonly ended = new Map<string, string>();
  /** Offers being answered, by sub: they count against the caps before their session exists. */
  private readonly pending = new Map<string, number>();
  private pendingTotal = 0;
  private readonly ice: IcePeerConfig;
  private readonly limits: { idleMs: number; maxSessions: number; maxSessionsPerSub: number };
  /** werift picks a port of the range by binding, closing and binding again: two offers at once could pick the same one. */
  private gathering: Promise<unknown> = Promise.resolve();
  private closing = false;

  constructor(private readonly opts: VoiceGatewayOptions) {
    this.limits = {
      idleMs: opts.idleMs ?? GATEWAY_DEFAULTS.idleMs,
      maxSessions: opts.maxSessions ?? GATEWAY_DEFAULTS.maxSessions,
      maxSessionsPerSub: opts.maxSessionsPerSub ?? GATEWAY_DEFAULTS.maxSessionsPerSub,
    };
    this.ice = icePeerConfig({ announceAddresses: opts.server.announce_addresses, udpPort: opts.server.webrtc_udp_port, maxSessions: this.limits.maxSessions });
  }

  get backendName(): string {
    return this.opts.backend.name;
  }

  /** Open sessions (tests, health). */
  get size(): number {
    return this.sessions.size;
  }

  /** The addresses and ports sessions use, for the start-up log. */
  get network(): { addresses: string[]; ports: string } {
    const r = this.ice.icePortRange;
    return { addresses: this.ice.iceAdditionalHostAddresses, ports: r ? `${r[0]}-${r[1]}` : 'any free port' };
  }

  private async authenticate(authorization: string | undefined): Promise<GatewayResult<VerifiedVoiceToken>> {
    const token = bearer(authorization);
    if (!token) return { ok: false, code: 'UNAUTHORIZED', message: 'a voice token is required: Authorization: Bearer <token from GET /api/v1/voice/token>' };
    try {
      return { ok: true, value: await this.opts.verifier.verify(token) };
    } catch (err) {
      if (err instanceof VoiceTokenError) return { ok: false, code: 'UNAUTHORIZED', message: `voice token refused: ${err.message}` };
      throw err;
    }
  }

  private countOf(sub: string): number {
    let n = this.pending.get(sub) ?? 0;
    for (const s of this.sessions.values()) if (s.sub === sub) n++;
    return n;
  }

  /** POST /api/v1/voice/rtc/offer. */
  async offer(authorization: string | undefined, sdp: string): Promise<GatewayResult<VoiceRtcOfferResp>> {
    const auth = await this.authenticate(authorization);
    if (!auth.ok) return auth;
    if (this.closing) return { ok: false, code: 'SERVICE_UNAVAILABLE', message: 'the voice gateway is shutting down' };
    const sub = auth.value.claims.sub;
    const { maxSessions, maxSessionsPerSub } = this.limits;
    if (this.sessions.size + this.pendingTotal >= maxSessions) {
      return { ok: false, code: 'RATE_LIMITED', message: `the voice gateway is full (${maxSessions} sessions at once); try again when one ends` };
    }
    if (this.countOf(sub) >= maxSessionsPerSub) {
      return { ok: false, code: 'RATE_LIMITED', message: `you already have ${maxSessionsPerSub} voice sessions open, the most allowed; close one (POST /api/v1/voice/rtc/{sessionId}/close) first` };
    }
    this.pending.set(sub, (this.pending.get(sub) ?? 0) + 1);
    this.pendingTotal++;
    const id = randomBytes(16).toString('base64url');
    try {
      const opened = this.gathering.then(() =>
        RtcSession.open(
          {
            id,
            sub,
            backend: this.opts.backend,
            ice: this.ice,
            logger: this.opts.logger,
            idleMs: this.limits.idleMs,
            onEnd: (s) => this.forget(s),
            ...(this.opts.onTiming ? { onTiming: (t: RtcTiming) => this.opts.onTiming!(id, t) } : {}),
          },
          sdp,
        ),
      );
      this.gathering = opened.catch(() => {});
      const { session, answer } = await opened;
      if (this.closing) {
        await session.end('the gateway is shutting down');
        return { ok: false, code: 'SERVICE_UNAVAILABLE', message: 'the voice gateway is shutting down' };
      }
      this.sessions.set(id, session);
      this.opts.logger.info({ session: id, sub, issuer: auth.value.issuer.issuer, sessions: this.sessions.size }, 'voice session opened');
      return { ok: true, value: { sessionId: id, type: 'answer', sdp: answer } };
    } catch (err) {
      if (err instanceof BadOfferError) return { ok: false, code: 'BAD_REQUEST', message: err.message };
      this.opts.logger.error({ err }, 'answering a voice offer failed');
      return { ok: false, code: 'SERVICE_UNAVAILABLE', message: 'the voice gateway could not answer the offer; try again' };
    } finally {
      const left = (this.pending.get(sub) ?? 1) - 1;
      if (left > 0) this.pending.set(sub, left);
      else this.pending.delete(sub);
      this.pendingTotal--;
    }
  }

  /** POST /api/v1/voice/rtc/{sessionId}/close: only the user who opened it; anyone else gets the 404 of an unknown id. */
  async close(authorization: string | undefined, sessionId: string): Promise<GatewayResult<VoiceRtcCloseResp>> {
    const auth = await this.authenticate(authorization);
    if (!auth.ok) return auth;
    const sub = auth.value.claims.sub;
    const session = this.sessions.get(sessionId);
    if (session && session.sub === sub) {
      await session.end('closed by the client (POST close)');
      return { ok: true, value: { closed: true } };
    }
    if (!session && this.ended.get(sessionId) === sub) return { ok: true, value: { closed: false } };
    return { ok: false, code: 'NOT_FOUND', message: 'no such voice session' };
  }

  private forget(session: RtcSession): void {
    this.sessions.delete(session.id);
    this.ended.set(session.id, session.sub);
    if (this.ended.size > ENDED_MEMORY) this.ended.delete(this.ended.keys().next().value!);
  }

  /** Ends every session and refuses new ones (daemon or gateway shutdown). */
  async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.sessions.values()].map((s) => s.end('the gateway is shutting down')));
  }
}

// An in-process voice backend that answers each microphone chunk with as much audio of its own (an echo, or a recording played in step), and a gateway serving it on loopback: for gateway tests and bench:voice.
import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { NamedOrigin } from '../../src/config/index.js';
import { buildGatewayServer, Gate } from '../../src/http/index.js';
import { createLogger, type LogLevel } from '../../src/log/index.js';
import {
  VoiceGateway,
  VoiceTokenIssuer,
  VoiceTokenVerifier,
  type VoiceBackend,
  type VoiceBackendEvent,
  type VoiceBackendListener,
  type VoiceBackendSession,
  type VoiceBackendStats,
  type VoiceGatewayOptions,
  type VoiceSessionSetup,
} from '../../src/voice/index.js';

/** The rate microphone PCM reaches a backend at. */
const MIC_RATE = 16_000;

export interface EchoBackendOptions {
  /**
   * What each microphone chunk is answered with: `echo` sends the chunk back (16 kHz), a recording
   * (mono PCM at `replyRate`) is played in step with the microphone, as much audio as came in, looped;
   * `none` answers nothing (the test emits what it wants through `EchoSession.emit`).
   */
  reply?: 'echo' | 'none' | Int16Array;
  /** The recording's rate (Gemini speaks at 24 kHz). */
  replyRate?: number;
  /** Keep the microphone PCM each session got, in `EchoSession.heard` (tests; a benchmark would only fill memory). */
  keep?: boolean;
}

/** One session of the echo backend; `emit` lets a test send any backend event. */
export class EchoSession implements VoiceBackendSession {
  readonly setup: VoiceSessionSetup;
  /** The microphone's 16 kHz PCM, chunk by chunk, with `keep`. */
  readonly heard: Int16Array[] = [];
  private readonly counts = { sentAudioBytes: 0, droppedAudioBytes: 0, receivedAudioBytes: 0, queuedBytes: 0 };
  private at = 0;
  private closed = false;

  constructor(
    setup: VoiceSessionSetup,
    private readonly listener: VoiceBackendListener,
    private readonly opts: EchoBackendOptions,
  ) {
    this.setup = setup;
    queueMicrotask(() => this.emit({ type: 'ready' }));
  }

  emit(event: VoiceBackendEvent): void {
    if (this.closed) return;
    if (event.type === 'audio') this.counts.receivedAudioBytes += event.pcm.byteLength;
    this.listener(event);
  }

  sendAudio(pcm16k: Int16Array): void {
    if (this.closed) return;
    this.counts.sentAudioBytes += pcm16k.byteLength;
    if (this.opts.keep) this.heard.push(pcm16k.slice());
    const reply = this.opts.reply ?? 'echo';
    if (reply === 'none') return;
    if (reply === 'echo') {
      this.emit({ type: 'audio', pcm: pcm16k.slice(), sampleRate: MIC_RATE });
      return;
    }
    const rate = this.opts.replyRate ?? 24_000;
    const n = Math.round((pcm16k.length * rate) / MIC_RATE);
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = reply[this.at]!;
      this.at = (this.at + 1) % reply.length;
    }
    this.emit({ type: 'audio', pcm: out, sampleRate: rate });
  }

  sendToolResult(): void {}
  updateContext(): void {}

  cancelTurn(): void {
    this.emit({ type: 'interrupted', source: 'client' });
  }

  stats(): VoiceBackendStats {
    return { ...this.counts };
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.listener({ type: 'closed', reason: 'closed by the gateway' });
      this.closed = true;
    }
    return Promise.resolve();
  }
}

export class EchoBackend implements VoiceBackend {
  readonly name = 'echo';
  readonly sessions: EchoSession[] = [];
  private waiters: ((s: EchoSession) => void)[] = [];

  constructor(private readonly opts: EchoBackendOptions = {}) {}

  open(setup: VoiceSessionSetup, listener: VoiceBackendListener): VoiceBackendSession {
    const session = new EchoSession(setup, listener, this.opts);
    this.sessions.push(session);
    for (const w of this.waiters.splice(0)) w(session);
    return session;
  }

  /** The next session opened (or the last one, when one is open and nobody waited yet). */
  nextSession(): Promise<EchoSession> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export interface ServedGateway {
  url: string;
  gateway: VoiceGateway;
  app: FastifyInstance;
  /** A voice token for `sub`, signed by the key the gateway trusts. */
  token(sub: string): Promise<string>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A gateway as `caic voice-gateway` builds it (the same Fastify app, gate, token verifier and
 * VoiceGateway) around `backend`, on 127.0.0.1 with loopback ICE only: a test or benchmark can
 * use a backend of its own and the gateway's options (timing, caps).
 */
export async function serveGateway(
  backend: VoiceBackend,
  opts: Partial<Pick<VoiceGatewayOptions, 'idleMs' | 'maxSessions' | 'maxSessionsPerSub' | 'onTiming'>> & { logLevel?: LogLevel } = {},
): Promise<ServedGateway> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const instanceId = 'caic-echo-gateway';
  const issuer = new VoiceTokenIssuer({ privateKey, instanceId });
  const { logger } = createLogger({ level: opts.logLevel ?? 'warn' });
  const gateway = new VoiceGateway({
    backend,
    verifier: new VoiceTokenVerifier({ issuers: [{ service: 'caic', issuer: instanceId, publicKey }] }),
    logger,
    server: { webrtc_udp_port: 0, announce_addresses: ['127.0.0.1'] },
    ...(opts.idleMs !== undefined ? { idleMs: opts.idleMs } : {}),
    ...(opts.maxSessions !== undefined ? { maxSessions: opts.maxSessions } : {}),
    ...(opts.maxSessionsPerSub !== undefined ? { maxSessionsPerSub: opts.maxSessionsPerSub } : {}),
    ...(opts.onTiming ? { onTiming: opts.onTiming } : {}),
  });
  const gate = new Gate({ allow: { names: new Set<NamedOrigin>(['local']), cidrs: [], countries: new Set() }, trustedProxies: [], geo: null });
  const app = await buildGatewayServer({ logger, gate, gateway });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const close = async () => {
    await gateway.shutdown();
    await app.close();
  };
  return {
    url,
    gateway,
    app,
    token: async (sub) => (await issuer.issue(sub, 'http://127.0.0.1:1')).token,
    close,
    [Symbol.asyncDispose]: close,
  };
}

// What every WebSocket model session (Gemini Live, OpenAI Realtime) shares: connect with a setup deadline, microphone audio held until ready, backpressure, byte counts, the close handshake and the end-of-session report.
import WebSocket from 'ws';
import { VOICE_CHANNEL_LIMITS } from '../../api/index.js';
import type { Logger } from '../../log/index.js';
import type { VoiceBackendEvent, VoiceBackendListener, VoiceBackendStats } from '../backend.js';
import { formatMs, maskSecret } from './common.js';

export type SocketState = 'connecting' | 'setup' | 'ready' | 'closed';

export interface SocketSessionOptions {
  /** The service's name in messages ("Gemini Live"). */
  service: string;
  /** The logger child's `voiceBackend` value ("gemini-live"). */
  logName: string;
  url: URL;
  /** The key goes in a header, never the URL. */
  headers: Record<string, string>;
  /** Masked out of everything logged or emitted. */
  apiKey: string;
  logger?: Logger;
  setupTimeoutMs: number;
  /** Microphone bytes held while the session is not ready (the newest kept). */
  maxPendingBytes: number;
  /** Bytes the socket may hold unsent before microphone audio is dropped. */
  maxBufferedBytes: number;
  maxMessageBytes: number;
}

export abstract class SocketSession {
  protected state: SocketState = 'connecting';
  protected readonly ws: WebSocket;
  protected readonly log: Logger | undefined;
  protected failure: { message: string; recoverable: false } | undefined;
  protected closing = false;
  protected receivedAudioBytes = 0;
  protected readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private congested = false;
  private droppedBytes = 0;
  private sentBytes = 0;
  private sentAudioBytes = 0;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    private readonly socket: SocketSessionOptions,
    private readonly listener: VoiceBackendListener,
  ) {
    this.log = socket.logger?.child({ voiceBackend: socket.logName });
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    const timeoutMs = socket.setupTimeoutMs;
    this.ws = new WebSocket(socket.url, { headers: socket.headers, handshakeTimeout: timeoutMs, maxPayload: socket.maxMessageBytes, perMessageDeflate: false });
    this.timer = setTimeout(() => {
      if (this.state === 'ready' || this.state === 'closed') return;
      this.fail(`${socket.service} did not complete the session setup within ${formatMs(timeoutMs)}`);
      this.ws.terminate();
    }, timeoutMs);
    this.ws.on('open', () => {
      this.state = 'setup';
      this.onOpen();
    });
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('error', (err) => {
      // ws always follows an error with 'close'; remember the cause for it.
      this.failure ??= { message: this.socketErrorMessage(err.message), recoverable: false };
    });
    this.ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
  }

  /** The socket is open: send the session's setup. */
  protected abstract onOpen(): void;
  protected abstract onMessage(data: WebSocket.RawData, isBinary: boolean): void;
  /** The service's message carrying one chunk of microphone audio. */
  protected abstract audioMessage(bytes: Buffer): unknown;
  /** The session is over: drop what the subclass still holds (calls). */
  protected abstract onEnded(): void;

  /** Why the connection failed, from ws's error message (the key masked). */
  protected socketErrorMessage(message: string): string {
    const { service } = this.socket;
    return `${this.state === 'connecting' ? `cannot reach ${service}` : `the connection to ${service} failed`}: ${this.mask(message)}`;
  }

  /** Why the service closed the session on its own; `why` is its reason, masked and cut. */
  protected closeMessage(code: number, _reason: string, why: string): string {
    return `${this.socket.service} closed the session (code ${code}: ${why})`;
  }

  stats(): VoiceBackendStats {
    return {
      sentAudioBytes: this.sentAudioBytes,
      droppedAudioBytes: this.droppedBytes,
      receivedAudioBytes: this.receivedAudioBytes,
      queuedBytes: this.pendingBytes + (this.state === 'closed' ? 0 : this.ws.bufferedAmount),
    };
  }

  close(): Promise<void> {
    if (this.state !== 'closed' && !this.closing) {
      this.closing = true;
      if (this.ws.readyState === WebSocket.OPEN) {
        this.ws.close(1000, 'session closed');
        // A peer that never answers the close handshake does not hold the session open.
        setTimeout(() => this.ws.terminate(), 2_000).unref();
      } else {
        this.ws.terminate();
      }
    }
    return this.closedPromise;
  }

  protected emit(event: VoiceBackendEvent): void {
    if (this.state === 'closed') return;
    try {
      this.listener(event);
    } catch (err) {
      this.log?.error({ err: (err as Error).message, event: event.type }, 'voice backend listener threw');
    }
  }

  /** The key may appear in nothing we log or emit. */
  protected mask(text: string): string {
    return maskSecret(text, this.socket.apiKey);
  }

  protected fail(message: string): void {
    this.failure ??= { message: this.mask(message), recoverable: false };
  }

  protected sendJson(message: unknown): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(message);
    this.sentBytes += text.length;
    this.ws.send(text);
  }

  /** Microphone audio: sent when the session is ready, else held (the newest, at most maxPendingBytes). */
  protected queueAudio(bytes: Buffer): void {
    if (this.state === 'ready') return this.sendChunk(bytes);
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    while (this.pendingBytes > this.socket.maxPendingBytes && this.pending.length > 0) {
      const dropped = this.pending.shift()!;
      this.pendingBytes -= dropped.length;
      this.droppedBytes += dropped.length;
    }
  }

  /** The service accepted the setup: `ready`, then the audio held so far. False when it already was. */
  protected becomeReady(tools: number): boolean {
    if (this.state === 'ready') return false;
    this.state = 'ready';
    clearTimeout(this.timer);
    this.log?.debug({ ms: Date.now() - this.startedAt, tools }, `${this.socket.service} session ready`);
    this.emit({ type: 'ready' });
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const chunk of pending) this.sendChunk(chunk);
    return true;
  }

  private sendChunk(bytes: Buffer): void {
    // Backpressure: audio the socket cannot take now is dropped rather than queued without bound;
    // stale microphone audio is worth less than a fresh one.
    const max = this.socket.maxBufferedBytes;
    if (this.ws.bufferedAmount > max) {
      this.droppedBytes += bytes.length;
      if (!this.congested) {
        this.congested = true;
        this.log?.warn({ bufferedBytes: this.ws.bufferedAmount }, `${this.socket.service} cannot keep up; dropping microphone audio`);
        this.emit({ type: 'error', message: `the connection to ${this.socket.service} cannot keep up; some microphone audio was dropped`, recoverable: true });
      }
      return;
    }
    if (this.congested && this.ws.bufferedAmount < max / 2) this.congested = false;
    this.sentAudioBytes += bytes.length;
    this.sendJson(this.audioMessage(bytes));
  }

  private onClose(code: number, reason: string): void {
    if (this.state === 'closed') return;
    clearTimeout(this.timer);
    let failure = this.failure;
    if (!failure && !this.closing) failure = { message: this.closeMessage(code, reason, this.mask(reason.slice(0, 300)) || 'no reason given'), recoverable: false };
    this.log?.info(
      {
        code,
        ms: Date.now() - this.startedAt,
        sentBytes: this.sentBytes,
        sentAudioBytes: this.sentAudioBytes,
        receivedAudioBytes: this.receivedAudioBytes,
        droppedAudioBytes: this.droppedBytes,
        ...(failure ? { error: failure.message } : {}),
      },
      `${this.socket.service} session ended`,
    );
    if (failure && !this.closing) this.emit({ type: 'error', message: failure.message.slice(0, VOICE_CHANNEL_LIMITS.errorMessage), recoverable: false });
    this.emit({ type: 'closed', reason: this.closing ? 'closed' : (failure?.message ?? `code ${code}`).slice(0, VOICE_CHANNEL_LIMITS.errorMessage) });
    this.state = 'closed';
    this.pending = [];
    this.onEnded();
    this.resolveClosed();
  }
}

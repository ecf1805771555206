// One voice session: a werift peer connection carrying the microphone to a backend session and the model's voice and messages back.
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type MediaStreamTrack, type RTCDataChannel, type RTCRtpTransceiver } from 'werift';
import { parseVoiceClientMessage, VOICE_CHANNEL_LIMITS, type VoiceClientMessage, type VoiceGatewayMessage } from '../../api/index.js';
import type { Logger } from '../../log/index.js';
import { Framer, OPUS_RATE, OpusCodec, opusPcmRate, Resampler } from '../audio.js';
import { toGatewayMessage, type VoiceBackend, type VoiceBackendEvent, type VoiceBackendSession } from '../backend.js';
import type { IcePeerConfig } from './ice.js';
import { Pacer } from './pacer.js';

/** The data channel the client opens; any other is closed. */
export const VOICE_CHANNEL_LABEL = 'voice-gateway';
/** The model's rate for microphone audio. */
const MIC_RATE = 16_000;
/** How long ICE gathering may take before the offer is answered (host candidates only: milliseconds in practice). */
const GATHER_TIMEOUT_MS = 5_000;
/** Client messages per second a session accepts (a burst of twice that): far above any real client, far below a flood. */
const MESSAGE_RATE = 25;

/**
 * What the gateway tells every model before the client's context: the client, not the gateway,
 * runs the tools, and it speaks to someone who is likely not looking at a screen.
 */
export const GATEWAY_INSTRUCTION =
  'You are the voice of caic, a service that runs coding agents (tasks) in containers. The person is talking to you hands-free, ' +
  'often away from a screen: answer briefly, in plain spoken sentences, without markdown, code or long lists. ' +
  "Use the tools to look at and act on the person's tasks; the person's own app runs each tool call and sends you the result, " +
  'so never claim to have done something before its result arrived. Ask before anything that cannot be undone (stopping or deleting a task).';

/** An offer the gateway cannot answer: the client's fault (400). */
export class BadOfferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadOfferError';
  }
}

export interface RtcSessionOptions {
  id: string;
  sub: string;
  backend: VoiceBackend;
  ice: IcePeerConfig;
  logger: Logger;
  /** The session ends after this long without a packet, a message or a model event. */
  idleMs: number;
  /** Called once, when the session has ended (for whatever reason). */
  onEnd: (session: RtcSession, reason: string) => void;
  /** bench:voice: the timestamps of every packet through the session; nothing is measured without it. */
  onTiming?: (timing: RtcTiming) => void;
}

/**
 * When one packet went through a session (`performance.now()` milliseconds), for measuring what
 * the gateway adds: `mic` from werift handing over the decrypted RTP packet to the 16 kHz PCM
 * handed to the backend; `assistant` from the backend's `audio` event that completed the frame,
 * through the frame encoded and queued, to the pacer releasing it to werift (whose SRTP and socket
 * follow). `ssrc` and `sequenceNumber` are the RTP packet's, which SRTP leaves readable on the wire.
 */
export type RtcTiming =
  | { kind: 'mic'; ssrc: number; sequenceNumber: number; received: number; handed: number }
  | { kind: 'assistant'; ssrc: number; sequenceNumber: number; emitted: number; queued: number; released: number };

const opusCodec = () => new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: OPUS_RATE, channels: 2 });

async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ICE gathering did not finish within ${GATHER_TIMEOUT_MS} ms`)), GATHER_TIMEOUT_MS);
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
      if (state !== 'complete') return;
      clearTimeout(timer);
      unSubscribe();
      resolve();
    });
  });
}

/**
 * A session from the SDP offer to its end. Audio goes microphone → Opus decode → 16 kHz → backend,
 * and backend PCM → 48 kHz → 20 ms frames → Opus → paced RTP; data channel messages are checked
 * and passed on both ways. Nothing of the audio is kept beyond the frames in flight.
 */
export class RtcSession {
  readonly startedAt = Date.now();
  /** The microphone, decoded by libopus straight to the model's 16 kHz (no resampler). */
  private readonly mic = new OpusCodec({ decodeRate: MIC_RATE });
  /** The model's voice: encoded from its own rate when libopus takes it (24 kHz), else resampled to the next rate it takes; made with the first audio. */
  private out: { fromRate: number; codec: OpusCodec; resampler: Resampler | null; framer: Framer } | null = null;
  private readonly pacer: Pacer;
  private channel: RTCDataChannel | null = null;
  private model: VoiceBackendSession | null = null;
  private ended: string | null = null;
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | null = null;
  private tokens = 2 * MESSAGE_RATE;
  private tokensAt = Date.now();
  private floodWarned = false;
  /** With `onTiming`: (emitted, queued) of each packet in the pacer, in its order (a flat list from `timingHead` on). */
  private timingQueue: number[] = [];
  private timingHead = 0;
  readonly stats = { micPackets: 0, micBytes: 0, micBeforeSetup: 0, messagesIn: 0, messagesRefused: 0, messagesOut: 0, bargeInDroppedFrames: 0 };

  private constructor(
    private readonly opts: RtcSessionOptions,
    private readonly pc: RTCPeerConnection,
    private readonly transceiver: RTCRtpTransceiver,
  ) {
    this.pacer = new Pacer({ send: (p) => this.sendRtp(p.sequenceNumber, p.timestamp, p.marker, p.payload) });
  }

  get id(): string {
    return this.opts.id;
  }

  get sub(): string {
    return this.opts.sub;
  }

  /** Answers `offerSdp` (every candidate gathered first) and starts the session; BadOfferError for an offer it cannot take. */
  static async open(opts: RtcSessionOptions, offerSdp: string): Promise<{ session: RtcSession; answer: string }> {
    const pc = new RTCPeerConnection({
      ...opts.ice,
      codecs: { audio: [opusCodec()] },
      // Advertised a little above the parser's bound, so a client sending slightly too much hears why
      // (error: message too large) instead of having its message refused by its own stack.
      maxMessageSize: VOICE_CHANNEL_LIMITS.messageBytes + 64 * 1024,
    });
    try {
      if (!/^m=application .*webrtc-datachannel/m.test(offerSdp)) throw new BadOfferError(`the offer has no data channel (the client must create "${VOICE_CHANNEL_LABEL}" before its offer)`);
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      } catch (err) {
        throw new BadOfferError(`the SDP offer was refused: ${(err as Error).message}`.slice(0, 300));
      }
      const audio = pc.getTransceivers().filter((t) => t.kind === 'audio');
      if (audio.length !== 1) throw new BadOfferError(`the offer must have exactly one audio track, it has ${audio.length}`);
      const transceiver = audio[0]!;
      transceiver.setDirection('sendrecv');
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (transceiver.sender.codec?.mimeType.toLowerCase() !== 'audio/opus') throw new BadOfferError('the offer\'s audio track does not offer Opus at 48 kHz');
      await gathered(pc);
      const session = new RtcSession(opts, pc, transceiver);
      session.start();
      return { session, answer: pc.localDescription!.sdp };
    } catch (err) {
      await pc.close().catch(() => {});
      throw err;
    }
  }

  private start(): void {
    // werift hands RTP to the track of its SSRC, which may appear only with the first packet: every track is heard.
    const tracks = new Set<MediaStreamTrack>();
    const attach = (track: MediaStreamTrack) => {
      if (tracks.has(track)) return;
      tracks.add(track);
      track.onReceiveRtp.subscribe((rtp) => this.onMicPacket(rtp.payload, rtp.header));
    };
    this.pc.onTrack.subscribe((track) => attach(track));
    this.transceiver.onTrack.subscribe((track) => attach(track));
    for (const track of this.transceiver.receiver.tracks) attach(track);
    this.pc.onDataChannel.subscribe((channel) => this.onChannel(channel));
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed' || state === 'closed') void this.end(`peer connection ${state}`);
    });
    this.armIdle();
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  private armIdle(): void {
    const left = this.lastActivity + this.opts.idleMs - Date.now();
    if (left <= 0) {
      void this.end(`idle for ${Math.round(this.opts.idleMs / 1000)} s`);
      return;
    }
    this.idleTimer = setTimeout(() => this.armIdle(), left);
    this.idleTimer.unref();
  }

  private onMicPacket(payload: Buffer, header: RtpHeader): void {
    if (this.ended) return;
    const received = this.opts.onTiming ? performance.now() : 0;
    this.touch();
    this.stats.micPackets++;
    this.stats.micBytes += payload.length;
    const pcm = this.mic.decode(payload);
    if (!this.model) {
      // Before session.setup there is no model to hear it; the client starts talking after session.ready anyway.
      this.stats.micBeforeSetup++;
      return;
    }
    const handed = this.opts.onTiming ? performance.now() : 0;
    this.model.sendAudio(pcm);
    this.opts.onTiming?.({ kind: 'mic', ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, received, handed });
  }

  private onChannel(channel: RTCDataChannel): void {
    if (channel.label !== VOICE_CHANNEL_LABEL || this.channel) {
      channel.close();
      return;
    }
    this.channel = channel;
    channel.onMessage.subscribe((data) => this.onMessage(data));
    channel.stateChanged.subscribe((state) => {
      if (state === 'closed') void this.end('data channel closed');
    });
  }

  /** A token bucket: MESSAGE_RATE a second, bursts of twice that. */
  private admit(): boolean {
    const now = Date.now();
    this.tokens = Math.min(2 * MESSAGE_RATE, this.tokens + ((now - this.tokensAt) / 1000) * MESSAGE_RATE);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    this.floodWarned = false;
    return true;
  }

  private onMessage(data: string | Buffer): void {
    if (this.ended) return;
    this.touch();
    this.stats.messagesIn++;
    if (!this.admit()) {
      this.stats.messagesRefused++;
      if (!this.floodWarned) this.send({ type: 'error', message: `too many messages: at most ${MESSAGE_RATE} a second; messages were dropped`, recoverable: true });
      this.floodWarned = true;
      return;
    }
    const parsed = parseVoiceClientMessage(typeof data === 'string' ? data : new Uint8Array(data));
    if (!parsed.ok) {
      this.stats.messagesRefused++;
      this.send({ type: 'error', message: parsed.error, recoverable: true });
      return;
    }
    this.handle(parsed.message);
  }

  private handle(msg: VoiceClientMessage): void {
    if (msg.type === 'session.close') {
      void this.end('closed by the client');
      return;
    }
    if (msg.type === 'session.setup') {
      if (this.model) {
        this.send({ type: 'error', message: 'session.setup was already sent; open a new session to change it', recoverable: true });
        return;
      }
      this.model = this.opts.backend.open(
        { voice: msg.voice, tools: msg.tools, context: msg.context, systemInstruction: GATEWAY_INSTRUCTION },
        (event) => this.onModelEvent(event),
      );
      this.opts.logger.info({ session: this.id, backend: this.opts.backend.name, tools: msg.tools.length, contextChars: msg.context.length }, 'voice session set up');
      return;
    }
    const model = this.model;
    if (!model) {
      this.send({ type: 'error', message: `send session.setup first (got ${msg.type})`, recoverable: true });
      return;
    }
    switch (msg.type) {
      case 'context.update':
        model.updateContext(msg.context);
        break;
      case 'tool.result':
        model.sendToolResult({ id: msg.id, name: msg.name, result: msg.result });
        break;
      case 'turn.cancel':
        model.cancelTurn(msg.reason);
        break;
    }
  }

  private onModelEvent(event: VoiceBackendEvent): void {
    if (this.ended) return;
    this.touch();
    switch (event.type) {
      case 'audio':
        this.onModelAudio(event.pcm, event.sampleRate);
        return;
      case 'interrupted':
        // Barge-in: nothing already queued of the cut reply may play, so it all goes before the client hears of it.
        this.stats.bargeInDroppedFrames += this.pacer.clear();
        this.clearTiming();
        if (this.out) {
          this.out.framer.clear();
          if (this.out.resampler) this.out.resampler = new Resampler(this.out.resampler.fromRate, this.out.resampler.toRate);
        }
        break;
      case 'transcript':
        this.opts.logger.debug({ session: this.id, speaker: event.speaker, text: event.text }, 'voice transcript');
        break;
      case 'closed':
        void this.end(`model session closed: ${event.reason}`);
        return;
    }
    const msg = toGatewayMessage(event);
    if (msg) this.send(msg);
  }

  private onModelAudio(pcm: Int16Array, rate: number): void {
    const emitted = this.opts.onTiming ? performance.now() : 0;
    const out = this.out?.fromRate === rate ? this.out : this.outFor(rate);
    for (const frame of out.framer.push(out.resampler ? out.resampler.process(pcm) : pcm)) {
      const packet = out.codec.encode(frame);
      if (!this.opts.onTiming) {
        this.pacer.push(packet);
        continue;
      }
      // Queued before the push: the pacer may send the packet before push returns.
      this.timingQueue.push(emitted, performance.now());
      if (!this.pacer.push(packet)) this.timingQueue.length -= 2;
    }
  }

  /** The encoder for model audio at `rate` (a model may change its rate; then what was framed of the old one is dropped). */
  private outFor(rate: number): NonNullable<RtcSession['out']> {
    this.out?.codec.close();
    const encodeRate = opusPcmRate(rate);
    const codec = new OpusCodec({ encodeRate });
    this.out = { fromRate: rate, codec, resampler: encodeRate === rate ? null : new Resampler(rate, encodeRate), framer: new Framer(codec.frameSamples) };
    return this.out;
  }

  private clearTiming(): void {
    this.timingQueue = [];
    this.timingHead = 0;
  }

  private sendRtp(sequenceNumber: number, timestamp: number, marker: boolean, payload: Uint8Array): void {
    const released = this.opts.onTiming ? performance.now() : 0;
    const sender = this.transceiver.sender;
    const header = new RtpHeader({ sequenceNumber, timestamp, marker, payloadType: sender.codec?.payloadType ?? 111, ssrc: sender.ssrc });
    sender.sendRtp(new RtpPacket(header, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength))).catch(() => {
      // A packet the transport cannot take now is lost like any UDP packet; the next one follows in 20 ms.
    });
    const onTiming = this.opts.onTiming;
    if (!onTiming) return;
    const emitted = this.timingQueue[this.timingHead]!;
    const queued = this.timingQueue[this.timingHead + 1]!;
    this.timingHead += 2;
    if (this.timingHead === this.timingQueue.length) this.clearTiming();
    else if (this.timingHead >= 4096) {
      // A queue that never empties (a long reply): drop what was read rather than grow.
      this.timingQueue = this.timingQueue.slice(this.timingHead);
      this.timingHead = 0;
    }
    onTiming({ kind: 'assistant', ssrc: sender.ssrc, sequenceNumber, emitted, queued, released });
  }

  private send(msg: VoiceGatewayMessage): void {
    const channel = this.channel;
    if (!channel || channel.readyState !== 'open') return;
    try {
      channel.send(JSON.stringify(msg));
      this.stats.messagesOut++;
    } catch {
      // The channel is closing; its close ends the session.
    }
  }

  /** Ends the session (idempotent): model, peer connection, timers; logs what it carried, never what was said. */
  async end(reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = reason;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.pacer.close();
    this.clearTiming();
    const model = this.model;
    this.model = null;
    const modelStats = model?.stats();
    // Logged before the connections close, so the line is there by the time the client sees the end.
    this.opts.logger.info(
      {
        session: this.id,
        sub: this.sub,
        reason,
        durationMs: Date.now() - this.startedAt,
        ...this.stats,
        assistantFramesSent: this.pacer.stats.sent,
        assistantFramesOverflow: this.pacer.stats.overflow,
        decoded: this.mic.stats.decoded,
        concealed: this.mic.stats.concealed + this.mic.stats.invalid,
        ...(modelStats ? { modelSentBytes: modelStats.sentAudioBytes, modelReceivedBytes: modelStats.receivedAudioBytes, modelDroppedBytes: modelStats.droppedAudioBytes } : {}),
      },
      'voice session ended',
    );
    this.opts.onEnd(this, reason);
    await model?.close().catch(() => {});
    await this.pc.close().catch(() => {});
    this.mic.close();
    this.out?.codec.close();
  }
}

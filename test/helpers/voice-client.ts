// A WebRTC voice client for tests and benchmarks, on werift: offers an Opus track and the `voice-gateway` data channel, sends speech paced in real time, decodes what comes back.
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type MediaStreamTrack, type RTCDataChannel, type RTCRtpTransceiver } from 'werift';
import { parseVoiceGatewayMessage, type VoiceGatewayMessage } from '../../src/api/index.js';
import { Framer, OPUS_FRAME_MS, OPUS_FRAME_SAMPLES, OpusCodec, rms } from '../../src/voice/index.js';

/** What the client saw, in arrival order: a decoded RTP frame of the assistant's voice (its RMS relative to full scale, 0–1), or a data channel message. */
export type VoiceClientEvent =
  | { kind: 'frame'; at: number; seq: number; rms: number }
  | { kind: 'message'; at: number; message: VoiceGatewayMessage };

export interface VoiceClientOptions {
  /** The gateway's base URL (`gatewayUrl` of GET /api/v1/voice/token). */
  gatewayUrl: string;
  /** The voice token; null sends no Authorization header. */
  token: string | null;
  /** Extra request headers for the offer (a cookie, an Origin). */
  headers?: Record<string, string>;
  /** Milliseconds to wait for the data channel to open. */
  timeoutMs?: number;
}

/** The gateway refused the offer: its status and error envelope. */
export class OfferRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: { code?: string; message?: string } },
  ) {
    super(`offer refused: ${status} ${JSON.stringify(body)}`);
  }
}

/** Loopback only: tests never announce or reach another address (Docker's bridges included). */
const LOOPBACK = {
  iceServers: [],
  iceUseIpv4: false,
  iceUseIpv6: false,
  iceAdditionalHostAddresses: ['127.0.0.1'],
  iceInterfaceAddresses: { udp4: '127.0.0.1' },
  bundlePolicy: 'max-bundle' as const,
};

async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        unSubscribe();
        resolve();
      }
    });
  });
}

/** An offer of one sendrecv Opus track and the `voice-gateway` channel, candidates gathered (what a browser sends, too). */
export async function makeOffer(): Promise<{ pc: RTCPeerConnection; transceiver: RTCRtpTransceiver; channel: RTCDataChannel; sdp: string }> {
  const pc = new RTCPeerConnection({
    ...LOOPBACK,
    codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2, payloadType: 111 })] },
  });
  const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
  const channel = pc.createDataChannel('voice-gateway');
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  return { pc, transceiver, channel, sdp: pc.localDescription!.sdp };
}

/** POST <gatewayUrl>/api/v1/voice/rtc/offer, as a client does. */
export async function postOffer(gatewayUrl: string, token: string | null, sdp: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gatewayUrl}/api/v1/voice/rtc/offer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ type: 'offer', sdp }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** POST <gatewayUrl>/api/v1/voice/rtc/{id}/close. */
export async function postClose(gatewayUrl: string, token: string | null, sessionId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gatewayUrl}/api/v1/voice/rtc/${encodeURIComponent(sessionId)}/close`, {
    method: 'POST',
    headers: token !== null ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * One voice session seen from the client: `connect` offers, opens the data channel; `setup` sends
 * session.setup and waits for session.ready; `speak` sends 48 kHz PCM as 20 ms Opus frames in real
 * time; every received frame is decoded and its RMS kept in `events`, with the messages, in order.
 */
export class VoiceTestClient {
  readonly events: VoiceClientEvent[] = [];
  /** Messages that did not parse as gateway messages (a test fails on any). */
  readonly junk: string[] = [];
  private readonly decoder = new OpusCodec();
  private readonly encoder = new OpusCodec();
  private waiters: (() => void)[] = [];
  private seq = 1000;
  private timestamp = 0;
  /** Set when the peer connection or the channel closed. */
  closedBy: string | null = null;

  private constructor(
    readonly sessionId: string,
    readonly gatewayUrl: string,
    readonly token: string | null,
    private readonly pc: RTCPeerConnection,
    private readonly transceiver: RTCRtpTransceiver,
    private readonly channel: RTCDataChannel,
  ) {}

  static async connect(opts: VoiceClientOptions): Promise<VoiceTestClient> {
    const { pc, transceiver, channel, sdp } = await makeOffer();
    const answer = await postOffer(opts.gatewayUrl, opts.token, sdp, opts.headers);
    if (answer.status !== 200) {
      await pc.close();
      throw new OfferRefused(answer.status, answer.body);
    }
    const client = new VoiceTestClient(answer.body.sessionId as string, opts.gatewayUrl, opts.token, pc, transceiver, channel);
    client.listen();
    client.listenToTrack();
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.body.sdp as string });
    client.attachExisting();
    await client.until(() => channel.readyState === 'open', 'the data channel to open', opts.timeoutMs ?? 10_000);
    return client;
  }

  /**
   * werift hands RTP to the track of its SSRC, which may appear only with the first packet (its
   * receiver's `track` is a placeholder until then): every track of the receiver is listened to.
   */
  private listenToTrack(): void {
    const seen = new Set<MediaStreamTrack>();
    const attach = (track: MediaStreamTrack) => {
      if (seen.has(track)) return;
      seen.add(track);
      track.onReceiveRtp.subscribe((rtp) => {
        const pcm = this.decoder.decode(rtp.payload);
        this.push({ kind: 'frame', at: performance.now(), seq: rtp.header.sequenceNumber, rms: rms(pcm) });
      });
    };
    this.pc.onTrack.subscribe((track) => attach(track));
    this.transceiver.onTrack.subscribe((track) => attach(track));
    this.attachExisting = () => this.transceiver.receiver.tracks.forEach(attach);
  }

  private attachExisting = () => {};

  private listen(): void {
    this.channel.onMessage.subscribe((data) => {
      const text = typeof data === 'string' ? data : data.toString('utf8');
      const parsed = parseVoiceGatewayMessage(text);
      if (parsed.ok) this.push({ kind: 'message', at: performance.now(), message: parsed.message });
      else this.junk.push(text);
    });
    this.channel.stateChanged.subscribe((s) => {
      if (s === 'closed') this.markClosed('data channel closed');
      else this.notify();
    });
    this.pc.connectionStateChange.subscribe((s) => {
      if (s === 'failed' || s === 'closed') this.markClosed(`peer connection ${s}`);
    });
  }

  private markClosed(why: string): void {
    this.closedBy ??= why;
    this.notify();
  }

  private push(event: VoiceClientEvent): void {
    this.events.push(event);
    this.notify();
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until `check` holds (looked at on every event), or throws naming `what` after `timeoutMs`. */
  async until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (check()) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`voice client: no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  get messages(): VoiceGatewayMessage[] {
    return this.events.flatMap((e) => (e.kind === 'message' ? [e.message] : []));
  }

  get frames(): Extract<VoiceClientEvent, { kind: 'frame' }>[] {
    return this.events.filter((e): e is Extract<VoiceClientEvent, { kind: 'frame' }> => e.kind === 'frame');
  }

  /** The first message of `type` (after index `from` of `events`) that passes `pred`, waiting for it. */
  async message<T extends VoiceGatewayMessage['type']>(
    type: T,
    pred: (m: Extract<VoiceGatewayMessage, { type: T }>) => boolean = () => true,
    timeoutMs = 10_000,
    from = 0,
  ): Promise<Extract<VoiceGatewayMessage, { type: T }>> {
    let found: Extract<VoiceGatewayMessage, { type: T }> | undefined;
    await this.until(() => {
      found = this.events.slice(from).flatMap((e) => (e.kind === 'message' && e.message.type === type && pred(e.message as never) ? [e.message as never] : []))[0];
      return found !== undefined;
    }, `${type} message`, timeoutMs);
    return found!;
  }

  /** Sends one message on the data channel (an object as JSON, a string as is: tests send junk too). */
  send(message: object | string): void {
    this.channel.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** session.setup, then waits for session.ready. */
  async setup(setup: { tools?: unknown[]; context?: string; voice?: object } = {}): Promise<void> {
    const at = this.events.length;
    this.send({ type: 'session.setup', tools: setup.tools ?? [], context: setup.context ?? '', ...(setup.voice ? { voice: setup.voice } : {}) });
    await this.message('session.ready', () => true, 10_000, at);
  }

  /**
   * Sends 48 kHz mono PCM as the microphone would: 20 ms Opus frames, one every 20 ms (drift-free
   * schedule), the last padded with silence. Resolves when the last frame is sent.
   */
  async speak(pcm48k: Int16Array): Promise<void> {
    const framer = new Framer(OPUS_FRAME_SAMPLES);
    const frames = framer.push(pcm48k);
    const last = framer.flush();
    if (last) frames.push(last);
    const start = performance.now();
    for (let i = 0; i < frames.length; i++) {
      const due = start + i * OPUS_FRAME_MS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.closedBy) return;
      const header = new RtpHeader({ payloadType: 111, sequenceNumber: this.seq, timestamp: this.timestamp, marker: i === 0, ssrc: this.transceiver.sender.ssrc });
      this.seq = (this.seq + 1) & 0xffff;
      this.timestamp = (this.timestamp + OPUS_FRAME_SAMPLES) >>> 0;
      await this.transceiver.sender.sendRtp(new RtpPacket(header, Buffer.from(this.encoder.encode(frames[i]!))));
    }
  }

  /** Waits until the gateway ends the session (the peer connection or channel closes). */
  async closed(timeoutMs = 10_000): Promise<string> {
    await this.until(() => this.closedBy !== null, 'end of the session', timeoutMs);
    return this.closedBy!;
  }

  /** Ends the session as a well-behaved client does: POST …/close (so the gateway frees it at once), then the peer connection. */
  async close(): Promise<void> {
    if (this.closedBy === null) await postClose(this.gatewayUrl, this.token, this.sessionId).catch(() => {});
    this.markClosed('closed by the test');
    await this.pc.close().catch(() => {});
    this.decoder.close();
    this.encoder.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Milliseconds of `ms` of silence at 48 kHz. */
export function silence48k(ms: number): Int16Array {
  return new Int16Array((48_000 * ms) / 1000);
}

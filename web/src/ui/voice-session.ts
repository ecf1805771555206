// One voice session in the browser: token, microphone, WebRTC offer to the gateway, the `voice-gateway` data channel, tool calls run with the page's session, and a clean stop.
import { routes } from '../../../src/api/routes.js';
import { parseVoiceGatewayMessage } from '../../../src/api/voice-channel.js';
import type { VoiceClientMessage, VoiceRtcOfferResp, VoiceToolInfo } from '../../../src/api/index.js';
import { ApiError } from '../lib/api';
import { gatewayError, runToolCall, voiceLanguage, type VoiceEvent } from '../lib/voice';
import { api } from './client';

export interface VoiceSessionOptions {
  /** Every state change (gateway messages and the client's own). */
  onEvent(e: VoiceEvent): void;
  /** The context text for session.setup, read when the channel opens. */
  context(): string;
  /** Plays the assistant's voice. */
  audio: HTMLAudioElement;
}

export interface VoiceSession {
  /** Cuts the assistant's reply short (turn.cancel). */
  cancelTurn(): void;
  /** Tells the model something changed (context.update). */
  update(context: string): void;
  /** Ends the session: session.close, the gateway's close route, the peer connection and the microphone. */
  stop(): Promise<void>;
}

/** How long ICE gathering may take before the offer goes with the candidates found so far. */
const ICE_GATHER_MS = 5_000;

function waitIceGathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, ICE_GATHER_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** Words for a getUserMedia refusal. */
function micError(err: unknown): string {
  const name = (err as { name?: string } | null)?.name ?? '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'Microphone access was denied: allow the microphone for this site in the browser’s settings, then try again.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No microphone was found on this device.';
  if (name === 'NotReadableError') return 'The microphone is in use by another application.';
  return `The microphone could not be opened: ${err instanceof Error ? err.message : String(err)}`;
}

const trimSlash = (u: string) => u.replace(/\/+$/, '');

/** How long the received audio stays muted after a barge-in when no new reply says it starts. */
const BARGE_IN_MUTE_MS = 1_500;

/**
 * Opens a session; rejects with a message a person can act on (voice off and why, the microphone
 * refused, the gateway refusing or not answering). Everything opened so far is closed on failure.
 */
export async function openVoiceSession(opts: VoiceSessionOptions): Promise<VoiceSession> {
  opts.onEvent({ type: 'local.connecting' });
  let token: { token: string; gatewayUrl: string };
  let tools: VoiceToolInfo[];
  try {
    [token, { tools }] = await Promise.all([api('voiceToken'), api('voiceTools')]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) throw new Error(`Voice is off: ${err.message}`, { cause: err });
    throw new Error(`No voice session: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('This browser offers the microphone only to secure pages: open caic over https:// (or on localhost).');
  let mic: MediaStream;
  try {
    mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    throw new Error(micError(err), { cause: err });
  }
  const gateway = trimSlash(token.gatewayUrl);
  const pc = new RTCPeerConnection();
  const channel = pc.createDataChannel('voice-gateway');
  let sessionId = '';
  let stopped = false;
  const send = (m: VoiceClientMessage) => {
    if (channel.readyState === 'open') channel.send(JSON.stringify(m));
  };
  // Barge-in: the cut reply's audio already at the page is not played. A jitter buffer that grew
  // under load holds up to a second of it, which the gateway's cut cannot reach; so the received
  // audio is muted at `interrupted` until the next reply starts (speech.started from the assistant),
  // or BARGE_IN_MUTE_MS later should none come.
  let unmuteTimer: ReturnType<typeof setTimeout> | undefined;
  const playback = (on: boolean) => {
    clearTimeout(unmuteTimer);
    for (const r of pc.getReceivers()) if (r.track.kind === 'audio') r.track.enabled = on;
    if (!on) unmuteTimer = setTimeout(() => playback(true), BARGE_IN_MUTE_MS);
  };
  const release = () => {
    clearTimeout(unmuteTimer);
    for (const t of mic.getTracks()) t.stop();
    opts.audio.pause();
    opts.audio.srcObject = null;
    pc.close();
  };
  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    send({ type: 'session.close' });
    const close = sessionId
      ? fetch(`${gateway}${routes.voiceRtcClose.path.replace(':sessionId', encodeURIComponent(sessionId))}`, {
          method: 'POST',
          credentials: 'omit',
          headers: { authorization: `Bearer ${token.token}` },
        }).catch(() => undefined)
      : undefined;
    release();
    await close;
    opts.onEvent({ type: 'local.closed' });
  }
  try {
    for (const track of mic.getAudioTracks()) pc.addTransceiver(track, { direction: 'sendrecv', streams: [mic] });
    pc.addEventListener('track', (e) => {
      opts.audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      void opts.audio.play().catch(() => opts.onEvent({ type: 'local.notice', text: 'The browser did not start the assistant’s audio: tap the page once.' }));
    });
    pc.addEventListener('connectionstatechange', () => {
      if (stopped) return;
      if (pc.connectionState === 'failed') {
        opts.onEvent({ type: 'local.error', message: 'The audio connection to the voice gateway failed: its UDP port may be blocked between here and the gateway (see docs/voice.md).' });
        void stop();
      }
    });
    channel.addEventListener('open', () => {
      send({ type: 'session.setup', voice: { name: '', language: voiceLanguage(navigator.language) }, tools, context: opts.context() });
    });
    channel.addEventListener('message', (e: MessageEvent) => {
      if (typeof e.data !== 'string') return;
      const parsed = parseVoiceGatewayMessage(e.data);
      if (!parsed.ok) return opts.onEvent({ type: 'local.notice', text: `Ignored a message from the gateway: ${parsed.error}` });
      const m = parsed.message;
      if (m.type === 'interrupted') playback(false);
      else if (m.type === 'speech.started' && m.speaker === 'assistant') playback(true);
      opts.onEvent(m);
      if (m.type === 'tool.call') {
        void runToolCall(api, m).then((run) => {
          if (stopped) return;
          send(run.message);
          opts.onEvent({ type: 'local.tool.done', id: m.id, ok: run.ok, text: run.text });
        });
      }
    });
    channel.addEventListener('close', () => {
      if (!stopped) {
        opts.onEvent({ type: 'local.notice', text: 'The voice gateway closed the session.' });
        void stop();
      }
    });
    await pc.setLocalDescription(await pc.createOffer());
    await waitIceGathered(pc);
    let res: Response;
    try {
      res = await fetch(`${gateway}${routes.voiceRtcOffer.path}`, {
        method: 'POST',
        // The token is the only credential: a caic cookie never goes to a gateway.
        credentials: 'omit',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token.token}` },
        body: JSON.stringify({ type: 'offer', sdp: pc.localDescription?.sdp ?? '' }),
      });
    } catch (err) {
      throw new Error(`The voice gateway at ${gateway} does not answer: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const body = await res.text();
    if (!res.ok) throw new Error(`The voice gateway refused the session: ${gatewayError(res.status, body)}`);
    let answer: VoiceRtcOfferResp;
    try {
      answer = JSON.parse(body) as VoiceRtcOfferResp;
    } catch {
      throw new Error('The voice gateway answered something that is not an SDP answer.');
    }
    if (answer.type !== 'answer' || typeof answer.sdp !== 'string' || typeof answer.sessionId !== 'string') throw new Error('The voice gateway answered something that is not an SDP answer.');
    sessionId = answer.sessionId;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  } catch (err) {
    stopped = true;
    release();
    throw err;
  }

  return {
    cancelTurn: () => send({ type: 'turn.cancel', reason: 'the user pressed Cancel reply' }),
    update: (context) => send({ type: 'context.update', context }),
    stop,
  };
}

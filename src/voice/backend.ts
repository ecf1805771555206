// The seam between the voice gateway and a speech model: what the gateway drives per session and the events it gets back, whatever the model.
import type { VoiceGatewayMessage, VoiceSettings, VoiceSpeaker, VoiceTool } from '../api/index.js';

/** What a session starts with: the client's `session.setup` plus the gateway's own instruction. */
export interface VoiceSessionSetup {
  voice: VoiceSettings;
  /** The client's tools (JSON Schema parameters); the backend converts them to its model's form. */
  tools: VoiceTool[];
  /** The client's context (its task list, say), given to the model with the instruction. */
  context: string;
  /** The gateway's system instruction (how to speak, that tools run on the client). */
  systemInstruction: string;
}

export interface VoiceToolResult {
  /** The id of the `toolCall` event this answers. */
  id: string;
  name: string;
  /** Any JSON value; the backend wraps a non-object as the model's API requires. */
  result: unknown;
}

/**
 * Events a session sends to the gateway, in order. What the gateway must do with each:
 *
 * - `ready`: the model accepted the setup; send `session.ready` to the client. Audio sent before
 *   it is held by the backend (a bounded amount), so the gateway need not wait for it.
 * - `audio`: assistant speech, mono 16-bit PCM at `sampleRate` (Gemini: 24 kHz). Resample and
 *   encode it into the outgoing Opus track, paced in real time (models send faster than real time).
 * - `transcript`: a piece of what the user said or the assistant is saying; forward as
 *   `transcript.delta`. Log it only at debug level.
 * - `assistantText`: text the model wrote besides its speech; forward as `assistant.text.delta`.
 * - `speech`: someone started or stopped speaking; forward as `speech.started` / `speech.ended`.
 * - `toolCall`: forward as `tool.call`; the client runs it and answers with `tool.result`, which
 *   goes back through `sendToolResult`. The gateway never runs tools itself.
 * - `interrupted`: the model's current reply is cut off (the user spoke over it, or after
 *   `cancelTurn`). Drop every queued assistant audio frame **at once** (no fade), then forward
 *   `interrupted`. Audio of the cut-off reply that still arrives is not sent by the backend.
 * - `error`: forward as `error`. `recoverable: false` is always followed by `closed`.
 * - `closed`: the session is over (the model hung up, an unrecoverable error, or `close()`); no
 *   event follows. End the WebRTC session or offer the client a new one.
 */
export type VoiceBackendEvent =
  | { type: 'ready' }
  | { type: 'audio'; pcm: Int16Array; sampleRate: number }
  | { type: 'transcript'; speaker: VoiceSpeaker; text: string }
  | { type: 'assistantText'; text: string }
  | { type: 'speech'; phase: 'started' | 'ended'; speaker: VoiceSpeaker }
  | { type: 'toolCall'; id: string; name: string; args: Record<string, unknown> }
  | { type: 'interrupted'; source: 'user' | 'client' }
  | { type: 'error'; message: string; recoverable: boolean }
  | { type: 'closed'; reason: string };

export type VoiceBackendListener = (event: VoiceBackendEvent) => void;

export interface VoiceBackendStats {
  /** Microphone PCM handed to the model. */
  sentAudioBytes: number;
  /** Microphone PCM dropped: the model was not ready yet, or its connection could not keep up. */
  droppedAudioBytes: number;
  /** Assistant PCM received. */
  receivedAudioBytes: number;
  /** Bytes held for the model right now (a bounded amount). */
  queuedBytes: number;
}

/** One conversation with the model. Every method returns at once and never throws. */
export interface VoiceBackendSession {
  /** Microphone audio: mono 16-bit PCM at 16 kHz, in chunks of any length (20 ms frames are fine). */
  sendAudio(pcm16k: Int16Array): void;
  sendToolResult(result: VoiceToolResult): void;
  /** Replaces what the model knows of the client's state (a task started asking, say). */
  updateContext(context: string): void;
  /** Stops the assistant's current reply (the client's `turn.cancel`). */
  cancelTurn(reason: string): void;
  /** Byte counts for logs and tests (never audio itself). */
  stats(): VoiceBackendStats;
  /** Ends the session; resolves once the connection is closed and `closed` was sent. */
  close(): Promise<void>;
}

/** A model connector; the gateway holds one per process and opens one session per client. */
export interface VoiceBackend {
  readonly name: string;
  /** Opens a session; problems (refused key, unreachable model) arrive as `error` then `closed`. */
  open(setup: VoiceSessionSetup, listener: VoiceBackendListener): VoiceBackendSession;
}

/**
 * The data channel message for a backend event, or null for the two that are not messages:
 * `audio` (it goes on the RTP track) and `closed` (the gateway ends the session).
 */
export function toGatewayMessage(event: VoiceBackendEvent): VoiceGatewayMessage | null {
  switch (event.type) {
    case 'ready':
      return { type: 'session.ready' };
    case 'transcript':
      return { type: 'transcript.delta', speaker: event.speaker, text: event.text };
    case 'assistantText':
      return { type: 'assistant.text.delta', text: event.text };
    case 'speech':
      return { type: event.phase === 'started' ? 'speech.started' : 'speech.ended', speaker: event.speaker };
    case 'toolCall':
      return { type: 'tool.call', id: event.id, name: event.name, args: event.args };
    case 'interrupted':
      return { type: 'interrupted', source: event.source };
    case 'error':
      return { type: 'error', message: event.message, recoverable: event.recoverable };
    case 'audio':
    case 'closed':
      return null;
  }
}

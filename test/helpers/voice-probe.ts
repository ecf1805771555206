// A voice backend session under test: its events in order, and waits on them with deadlines.
import type { VoiceBackend, VoiceBackendEvent, VoiceBackendSession, VoiceSessionSetup } from '../../src/voice/index.js';

export class BackendProbe {
  readonly events: VoiceBackendEvent[] = [];
  readonly session: VoiceBackendSession;
  private waiters: (() => void)[] = [];

  constructor(backend: VoiceBackend, setup: VoiceSessionSetup) {
    this.session = backend.open(setup, (e) => {
      this.events.push(e);
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  }

  of<T extends VoiceBackendEvent['type']>(type: T): Extract<VoiceBackendEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<VoiceBackendEvent, { type: T }> => e.type === type);
  }

  async until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw ${this.events.map((e) => e.type).join(',')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the n-th event of a type (counting from 1). */
  async nth<T extends VoiceBackendEvent['type']>(type: T, n = 1): Promise<Extract<VoiceBackendEvent, { type: T }>> {
    await this.until(() => this.of(type).length >= n, `${n} ${type} event(s)`);
    return this.of(type)[n - 1]!;
  }

  /** The events but audio, as short labels ("started:user", "user:hello", "text:…", "toolCall"). */
  labels(): string[] {
    return this.events
      .filter((e) => e.type !== 'audio')
      .map((e) =>
        e.type === 'speech' ? `${e.phase}:${e.speaker}` : e.type === 'transcript' ? `${e.speaker}:${e.text}` : e.type === 'assistantText' ? `text:${e.text}` : e.type === 'interrupted' ? `interrupted:${e.source}` : e.type,
      );
  }
}

/** Sends PCM as 20 ms frames (320 samples at 16 kHz), as the gateway's decoder yields them. */
export function sendFrames(session: VoiceBackendSession, pcm: Int16Array): void {
  for (let i = 0; i < pcm.length; i += 320) session.sendAudio(pcm.subarray(i, i + 320));
}

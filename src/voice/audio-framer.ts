// Cuts a stream of PCM chunks of any size (what a model sends) into frames of exactly one size
// (20 ms for Opus), keeping the remainder for the next chunk; flush pads the last one with silence.

export class Framer {
  readonly frameSamples: number;
  private pending: Int16Array;
  private filled = 0;

  constructor(frameSamples: number) {
    if (!Number.isInteger(frameSamples) || frameSamples < 1) throw new RangeError(`frame size must be a positive integer, got ${frameSamples}`);
    this.frameSamples = frameSamples;
    this.pending = new Int16Array(frameSamples);
  }

  /** Samples waiting for the next frame (always fewer than one frame). */
  get buffered(): number {
    return this.filled;
  }

  /** Adds a chunk; returns the frames it completed, in order (each a fresh array the caller may keep). */
  push(chunk: Int16Array): Int16Array[] {
    const size = this.frameSamples;
    const frames: Int16Array[] = [];
    let i = 0;
    if (this.filled > 0) {
      const take = Math.min(size - this.filled, chunk.length);
      this.pending.set(chunk.subarray(0, take), this.filled);
      this.filled += take;
      i = take;
      if (this.filled < size) return frames;
      frames.push(this.pending);
      this.pending = new Int16Array(size);
      this.filled = 0;
    }
    for (; i + size <= chunk.length; i += size) frames.push(chunk.slice(i, i + size));
    if (i < chunk.length) {
      this.pending.set(chunk.subarray(i), 0);
      this.filled = chunk.length - i;
    }
    return frames;
  }

  /** The remainder as one last frame padded with silence, or null when nothing is pending. */
  flush(): Int16Array | null {
    if (this.filled === 0) return null;
    const frame = this.pending;
    frame.fill(0, this.filled);
    this.pending = new Int16Array(this.frameSamples);
    this.filled = 0;
    return frame;
  }

  /** Drops what is pending (barge-in: the rest of the assistant's audio must not play). */
  clear(): void {
    this.filled = 0;
  }
}

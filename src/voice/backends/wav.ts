// WAV in memory for the local-stack backend: an utterance as a WAV body for a transcription request, and a streaming reader for the WAV a TTS engine writes (whose header may claim any length).

/** 16-bit mono PCM as a complete WAV file (44-byte header + samples). */
export function encodeWav(pcm: Int16Array, sampleRate: number): Buffer {
  const data = pcm.length * 2;
  const out = Buffer.alloc(44 + data);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + data, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(data, 40);
  for (let i = 0; i < pcm.length; i++) out.writeInt16LE(pcm[i]!, 44 + i * 2);
  return out;
}

/** The most header bytes (chunks before `data`) a WAV may have before it is refused. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * Reads a 16-bit mono PCM WAV as it streams in: `push` returns the samples each chunk completes
 * (none until the header is through). The `data` chunk's length is ignored, since a streaming
 * writer (espeak-ng, many TTS servers) cannot know it; the stream's end is the end. Throws on a
 * body that is not such a WAV.
 */
export class WavStreamReader {
  sampleRate = 0;
  private header: Buffer | null = Buffer.alloc(0);
  private carry: number | null = null;

  /** Whether the header is through (sampleRate is known). */
  get started(): boolean {
    return this.header === null;
  }

  push(chunk: Uint8Array): Int16Array {
    let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.header !== null) {
      this.header = Buffer.concat([this.header, bytes]);
      const at = this.parseHeader(this.header);
      if (at < 0) {
        if (this.header.length > MAX_HEADER_BYTES) throw new Error('the WAV header is too long');
        return new Int16Array(0);
      }
      bytes = this.header.subarray(at);
      this.header = null;
    }
    return this.samples(bytes);
  }

  private samples(bytes: Buffer): Int16Array {
    const carry = this.carry;
    const total = bytes.length + (carry === null ? 0 : 1);
    const out = new Int16Array(total >> 1);
    let i = 0;
    let o = 0;
    if (carry !== null && bytes.length > 0) {
      out[o++] = ((bytes[0]! << 8) | carry) << 16 >> 16;
      i = 1;
      this.carry = null;
    }
    for (; i + 1 < bytes.length; i += 2) out[o++] = bytes.readInt16LE(i);
    if (i < bytes.length) this.carry = bytes[i]!;
    return out.subarray(0, o);
  }

  /** The offset of the samples once the header is complete, -1 while more is needed. */
  private parseHeader(buf: Buffer): number {
    if (buf.length < 12) return -1;
    if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a WAV');
    let off = 12;
    while (off + 8 <= buf.length) {
      const id = buf.toString('ascii', off, off + 4);
      const size = buf.readUInt32LE(off + 4);
      const body = off + 8;
      if (id === 'data') {
        if (!this.sampleRate) throw new Error('WAV data before its format');
        return body;
      }
      if (body + size > buf.length) return -1;
      if (id === 'fmt ') {
        if (size < 16) throw new Error('WAV format chunk too short');
        const format = buf.readUInt16LE(body);
        const channels = buf.readUInt16LE(body + 2);
        const rate = buf.readUInt32LE(body + 4);
        const bits = buf.readUInt16LE(body + 14);
        if ((format !== 1 && format !== 0xfffe) || channels !== 1 || bits !== 16) throw new Error('the WAV is not 16-bit mono PCM');
        if (rate < 8_000 || rate > 48_000) throw new Error(`the WAV's sample rate ${rate} is out of range`);
        this.sampleRate = rate;
      }
      off = body + size + (size & 1);
    }
    return -1;
  }
}

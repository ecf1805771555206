// Raw HTTP/1.1 over a TCP socket for tests: malformed requests, bodies dripped byte by byte, and
// whether the server closed the connection, none of which node:http's client can do.
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: string;
}

export class RawConnection {
  private data = '';
  private ended = false;
  private readonly listeners = new Set<() => void>();
  private drip: NodeJS.Timeout | undefined;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.data += chunk;
      this.notify();
    });
    socket.on('close', () => {
      this.ended = true;
      clearInterval(this.drip);
      this.notify();
    });
    socket.on('error', () => {});
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  write(bytes: string): void {
    if (!this.socket.destroyed) this.socket.write(bytes, 'latin1');
  }

  /** Keeps sending one byte every `everyMs` until the connection closes (a client dripping a body). */
  dripBytes(everyMs = 50): void {
    this.drip = setInterval(() => this.write('x'), everyMs);
  }

  private notify(): void {
    for (const fn of [...this.listeners]) fn();
  }

  private until<T>(what: string, deadlineMs: number, value: () => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = value();
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (this.ended) {
          done();
          reject(new Error(`connection closed before ${what}; received: ${JSON.stringify(this.data.slice(0, 300))}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} within ${deadlineMs} ms; received: ${JSON.stringify(this.data.slice(0, 300))}`));
      }, deadlineMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The first complete answer (status line, headers, a Content-Length body). */
  answer(deadlineMs = 10_000): Promise<RawAnswer> {
    return this.until('complete answer', deadlineMs, () => parseAnswer(this.data));
  }

  /** Resolves when the server has closed the connection; rejects at the deadline. */
  waitClosed(deadlineMs = 10_000): Promise<void> {
    return this.until('close', deadlineMs, () => (this.ended ? true : undefined)).then(() => undefined, (err: Error) => {
      if (this.ended) return;
      throw err;
    });
  }

  close(): void {
    clearInterval(this.drip);
    this.socket.destroy();
  }
}

function parseAnswer(data: string): RawAnswer | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = data.slice(end + 4);
  if (Buffer.byteLength(body, 'latin1') < length) return undefined;
  return { status: Number(statusLine!.split(' ')[1]), headers, body: body.slice(0, length) };
}

/** One raw request on a fresh connection: its answer, and whether the server then closed the connection. */
export async function rawRequest(url: string, bytes: string, deadlineMs = 10_000): Promise<RawAnswer & { closedAfter: boolean }> {
  const conn = await RawConnection.open(url);
  try {
    conn.write(bytes);
    const answer = await conn.answer(deadlineMs);
    const closedAfter = answer.headers.connection?.toLowerCase() === 'close' ? (await conn.waitClosed(deadlineMs), true) : conn.closed;
    return { ...answer, closedAfter };
  } finally {
    conn.close();
  }
}

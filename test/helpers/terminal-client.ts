// A task terminal client for tests and the benchmark (the `ws` package speaking src/api/terminal.ts's protocol).
import WebSocket from 'ws';
import type { TerminalServerMessage } from '../../src/api/index.js';

export interface Terminal {
  ws: WebSocket;
  /** Everything the shell printed so far (decoded as UTF-8). */
  output(): string;
  messages: TerminalServerMessage[];
  /** Resolves with the close code and reason once the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  type(text: string): void;
  resize(cols: number, rows: number): void;
  /** Waits until the output (after `from` characters) matches; returns the match (for patterns shorter than 4 KiB). */
  waitFor(re: RegExp, what: string, timeoutMs?: number, from?: number): Promise<RegExpExecArray>;
  close(): void;
}

export type Opened = { ok: true; term: Terminal } | { ok: false; status: number; body: string };

/** `base` is the daemon's http:// URL; a refusal before the upgrade comes back with its status and body. */
export function openTerminal(base: string, taskId: string, headers: Record<string, string> = {}, size?: { cols: number; rows: number }): Promise<Opened> {
  const url = new URL(`/api/v1/tasks/${taskId}/terminal`, base.replace(/^http/, 'ws'));
  if (size) {
    url.searchParams.set('cols', String(size.cols));
    url.searchParams.set('rows', String(size.rows));
  }
  const ws = new WebSocket(url, { headers });
  // Output as pieces, joined on demand: slicing one string grown by concatenation flattens all of it.
  const pieces: string[] = [];
  let length = 0;
  let joined = '';
  const output = () => {
    if (joined.length !== length) {
      joined = pieces.join('');
      pieces.length = 0;
      pieces.push(joined);
    }
    return joined;
  };
  /** The output from character `start` on, reading only the pieces it spans. */
  const since = (start: number) => {
    let at = length;
    let i = pieces.length;
    while (i > 0 && at > start) at -= pieces[--i]!.length;
    return pieces.slice(i).join('').slice(start - at);
  };
  const decoder = new TextDecoder();
  const messages: TerminalServerMessage[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      const text = decoder.decode(data, { stream: true });
      pieces.push(text);
      length += text.length;
    }
    else messages.push(JSON.parse(data.toString()) as TerminalServerMessage);
    for (const l of listeners) l();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const term: Terminal = {
    ws,
    output,
    messages,
    closed,
    type: (text) => ws.send(Buffer.from(text), { binary: true }),
    resize: (cols, rows) => ws.send(JSON.stringify({ type: 'resize', cols, rows })),
    waitFor(re, what, timeoutMs = 15_000, from = 0) {
      return new Promise<RegExpExecArray>((resolve, reject) => {
        const tail = () => JSON.stringify(since(Math.max(0, length - 300)));
        // Only what is new (and a little before it, for a match across chunks) is searched again:
        // rescanning megabytes of output on every message would stall the process.
        let searched = from;
        const done = () => {
          listeners.delete(check);
          ws.off('close', check);
          clearTimeout(timer);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output ends with ${tail()}`));
        }, timeoutMs);
        const check = () => {
          const start = Math.max(from, searched - 4096);
          searched = length;
          const m = re.exec(since(start));
          if (m) {
            done();
            resolve(m);
          } else if (ws.readyState === ws.CLOSED) {
            done();
            reject(new Error(`the terminal closed before ${what}; output ends with ${tail()}`));
          }
        };
        listeners.add(check);
        ws.on('close', check);
        check();
      });
    },
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ok: true, term }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Opens a terminal that must open. */
export async function mustOpen(base: string, taskId: string, headers: Record<string, string> = {}, size?: { cols: number; rows: number }): Promise<Terminal> {
  const r = await openTerminal(base, taskId, headers, size);
  if (!r.ok) throw new Error(`the terminal was refused: ${r.status} ${r.body}`);
  return r.term;
}

// A task terminal client for tests and the benchmark (the `ws` package speaking src/api/terminal.ts's protocol).
import WebSocket from 'ws';
import type { TerminalServerMessage } from '../../src/api/index.js';
import { within } from './wait.js';

export interface Terminal {
  ws: WebSocket;
  /** Everything the shell printed so far (decoded as UTF-8). */
  output(): string;
  messages: TerminalServerMessage[];
  /** Resolves with the close code and reason once the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  type(text: string): void;
  resize(cols: number, rows: number): void;
  /** Waits until the output (after `from` characters) matches; returns the match. */
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
  let out = '';
  const decoder = new TextDecoder();
  const messages: TerminalServerMessage[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) out += decoder.decode(data, { stream: true });
    else messages.push(JSON.parse(data.toString()) as TerminalServerMessage);
    for (const l of listeners) l();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const term: Terminal = {
    ws,
    output: () => out,
    messages,
    closed,
    type: (text) => ws.send(Buffer.from(text), { binary: true }),
    resize: (cols, rows) => ws.send(JSON.stringify({ type: 'resize', cols, rows })),
    waitFor(re, what, timeoutMs = 15_000, from = 0) {
      return within(
        new Promise<RegExpExecArray>((resolve, reject) => {
          const check = () => {
            const m = re.exec(out.slice(from));
            if (m) {
              listeners.delete(check);
              resolve(m);
            } else if (ws.readyState === ws.CLOSED) {
              listeners.delete(check);
              reject(new Error(`the terminal closed before ${what}; output: ${JSON.stringify(out.slice(-300))}`));
            }
          };
          listeners.add(check);
          ws.once('close', check);
          check();
        }),
        timeoutMs,
        `${what} (output so far: ${JSON.stringify(out.slice(-300))})`,
      );
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

// The task terminal's client logic without the DOM: its URL, the connection with reconnect and backoff, and the extra keys' bytes.
import { TERMINAL_CLOSE, TERMINAL_FINAL_CLOSES, TerminalServerMessage } from '../../../src/api/terminal.js';
import { backoffMs } from './sse.js';

/** The part of a WebSocket the connection uses (the browser's, or Node's in tests). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** The terminal's WebSocket URL on the page's own origin (ws: under http:, wss: under https:). */
export function terminalUrl(origin: { protocol: string; host: string }, taskId: string, cols: number, rows: number): string {
  const scheme = origin.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${origin.host}/api/v1/tasks/${encodeURIComponent(taskId)}/terminal?cols=${cols}&rows=${rows}`;
}

export type TerminalEnd = 'exit' | 'idle' | 'task_ended' | 'refused' | 'closed';

export type TerminalState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'open' }
  | { kind: 'reconnecting'; attempt: number; inMs: number; why: string }
  | { kind: 'closed'; end: TerminalEnd; message: string };

/**
 * What a failed connection means, asked when a socket closed before it opened (a browser does not
 * show the HTTP status of a refused upgrade): a final refusal (signed out, no such task, task not
 * running, too many terminals) with its message, or null to try again (a network cut).
 */
export type Probe = () => Promise<{ message: string } | null>;

export interface ConnectionOptions {
  url: () => string;
  open: (url: string) => SocketLike;
  probe: Probe;
  onData: (bytes: Uint8Array) => void;
  onState: (state: TerminalState) => void;
  /** Called once a socket is open: the place to send the current size again. */
  onOpen?: () => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  random?: () => number;
}

const encoder = new TextEncoder();

/**
 * One terminal's connection: opens the socket, reconnects after a network cut with a growing
 * delay (each reconnect is a new shell: the old one ended with its socket), and stops for good
 * on a final close (exit, idle, the task's end) or a refusal.
 */
export class TerminalConnection {
  private socket: SocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private stopped = false;
  state: TerminalState = { kind: 'connecting', attempt: 0 };

  constructor(private readonly opts: ConnectionOptions) {
    this.connect();
  }

  private set(state: TerminalState): void {
    this.state = state;
    this.opts.onState(state);
  }

  private connect(): void {
    if (this.stopped) return;
    this.set({ kind: 'connecting', attempt: this.failures });
    let opened = false;
    let ws: SocketLike;
    try {
      ws = this.opts.open(this.opts.url());
    } catch (err) {
      this.finish('refused', `cannot open the terminal: ${(err as Error).message}`);
      return;
    }
    this.socket = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      opened = true;
      this.failures = 0;
      this.set({ kind: 'open' });
      this.opts.onOpen?.();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        const msg = TerminalServerMessage.safeParse(safeJson(ev.data));
        if (msg.success && msg.data.type === 'closing') this.closingMessage = msg.data.message;
        return;
      }
      if (ev.data instanceof ArrayBuffer) this.opts.onData(new Uint8Array(ev.data));
    };
    ws.onerror = () => undefined;
    ws.onclose = (ev) => {
      if (this.socket !== ws) return;
      this.socket = null;
      if (this.stopped) return;
      const final = finalClose(ev.code, this.closingMessage);
      this.closingMessage = '';
      if (final) return this.finish(final.end, final.message);
      if (opened) return this.retry(`connection lost (${ev.code})`);
      // Closed before it opened: refused, or unreachable? The plain GET of the same route says.
      void this.opts.probe().then(
        (refusal) => (refusal ? this.finish('refused', refusal.message) : this.retry('cannot reach the server')),
        () => this.retry('cannot reach the server'),
      );
    };
  }

  private closingMessage = '';

  private retry(why: string): void {
    if (this.stopped) return;
    const inMs = backoffMs(this.failures++, this.opts.minBackoffMs ?? 500, this.opts.maxBackoffMs ?? 10_000, this.opts.random ?? Math.random);
    this.set({ kind: 'reconnecting', attempt: this.failures, inMs, why });
    this.timer = setTimeout(() => this.connect(), inMs);
  }

  private finish(end: TerminalEnd, message: string): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.set({ kind: 'closed', end, message });
  }

  /** Keystrokes or pasted text (strings are sent as UTF-8); dropped while not connected. */
  send(data: string | Uint8Array): boolean {
    if (!this.socket || this.state.kind !== 'open') return false;
    this.socket.send(typeof data === 'string' ? encoder.encode(data) : data);
    return true;
  }

  resize(cols: number, rows: number): void {
    if (this.socket && this.state.kind === 'open') this.socket.send(JSON.stringify({ type: 'resize', cols, rows }));
  }

  /** Tries again at once (a person pressed Reconnect), also after a final close. */
  reconnectNow(): void {
    clearTimeout(this.timer);
    this.socket?.close();
    this.socket = null;
    this.stopped = false;
    this.failures = 0;
    this.connect();
  }

  close(): void {
    if (this.stopped) return;
    const ws = this.socket;
    this.finish('closed', 'closed');
    this.socket = null;
    ws?.close(1000, 'closed');
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

/** A close after which reconnecting would be wrong, with what to tell the person; null otherwise. */
export function finalClose(code: number, serverMessage = ''): { end: TerminalEnd; message: string } | null {
  if (!TERMINAL_FINAL_CLOSES.includes(code)) return null;
  if (code === TERMINAL_CLOSE.exit) return { end: 'exit', message: 'The shell exited.' };
  if (code === TERMINAL_CLOSE.idle) return { end: 'idle', message: `Closed after a while without input${serverMessage ? ` (${serverMessage})` : ''}.` };
  if (code === TERMINAL_CLOSE.taskEnded) return { end: 'task_ended', message: 'The task stopped: its container is gone.' };
  return { end: 'closed', message: serverMessage || `Closed by the server (${code}).` };
}

/** What the plain GET of the terminal route answers, as a refusal to show, or null (try again). */
export function refusalOf(status: number, message: string): { message: string } | null {
  if (status === 400 || status === 0 || status >= 500) return null;
  if (status === 401) return { message: 'Signed out: sign in again to open a terminal.' };
  if (status === 404) return { message: 'No such task.' };
  if (status === 409) return { message: message || 'The task is not running.' };
  if (status === 429) return { message: message || 'Too many terminals are open.' };
  return { message: message || `Refused (${status}).` };
}

/** The bytes an extra key sends; arrows follow the terminal's cursor-key mode (DECCKM). */
export function keyBytes(key: 'Escape' | 'Tab' | 'ArrowUp' | 'ArrowDown' | 'ArrowRight' | 'ArrowLeft', applicationCursor = false): string {
  const arrows = { ArrowUp: 'A', ArrowDown: 'B', ArrowRight: 'C', ArrowLeft: 'D' } as const;
  if (key === 'Escape') return '\x1b';
  if (key === 'Tab') return '\t';
  return `${applicationCursor ? '\x1bO' : '\x1b['}${arrows[key]}`;
}

/**
 * Typed input with the Ctrl key of the extra-keys row held: a letter (or @[\]^_ and space, ?)
 * becomes its control character (Ctrl+C = 0x03); anything else passes through unchanged.
 */
export function withCtrl(data: string): string {
  if (data.length !== 1) return data;
  const c = data.toUpperCase().charCodeAt(0);
  if (c >= 0x40 && c <= 0x5f) return String.fromCharCode(c - 0x40);
  if (data === ' ') return '\x00';
  if (data === '?') return '\x7f';
  return data;
}

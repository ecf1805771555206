// The task's Terminal tab: xterm.js on the task terminal WebSocket, with fit and web links, copy and paste, reconnect, and an extra-keys row for phones.
import { useEffect, useRef, useState } from 'react';
import { Terminal as XTerm } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import '@xterm/xterm/css/xterm.css';
import './terminal.css';
import { keyBytes, refusalOf, TerminalConnection, terminalUrl, withCtrl, type SocketLike, type TerminalState } from '../lib/terminal';

const THEME = {
  background: '#101318',
  foreground: '#e6e8eb',
  cursor: '#e6e8eb',
  selectionBackground: '#3a4a66',
};

const ARROWS = [
  ['ArrowLeft', '←', 'Left'],
  ['ArrowUp', '↑', 'Up'],
  ['ArrowDown', '↓', 'Down'],
  ['ArrowRight', '→', 'Right'],
] as const;

/** What the status line says for a state. */
function describe(state: TerminalState): string {
  switch (state.kind) {
    case 'connecting':
      return state.attempt ? 'Reconnecting…' : 'Connecting…';
    case 'open':
      return 'Connected';
    case 'reconnecting':
      return `Disconnected (${state.why}) — reconnecting in ${Math.max(1, Math.round(state.inMs / 1000))} s`;
    case 'closed':
      return state.message;
  }
}

/** The terminal's plain GET: why an upgrade failed (the browser does not say), or null to retry. */
async function probe(taskId: string): Promise<{ message: string } | null> {
  const r = await fetch(`/api/v1/tasks/${encodeURIComponent(taskId)}/terminal`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  let message = '';
  try {
    message = ((await r.json()) as { error?: { message?: string } }).error?.message ?? '';
  } catch {
    // Not the envelope (a proxy's page): the status says enough.
  }
  return refusalOf(r.status, message);
}

export function TerminalPane({ taskId }: { taskId: string }) {
  const host = useRef<HTMLDivElement>(null);
  const xtermRef = useRef<XTerm | null>(null);
  const connRef = useRef<TerminalConnection | null>(null);
  const ctrlRef = useRef(false);
  const [ctrl, setCtrlState] = useState(false);
  const [state, setState] = useState<TerminalState>({ kind: 'connecting', attempt: 0 });
  const [size, setSize] = useState({ cols: 0, rows: 0 });
  const setCtrl = (on: boolean) => {
    ctrlRef.current = on;
    setCtrlState(on);
  };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const xterm = new XTerm({
      cursorBlink: true,
      fontSize: 13,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      scrollback: 5000,
      theme: THEME,
    });
    const fit = new FitAddon();
    xterm.loadAddon(fit);
    xterm.loadAddon(new WebLinksAddon((_e, uri) => window.open(uri, '_blank', 'noopener,noreferrer')));
    xterm.open(el);
    // A hidden tab has no size: fit when it is shown (the observer fires then).
    const refit = () => {
      if (el.clientWidth > 0 && el.clientHeight > 0) fit.fit();
    };
    refit();
    let shells = 0;
    const conn = new TerminalConnection({
      url: () => terminalUrl(location, taskId, xterm.cols, xterm.rows),
      // The DOM's handler types are narrower than SocketLike's; the shape is the same.
      open: (url) => new WebSocket(url) as unknown as SocketLike,
      probe: () => probe(taskId),
      onData: (bytes) => xterm.write(bytes),
      onState: setState,
      onOpen: () => {
        // A reconnect is a new shell: say so, and send the size it has now.
        if (shells++ > 0) xterm.write('\r\n\x1b[2m[new shell]\x1b[0m\r\n');
        conn.resize(xterm.cols, xterm.rows);
      },
    });
    xtermRef.current = xterm;
    connRef.current = conn;
    const subs = [
      xterm.onData((data) => {
        if (ctrlRef.current) {
          setCtrl(false);
          data = withCtrl(data);
        }
        conn.send(data);
      }),
      xterm.onBinary((data) => conn.send(Uint8Array.from(data, (c) => c.charCodeAt(0)))),
      xterm.onResize(({ cols, rows }) => {
        setSize({ cols, rows });
        conn.resize(cols, rows);
      }),
    ];
    // Ctrl+Shift+C / Ctrl+Shift+V copy and paste, as in desktop terminals (Ctrl+C stays an interrupt).
    xterm.attachCustomKeyEventHandler((e) => {
      if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
      if (e.code === 'KeyC') {
        void copy();
        return false;
      }
      if (e.code === 'KeyV') {
        void paste();
        return false;
      }
      return true;
    });
    setSize({ cols: xterm.cols, rows: xterm.rows });
    const ro = new ResizeObserver(refit);
    ro.observe(el);
    xterm.focus();
    return () => {
      ro.disconnect();
      for (const s of subs) s.dispose();
      conn.close();
      xterm.dispose();
      xtermRef.current = null;
      connRef.current = null;
    };
  }, [taskId]);

  const copy = async () => {
    const xterm = xtermRef.current;
    if (!xterm) return;
    const text = xterm.getSelection();
    if (text) await navigator.clipboard?.writeText(text).catch(() => undefined);
    xterm.focus();
  };
  const paste = async () => {
    const xterm = xtermRef.current;
    const text = await navigator.clipboard?.readText().catch(() => '');
    // paste() honours bracketed-paste mode, so a shell does not run pasted lines one by one.
    if (xterm && text) xterm.paste(text);
    xterm?.focus();
  };
  const key = (k: Parameters<typeof keyBytes>[0]) => {
    const xterm = xtermRef.current;
    connRef.current?.send(keyBytes(k, xterm?.modes.applicationCursorKeysMode ?? false));
    xterm?.focus();
  };
  // The extra keys must not take the focus from the terminal (a phone would hide its keyboard).
  const keep = (e: React.PointerEvent) => e.preventDefault();

  const closed = state.kind === 'closed';
  return (
    <div className="terminal-pane" data-testid="terminal" data-state={state.kind} data-end={closed ? state.end : undefined} data-cols={size.cols} data-rows={size.rows}>
      <div className="terminal-bar">
        <span className={`terminal-status ${state.kind}`} role="status" data-testid="terminal-status">
          {describe(state)}
        </span>
        {(closed || state.kind === 'reconnecting') && (
          <button type="button" className="small" onClick={() => connRef.current?.reconnectNow()}>
            {closed ? 'New shell' : 'Reconnect now'}
          </button>
        )}
        <span className="terminal-spacer" />
        <button type="button" className="small" onPointerDown={keep} onClick={() => void copy()} title="Copy the selection (Ctrl+Shift+C)">
          Copy
        </button>
        <button type="button" className="small" onPointerDown={keep} onClick={() => void paste()} title="Paste (Ctrl+Shift+V)">
          Paste
        </button>
      </div>
      <div className="terminal-screen" ref={host} />
      <div className="terminal-keys" role="toolbar" aria-label="Extra keys">
        <button type="button" onPointerDown={keep} onClick={() => key('Escape')}>
          Esc
        </button>
        <button type="button" onPointerDown={keep} onClick={() => key('Tab')}>
          Tab
        </button>
        <button type="button" aria-pressed={ctrl} className={ctrl ? 'on' : ''} onPointerDown={keep} onClick={() => setCtrl(!ctrl)} title="The next key is sent with Ctrl">
          Ctrl
        </button>
        {ARROWS.map(([k, label, name]) => (
          <button key={k} type="button" aria-label={name} onPointerDown={keep} onClick={() => key(k)}>
            {label}
          </button>
        ))}
      </div>
    </div>
  );
}

// Voice in the UI: the microphone button (or why voice is off), the panel with the session's state and transcript, and the provider that owns the one session of the page.
import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, useRef, useState, type ReactNode } from 'react';
import type { Task, VoiceStatus } from '../../../src/api/index.js';
import { attentionUpdate, contextText, initialVoiceState, voiceReducer, type VoiceLine, type VoicePhase, type VoiceState } from '../lib/voice';
import { MicIcon } from './icons';
import { openVoiceSession, type VoiceSession } from './voice-session';

interface VoiceControl {
  status: VoiceStatus;
  state: VoiceState;
  /** The panel is shown (a session is opening, running, or has just ended). */
  shown: boolean;
  open: () => void;
  stop: () => void;
  cancelTurn: () => void;
  hide: () => void;
}

const VoiceContext = createContext<VoiceControl | null>(null);

const PHASE_LABEL: Record<VoicePhase, string> = {
  idle: 'Off',
  connecting: 'Connecting…',
  listening: 'Listening',
  'user-speaking': 'You are speaking',
  'assistant-speaking': 'Assistant speaking',
  closed: 'Ended',
  error: 'Failed',
};
const ACTIVE: ReadonlySet<VoicePhase> = new Set(['connecting', 'listening', 'user-speaking', 'assistant-speaking']);

/**
 * Owns the page's voice session. `tasks` is the live task list (for the context the model gets);
 * `taskChanged` must be called from the task list stream so the model hears when a task starts
 * waiting for the person.
 */
function useVoiceProvider(status: VoiceStatus, tasks: Map<string, Task>): { control: VoiceControl; taskChanged: (before: Task | undefined, after: Task) => void } {
  const [state, dispatch] = useReducer(voiceReducer, initialVoiceState);
  const [shown, setShown] = useState(false);
  const session = useRef<VoiceSession | null>(null);
  // Bumped by every open and stop: an opening that finishes after a Stop closes itself.
  const generation = useRef(0);
  const tasksRef = useRef(tasks);
  tasksRef.current = tasks;
  const audio = useRef<HTMLAudioElement | null>(null);

  const stop = useCallback(() => {
    generation.current++;
    const s = session.current;
    session.current = null;
    if (s) void s.stop();
    else dispatch({ type: 'local.closed' });
  }, []);
  const open = useCallback(() => {
    if (!status.enabled) return;
    setShown(true);
    if (session.current) return;
    const gen = ++generation.current;
    audio.current ??= new Audio();
    openVoiceSession({ onEvent: (e) => gen === generation.current || e.type === 'local.closed' ? dispatch(e) : undefined, context: () => contextText(tasksRef.current.values()), audio: audio.current }).then(
      (s) => {
        if (gen !== generation.current) return void s.stop();
        session.current = s;
      },
      (err: unknown) => {
        if (gen === generation.current) dispatch({ type: 'local.error', message: err instanceof Error ? err.message : String(err) });
      },
    );
  }, [status.enabled]);
  const cancelTurn = useCallback(() => session.current?.cancelTurn(), []);
  const hide = useCallback(() => {
    stop();
    setShown(false);
  }, [stop]);
  // Leaving the page ends the session (the gateway would otherwise wait for it to idle out).
  useEffect(() => {
    const end = () => void session.current?.stop();
    window.addEventListener('pagehide', end);
    return () => {
      window.removeEventListener('pagehide', end);
      end();
    };
  }, []);
  const taskChanged = useCallback((before: Task | undefined, after: Task) => {
    const s = session.current;
    if (!s) return;
    const all = new Map(tasksRef.current);
    all.set(after.id, after);
    const note = attentionUpdate(before, after, all.values());
    if (note) s.update(note);
  }, []);
  const control = useMemo(() => ({ status, state, shown, open, stop, cancelTurn, hide }), [status, state, shown, open, stop, cancelTurn, hide]);
  return { control, taskChanged };
}

/**
 * Holds the voice state below the app shell: a transcript delta re-renders the buttons and the
 * panel, not the page (children keep their identity). `taskChanged` receives the function the task
 * list stream must call.
 */
export function VoiceProvider({
  status,
  tasks,
  taskChanged,
  children,
}: {
  status: VoiceStatus;
  tasks: Map<string, Task>;
  taskChanged: { current: (before: Task | undefined, after: Task) => void };
  children: ReactNode;
}) {
  const voice = useVoiceProvider(status, tasks);
  const control = voice.control;
  useEffect(() => {
    taskChanged.current = voice.taskChanged;
  }, [taskChanged, voice.taskChanged]);
  return (
    <VoiceContext.Provider value={control}>
      {children}
      {control.shown && <VoicePanel />}
    </VoiceContext.Provider>
  );
}

/** The microphone button; when voice is off it stays visible, says why on hover and on tap. */
export function VoiceButton({ where }: { where: 'list' | 'task' | 'topbar' }) {
  const v = useContext(VoiceContext);
  const [why, setWhy] = useState(false);
  if (!v) return null;
  const { status } = v;
  // The reason is a sentence of its own ("voice is off: set …"), shown as it is.
  const reason = status.reason ? status.reason[0]!.toUpperCase() + status.reason.slice(1) : 'Voice is off.';
  const active = v.shown && ACTIVE.has(v.state.phase);
  if (!status.enabled) {
    return (
      <span className="voice-off">
        <button
          type="button"
          className="icon mic disabled"
          aria-disabled="true"
          aria-label={reason}
          title={reason}
          aria-expanded={why}
          data-testid={`voice-button-${where}`}
          onClick={() => setWhy(!why)}
        >
          <MicIcon />
        </button>
        {why && (
          <span className="voice-reason" role="note" data-testid="voice-off-reason">
            {reason}
          </span>
        )}
      </span>
    );
  }
  return (
    <button
      type="button"
      className={`icon mic${active ? ' on' : ''}`}
      aria-label={active ? 'Voice session open' : 'Talk to caic'}
      title={active ? 'Voice session open' : 'Talk to caic (voice)'}
      aria-pressed={active}
      data-testid={`voice-button-${where}`}
      onClick={v.open}
    >
      <MicIcon />
    </button>
  );
}

function Line({ line }: { line: VoiceLine }) {
  if (line.kind === 'tool') {
    return (
      <li className={`voice-line tool ${line.status}`} data-testid="voice-tool-line" data-tool={line.name} data-status={line.status}>
        <span className={`dot ${line.status === 'ok' ? 'ok' : line.status === 'failed' ? 'error' : 'running'}`} aria-hidden="true" />
        <span className="tool-name">{line.name}</span>
        {line.args && <span className="voice-args">{line.args}</span>}
        <span className="voice-outcome">{line.status === 'running' ? 'running…' : line.status === 'ok' ? 'ok' : 'failed'}</span>
        {line.text && <span className="voice-tool-text">{line.text}</span>}
      </li>
    );
  }
  const who = line.kind === 'user' ? 'You' : line.kind === 'notice' ? '' : 'Assistant';
  return (
    <li className={`voice-line ${line.kind}`} data-testid="voice-line" data-speaker={line.kind}>
      {who && <span className="voice-who">{who}</span>}
      <span className="voice-text">{line.text}</span>
    </li>
  );
}

export function VoicePanel() {
  const v = useContext(VoiceContext)!;
  const { phase, lines, error } = v.state;
  const listRef = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines]);
  const active = ACTIVE.has(phase);
  return (
    <section className={`voice-panel phase-${phase}`} aria-label="Voice" data-testid="voice-panel" data-phase={phase}>
      <header className="voice-head">
        <span className={`voice-dot ${phase}`} aria-hidden="true" />
        <strong className="voice-state" role="status" data-testid="voice-state">
          {PHASE_LABEL[phase]}
        </strong>
        <span className="spacer" />
        {active ? (
          <>
            <button type="button" className="small" onClick={v.cancelTurn} disabled={phase === 'connecting'} data-testid="voice-cancel">
              Cancel reply
            </button>
            <button type="button" className="small danger" onClick={v.stop} data-testid="voice-stop">
              Stop
            </button>
          </>
        ) : (
          <>
            <button type="button" className="small" onClick={v.open} data-testid="voice-retry">
              {phase === 'error' ? 'Try again' : 'Start again'}
            </button>
            <button type="button" className="small" onClick={v.hide} aria-label="Close the voice panel" data-testid="voice-close">
              Close
            </button>
          </>
        )}
      </header>
      {error && (
        <p className="voice-error" role="alert" data-testid="voice-error">
          {error}
        </p>
      )}
      <ol className={`voice-lines${lines.length === 0 && error ? ' empty' : ''}`} ref={listRef} data-testid="voice-transcript" aria-live="polite">
        {lines.length === 0 && !error && <li className="voice-line notice muted">{phase === 'connecting' ? 'Opening the microphone and the voice gateway…' : 'Say what you want: “what are my tasks doing?”'}</li>}
        {lines.map((l) => (
          <Line key={l.key} line={l} />
        ))}
      </ol>
    </section>
  );
}

// Live data hooks: the task list (task-list SSE) and one task's transcript (task SSE), both
// reconnecting with Last-Event-ID and exposing their connection state for the banner.
import { useEffect, useReducer, useRef, useState } from 'react';
import type { EventMessage, Task, TaskListEvent } from '../../../src/api/index.js';
import { routes } from '../../../src/api/routes.js';
import { routeUrl } from '../lib/api';
import { openStream, type StreamState } from '../lib/sse';
import { applyEvents, emptyTranscript, type TranscriptState } from '../lib/transcript';

export interface Connection {
  state: StreamState;
  error?: string;
}

/** Subscribes while the page is visible and online; pauses otherwise (phones: battery, data). */
function useActive(): boolean {
  const get = () => document.visibilityState !== 'hidden' && navigator.onLine;
  const [active, setActive] = useState(get);
  useEffect(() => {
    const update = () => setActive(get());
    document.addEventListener('visibilitychange', update);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      document.removeEventListener('visibilitychange', update);
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);
  return active;
}

export interface TaskListStore {
  tasks: Map<string, Task>;
  loaded: boolean;
  connection: Connection;
}

/** The task list, live. `onChange` hears every task that changed (for notifications). */
export function useTaskList(onChange?: (before: Task | undefined, after: Task) => void): TaskListStore {
  const [store, setStore] = useState<TaskListStore>({ tasks: new Map(), loaded: false, connection: { state: 'connecting' } });
  const active = useActive();
  const changeRef = useRef(onChange);
  changeRef.current = onChange;
  // The current list, read outside state updaters (which must stay pure: React may run them twice).
  const tasksRef = useRef(store.tasks);
  useEffect(() => {
    if (!active) return;
    const stream = openStream({
      url: routeUrl(routes.taskListEvents.path),
      onState: (state, error) => setStore((s) => ({ ...s, connection: error ? { state, error } : { state } })),
      onMessage: (msg) => {
        const ev = JSON.parse(msg.data) as TaskListEvent;
        const tasks = ev.type === 'snapshot' ? new Map<string, Task>() : new Map(tasksRef.current);
        if (ev.type === 'snapshot') for (const t of ev.tasks) tasks.set(t.id, t);
        else if (ev.type === 'upsert') {
          changeRef.current?.(tasks.get(ev.task.id), ev.task);
          tasks.set(ev.task.id, ev.task);
        } else if (ev.type === 'patch') {
          const before = tasks.get(ev.id);
          if (before) {
            const after = { ...before, ...ev.fields };
            changeRef.current?.(before, after);
            tasks.set(ev.id, after);
          }
        } else tasks.delete(ev.id);
        tasksRef.current = tasks;
        setStore((s) => ({ ...s, tasks, loaded: true }));
      },
    });
    return () => stream.close();
  }, [active]);
  return store;
}

export interface TaskEventsStore {
  transcript: TranscriptState;
  /** True once the history has been received (`event: ready`). */
  ready: boolean;
  connection: Connection;
  fatal?: string;
}

type Action = { type: 'events'; events: EventMessage[]; live: boolean } | { type: 'ready' } | { type: 'conn'; connection: Connection } | { type: 'fatal'; message: string };

function reducer(s: TaskEventsStore, a: Action): TaskEventsStore {
  switch (a.type) {
    case 'events': {
      const transcript = applyEvents(s.transcript, a.events, { live: a.live });
      return transcript === s.transcript ? s : { ...s, transcript };
    }
    case 'ready':
      return s.ready ? s : { ...s, ready: true };
    case 'conn':
      return { ...s, connection: a.connection };
    case 'fatal':
      return { ...s, fatal: a.message };
  }
}

const initialEvents: TaskEventsStore = { transcript: emptyTranscript, ready: false, connection: { state: 'connecting' } };

/**
 * One task's events. Events are gathered per animation frame and applied in one batch: a fast
 * agent (or a 10,000-event history) costs one render per frame, not one per event.
 */
export function useTaskEvents(id: string): TaskEventsStore {
  const [store, dispatch] = useReducer(reducer, initialEvents);
  const active = useActive();
  // Survives a pause (hidden page, offline): the stream resumes after it. A new task is a new
  // component (TaskView is keyed by task id), so this never carries over between tasks.
  const lastIdRef = useRef(0);
  useEffect(() => {
    if (!active) return;
    let pending: EventMessage[] = [];
    let frame = 0;
    // Before `ready` the stream replays history; after it (and on any resumed connection, which
    // sends Last-Event-ID) ids must be contiguous.
    let live = lastIdRef.current > 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      dispatch({ type: 'events', events: batch, live });
    };
    const stream = openStream({
      url: routeUrl(routes.taskEvents.path, { id }),
      lastEventId: lastIdRef.current,
      onState: (state, error) => dispatch({ type: 'conn', connection: error ? { state, error } : { state } }),
      onFatal: (_status, message) => dispatch({ type: 'fatal', message }),
      onMessage: (msg) => {
        if (msg.event === 'ready') {
          if (frame) cancelAnimationFrame(frame);
          flush();
          live = true;
          dispatch({ type: 'ready' });
          return;
        }
        const ev = JSON.parse(msg.data) as EventMessage;
        lastIdRef.current = Math.max(lastIdRef.current, ev.id);
        pending.push(ev);
        frame ||= requestAnimationFrame(flush);
      },
    });
    return () => {
      stream.close();
      if (frame) cancelAnimationFrame(frame);
      if (pending.length) dispatch({ type: 'events', events: pending, live });
    };
  }, [id, active]);
  return store;
}

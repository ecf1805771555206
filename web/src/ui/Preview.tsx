// App previews in the task view: "Preview :<port>" for each port the task's container listens on,
// a side panel framing the preview (its own origin), reload, and opening it in a new tab.
import { useCallback, useEffect, useState } from 'react';
import type { PreviewPort } from '../../../src/api/index.js';
import { api, errorMessage } from './client';

/** Ports are asked for again this often while the task view is visible and the task live. */
const POLL_MS = 3_000;

/** The task's detected ports, polled only while someone looks (the page visible, the task live). */
export function usePreviewPorts(taskId: string, live: boolean): { ports: PreviewPort[]; reason: string } {
  const [state, setState] = useState<{ ports: PreviewPort[]; reason: string }>({ ports: [], reason: '' });
  useEffect(() => {
    setState({ ports: [], reason: '' });
    if (!live) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Once when the view opens, then while the page is visible; back to visible asks at once.
    const poll = async (always = false) => {
      clearTimeout(timer);
      if (always || document.visibilityState === 'visible') {
        try {
          const r = await api('taskPreviews', { params: { id: taskId } });
          if (!stopped) setState({ ports: r.ports, reason: r.available ? '' : (r.reason ?? '') });
        } catch {
          // The task stopping or a network cut: the next poll says again.
        }
      }
      if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
    };
    const onVisible = () => {
      if (document.visibilityState === 'visible') void poll();
    };
    document.addEventListener('visibilitychange', onVisible);
    void poll(true);
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [taskId, live]);
  return state;
}

/** A one-time link to the preview (the API checks the session and the task's owner). */
async function openLink(taskId: string, port: number): Promise<string> {
  return (await api('taskPreviewOpen', { params: { id: taskId, port: String(port) } })).url;
}

/**
 * Opens the preview in a new tab. The tab is opened at once (in the click, so no popup blocker
 * minds) and cut from this page (`opener = null`): the previewed app cannot navigate caic's tab.
 */
export async function openPreviewTab(taskId: string, port: number): Promise<void> {
  const tab = window.open('about:blank', '_blank');
  if (!tab) throw new Error('the browser blocked the new tab');
  tab.opener = null;
  try {
    tab.location.href = await openLink(taskId, port);
  } catch (err) {
    tab.close();
    throw err;
  }
}

/** The toolbar's buttons: "Preview :3000" (side panel) and ↗ (new tab) per detected port. */
export function PreviewButtons({ taskId, ports, onPanel, onError }: { taskId: string; ports: readonly PreviewPort[]; onPanel: (port: number) => void; onError: (msg: string) => void }) {
  return (
    <>
      {ports
        .filter((p) => p.url !== null)
        .map((p) => (
          <span key={p.port} className="preview-buttons">
            <button type="button" onClick={() => onPanel(p.port)} title={`Show ${p.url} beside the transcript`}>
              Preview :{p.port}
            </button>
            <button type="button" aria-label={`Open preview of port ${p.port} in a new tab`} title="Open in a new tab" onClick={() => void openPreviewTab(taskId, p.port).catch((e: unknown) => onError(errorMessage(e)))}>
              ↗
            </button>
          </span>
        ))}
    </>
  );
}

/**
 * The side panel: the preview in a sandboxed frame (scripts, forms and popups of its own origin;
 * never navigating caic's page), with reload (a fresh link), new tab and close.
 */
export function PreviewPanel({ taskId, port, onClose }: { taskId: string; port: number; onClose: () => void }) {
  const [src, setSrc] = useState('');
  const [error, setError] = useState('');
  const load = useCallback(() => {
    setError('');
    openLink(taskId, port).then(setSrc, (e: unknown) => setError(errorMessage(e)));
  }, [taskId, port]);
  useEffect(load, [load]);
  return (
    <aside className="preview-panel" aria-label={`Preview of port ${port}`} data-testid="preview-panel">
      <div className="preview-bar">
        <span className="label">Preview :{port}</span>
        <button type="button" onClick={load} title="Reload the preview">
          Reload
        </button>
        <button type="button" onClick={() => void openPreviewTab(taskId, port).catch((e: unknown) => setError(errorMessage(e)))}>
          New tab
        </button>
        <button type="button" onClick={onClose} aria-label="Close the preview">
          ✕
        </button>
      </div>
      {error && <p className="preview-error">{error}</p>}
      {src && (
        <iframe
          key={src}
          src={src}
          title={`Preview of port ${port}`}
          sandbox="allow-scripts allow-same-origin allow-forms allow-popups allow-modals allow-downloads"
          referrerPolicy="no-referrer"
        />
      )}
    </aside>
  );
}

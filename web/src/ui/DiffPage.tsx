// The diff of a task's branch against its base, loaded on open and refreshed when the task's
// diff stat changes.
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { DiffResp, ReviewComment, Task } from '../../../src/api/index.js';
import { LIVE_STATES, taskPath } from '../lib/format';
import { api, errorMessage } from './client';
import { DiffView, type DiffMode, type DiffReview } from './DiffView';
import { ReviewTray } from './ReviewTray';
import { navigate } from './router';
import { Banner } from './Banner';

const MODE_KEY = 'caic.diffMode';

export function DiffPage({ task }: { task: Task }) {
  const [diff, setDiff] = useState<DiffResp | null>(null);
  const [error, setError] = useState('');
  const [mode, setMode] = useState<DiffMode>(() => (localStorage.getItem(MODE_KEY) === 'split' ? 'split' : 'unified'));
  const stat = JSON.stringify(task.diffStat);
  // The review tray: the server keeps unsent comments, so a reload finds them again.
  const [comments, setComments] = useState<ReviewComment[]>([]);
  const [reviewError, setReviewError] = useState('');
  const loadComments = useCallback(() => {
    api('reviewList', { params: { id: task.id } })
      .then((r) => setComments(r.comments))
      .catch((err: unknown) => setReviewError(errorMessage(err)));
  }, [task.id]);
  useEffect(loadComments, [loadComments]);
  const review: DiffReview = useMemo(
    () => ({
      onComment: async (sel, body) => {
        await api('reviewAdd', { params: { id: task.id }, body: { file: sel.path, side: sel.side, startLine: sel.startLine, endLine: sel.endLine, quote: sel.quote, body } });
        loadComments();
      },
      commented: comments.reduce((m, c) => m.set(c.file, [...(m.get(c.file) ?? []), c]), new Map<string, ReviewComment[]>()),
    }),
    [task.id, comments, loadComments],
  );
  useEffect(() => {
    const ac = new AbortController();
    setError('');
    api('taskDiff', { params: { id: task.id } }, { signal: ac.signal })
      .then(setDiff)
      .catch((err: unknown) => {
        if (!ac.signal.aborted) setError(errorMessage(err));
      });
    return () => ac.abort();
  }, [task.id, stat]);
  return (
    <section className="diff-page" aria-label={`Diff of ${task.title}`}>
      <header className="task-head">
        <div className="task-title-row">
          <button type="button" className="icon back" aria-label="Back to the task" onClick={() => navigate(taskPath(task.id, task.title))}>
            ←
          </button>
          <h1 className="task-title" title={task.title}>
            Diff · {task.title}
          </h1>
        </div>
        <div className="muted small">
          {task.repos.map((r) => (
            <span key={r.name}>
              {r.name} · {r.branch || '(no branch yet)'} against {r.baseBranch}
            </span>
          ))}
          {!LIVE_STATES.includes(task.state) && diff && <span> · the container is not running: the branch as last synced</span>}
        </div>
      </header>
      {error && (
        <Banner tone="bad">
          {error}
        </Banner>
      )}
      {reviewError && (
        <Banner tone="bad">
          {reviewError}
        </Banner>
      )}
      <ReviewTray task={task} comments={comments} onChanged={loadComments} onError={setReviewError} />
      {!diff && !error && <p className="muted pad">Loading the diff…</p>}
      {diff && diff.files.length === 0 && <p className="muted pad">No changes yet.</p>}
      {diff && diff.files.length > 0 && (
        <DiffView
          diff={diff.diff}
          files={diff.files}
          mode={mode}
          review={review}
          onModeChange={(m) => {
            localStorage.setItem(MODE_KEY, m);
            setMode(m);
          }}
        />
      )}
    </section>
  );
}

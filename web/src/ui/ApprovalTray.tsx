// The task's pending approval requests pinned above its message box: a request made far up a long
// transcript (or while the terminal is open) is not missed.
import { pendingApprovals, type TranscriptState } from '../lib/transcript';
import { ApprovalCard } from './ApprovalCard';

export function ApprovalTray({ taskId, transcript, canAnswer, onError }: { taskId: string; transcript: TranscriptState; canAnswer: boolean; onError: (message: string) => void }) {
  // Cheap: a walk over the task's approval requests only, not over the transcript.
  const pending = pendingApprovals(transcript);
  if (pending.length === 0) return null;
  return (
    <section className="approval-tray" aria-label="Waiting for your approval" data-testid="approval-tray">
      <div className="approval-tray-head" role="status">
        {pending.length === 1 ? 'The agent waits for your approval' : `The agent waits for ${pending.length} approvals`}
      </div>
      {pending.map((it) => (
        <ApprovalCard key={it.key} req={{ ...it.ev, taskId }} canAnswer={canAnswer} where="tray" onError={onError} />
      ))}
    </section>
  );
}

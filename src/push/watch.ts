// Which task changes are worth a push: from the task list's summaries, the transitions into asking, plan, finished, failed and CI failure.
import type { PushKind, Task } from '../api/index.js';

interface Seen {
  state: Task['state'];
  ciFailedSha: string | null;
}

/**
 * Remembers each task's last state and answers what a new summary means. A task seen for the
 * first time (created, or adopted after a restart) is news only from its next change: a restart
 * does not replay old pushes.
 */
export class TaskNews {
  private readonly seen = new Map<string, Seen>();

  changed(task: Task): PushKind[] {
    const before = this.seen.get(task.id);
    const ci = task.forge?.ci;
    const ciFailedSha = ci?.state === 'failure' ? ci.sha : null;
    if (task.state === 'purged') this.seen.delete(task.id);
    else this.seen.set(task.id, { state: task.state, ciFailedSha: ciFailedSha ?? before?.ciFailedSha ?? null });
    if (!before) return [];
    const news: PushKind[] = [];
    if (task.state !== before.state) {
      if (task.state === 'asking') news.push('asking');
      else if (task.state === 'has_plan') news.push('plan');
      else if (task.state === 'waiting' && before.state === 'running') news.push('finished');
      else if (task.state === 'failed' || task.state === 'crashed') news.push('failed');
    }
    if (ciFailedSha && ciFailedSha !== before.ciFailedSha) news.push('ci_failed');
    return news;
  }
}

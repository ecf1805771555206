// The task header's resource line: the latest CPU, memory and disk sample of a running task, with its limits.
import type { EventMessage } from '../../../src/api/index.js';
import { formatBytes } from '../lib/format';

type Stats = Extract<EventMessage, { kind: 'stats' }>;

const part = (used: number, limit: number | undefined) => (limit ? `${formatBytes(used)} / ${formatBytes(limit)}` : formatBytes(used));

export function TaskStats({ stats, live }: { stats: Stats | null; live: boolean }) {
  if (!stats || !live) return null;
  const diskHigh = stats.diskBytes !== undefined && stats.diskLimitBytes ? stats.diskBytes / stats.diskLimitBytes >= 0.9 : false;
  return (
    <span data-testid="task-stats" title={`Measured ${new Date(stats.ts).toLocaleTimeString()}`}>
      CPU {Math.round(stats.cpuPercent)}% · mem {part(stats.memoryBytes, stats.memoryLimitBytes)}
      {stats.diskBytes !== undefined && <span className={diskHigh ? 'bad' : undefined}> · disk {part(stats.diskBytes, stats.diskLimitBytes)}</span>}
    </span>
  );
}

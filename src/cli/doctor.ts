// How `caic doctor` prints its report in a terminal: a pure function of the report.
import type { DoctorResp } from '../api/index.js';
import { formatBytes } from '../config/index.js';

const KIND_NAMES: Record<DoctorResp['hygiene']['actions'][number]['kind'], string> = {
  idleStop: 'stop idle task',
  removeStopped: 'remove stopped container',
  removeOrphan: 'remove orphan container',
  pruneImage: 'remove image',
};

export function renderDoctor(r: DoctorResp): string {
  const out: string[] = [];
  const e = r.engine;
  out.push(e.reachable ? `engine: Docker ${e.version} (API ${e.apiVersion}), ${e.os}, storage ${e.storageDriver}, data in ${e.rootDir}` : `engine: unreachable${e.error ? ` (${e.error})` : ''}`);
  if (r.disk) {
    const pct = r.disk.totalBytes ? Math.round((r.disk.freeBytes / r.disk.totalBytes) * 100) : 0;
    out.push(
      `disk: ${formatBytes(r.disk.freeBytes)} free of ${formatBytes(r.disk.totalBytes)} (${pct}%) on ${r.disk.path}` +
        (r.disk.low ? ` — BELOW min_free_disk (${formatBytes(r.disk.minFreeBytes)}): new tasks are refused` : ''),
    );
  } else if (e.reachable) out.push("disk: Docker's data directory is not on this machine (or cannot be read); free space unknown");
  out.push(`images (${r.images.length}):`);
  for (const i of r.images) {
    const agents = Object.entries(i.agents).map(([a, v]) => `${a} ${v}`).join(', ');
    out.push(
      `  ${i.kind.padEnd(5)} ${(i.tags.join(', ') || `<untagged ${i.id.slice(7, 19)}>`).padEnd(50)} ${formatBytes(i.sizeBytes).padStart(9)}` +
        `${i.current ? '  [current]' : ''}${agents ? `  ${agents}` : ''}${i.containers ? `  (${i.containers} container${i.containers === 1 ? '' : 's'})` : ''}`,
    );
  }
  const c = r.containers;
  out.push(`containers: ${c.running} running, ${c.stopped} stopped${c.otherDaemons ? `; ${c.otherDaemons} of other caic daemons (left alone)` : ''}`);
  for (const x of c.items) out.push(`  ${x.state.padEnd(8)} ${x.name}  task ${x.taskId}`);
  const h = r.hygiene;
  if (h.actions.length === 0) out.push(`clean-up would remove nothing now${h.hidden ? ` (${h.hidden} steps on other users' tasks)` : ''}`);
  else {
    out.push(`clean-up would (${h.actions.length}${h.hidden ? ` + ${h.hidden} on other users' tasks` : ''}):`);
    for (const a of h.actions) out.push(`  ${KIND_NAMES[a.kind]} ${a.target}${a.sizeBytes ? ` (${formatBytes(a.sizeBytes)})` : ''}: ${a.reason}`);
  }
  return `${out.join('\n')}\n`;
}

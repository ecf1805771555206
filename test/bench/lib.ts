// Shared pieces of the benchmarks: medians and spreads, per-process CPU from /proc, and the one
// summary line each benchmark ends with (to paste into docs/performance.md).
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Nearest-rank percentile of unsorted values. */
export function percentile(xs: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** `median [min–max]` with a fixed number of decimals. */
export function spread(xs: number[], digits = 0): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${median(s).toFixed(digits)} [${s[0]!.toFixed(digits)}–${s[s.length - 1]!.toFixed(digits)}]`;
}

/** Pairwise ratios a[i]/b[i]: each pair ran back to back, so machine drift cancels. */
export function ratios(a: number[], b: number[]): number[] {
  return a.map((x, i) => x / b[i]!);
}

/**
 * CPU seconds of a process and of its children that it has waited for (utime, stime, cutime,
 * cstime from /proc/<pid>/stat): the daemon's own work plus the git processes it ran.
 */
export function processCpu(pid: number): { self: number; children: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const tick = 100; // USER_HZ on Linux
  return { self: (Number(fields[11]) + Number(fields[12])) / tick, children: (Number(fields[13]) + Number(fields[14])) / tick };
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** The machine, for the record. */
export function machine(): string {
  const c = cpus();
  return `node ${process.version}, ${c.length} × ${c[0]?.model.trim() ?? 'cpu'}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
}

/** The line to paste: `SUMMARY <bench> key=value …` (values with their spread where there is one). */
export function summary(bench: string, fields: Record<string, string | number>): void {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : v.replace(/ /g, '')}`);
  console.log(`\nSUMMARY ${bench} ${process.version} ${new Date().toISOString().slice(0, 10)} ${parts.join(' ')}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds a benchmark's server child has used (it answers the message 'cpu' with process.cpuUsage()). */
export function cpuOf(proc: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    proc.once('message', (u) => {
      const { user, system } = u as NodeJS.CpuUsage;
      resolve((user + system) / 1e6);
    });
    proc.send('cpu');
  });
}

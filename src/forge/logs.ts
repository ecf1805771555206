// CI log trimming: the failing step of a GitHub Actions job log, a GitLab job trace, cut to their last lines.
export const LOG_LINES = 200;
/** Each log kept for the agent is bounded in bytes too: one line may be megabytes. */
const MAX_LOG_CHARS = 64 * 1024;

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z ?/;
// Control sequences (colours, cursor moves) and other control characters but tab.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

function tail(lines: string[], n = LOG_LINES): string {
  let out = lines.slice(-n).join('\n');
  if (out.length > MAX_LOG_CHARS) out = out.slice(-MAX_LOG_CHARS);
  return out;
}

/**
 * The failing step of a GitHub Actions job log: steps start with `##[group]Run …`; the failing one
 * holds the first `##[error]` line (else the one named `stepName`, else the whole log), cut to its
 * last 200 lines, without GitHub's timestamps.
 */
export function trimActionsLog(log: string, stepName = ''): string {
  const lines = log.split(/\r?\n/).map((l) => l.replace(TIMESTAMP, '').replace(ANSI, ''));
  while (lines.length && lines.at(-1) === '') lines.pop();
  const starts = lines.flatMap((l, i) => (l.startsWith('##[group]Run ') ? [i] : []));
  const sectionAt = (i: number): [number, number] => {
    const from = starts.filter((s) => s <= i).at(-1) ?? 0;
    const to = starts.find((s) => s > i) ?? lines.length;
    return [from, to];
  };
  const error = lines.findIndex((l) => l.startsWith('##[error]'));
  let range: [number, number] | null = error >= 0 ? sectionAt(error) : null;
  if (!range && stepName) {
    const named = lines.findIndex((l) => l === `##[group]Run ${stepName}`);
    if (named >= 0) range = sectionAt(named);
  }
  const [from, to] = range ?? [0, lines.length];
  return tail(lines.slice(from, to));
}

/** A GitLab job trace without colours and section markers, cut to its last 200 lines. */
export function trimGitLabTrace(trace: string): string {
  const lines = trace
    // eslint-disable-next-line no-control-regex
    .replace(/section_(?:start|end):\d+:[A-Za-z0-9_.-]+(?:\[[^\]]*\])?\r?(?:\x1b\[0K)?/g, '')
    .split(/\r?\n/)
    // A carriage return redraws the line (progress bars): what is left after the last one shows.
    .map((l) => (l.split('\r').filter((p) => p !== '').at(-1) ?? '').replace(ANSI, ''));
  while (lines.length && lines.at(-1) === '') lines.pop();
  return tail(lines);
}

// The scopes caic's authorization server grants, with the words the consent page shows for each.
export const SCOPES = [
  { name: 'caic:mcp.read', label: 'See your repositories and usage', read: true },
  { name: 'caic:tasks.read', label: 'See your tasks, their transcripts and diffs', read: true },
  { name: 'caic:tasks.write', label: 'Start tasks, send them messages, answer their questions and push their branches', read: false },
  { name: 'caic:tasks.admin', label: 'Stop and purge tasks, and force-push their branches', read: false },
  { name: 'caic:repos.write', label: 'Clone repositories onto this server', read: false },
] as const;

export type ScopeName = (typeof SCOPES)[number]['name'];
export const SCOPE_NAMES: readonly string[] = SCOPES.map((s) => s.name);
/** What a client gets when it names no scope: reading only. */
export const DEFAULT_SCOPES: readonly string[] = SCOPES.filter((s) => s.read).map((s) => s.name);

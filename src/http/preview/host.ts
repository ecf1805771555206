// Preview host names (`p<port>-<task id>.<preview domain>`): building them and reading them back
// from a Host header, which is hostile input.

/** A preview's port and task, as named by its host. */
export interface PreviewTarget {
  port: number;
  taskId: string;
}

/** `p3000-<task id>`: the port has no leading zero; task ids are what the API accepts (TaskId). */
const LABEL = /^p([1-9][0-9]{0,4})-([0-9a-z]{10,40})$/;
/** What a DNS name may hold here: letters, digits, hyphens, dots. */
const NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** True when `domain` is a DNS name previews can live under (lower-case, no port, no dot at the ends). */
export function isPreviewDomain(domain: string): boolean {
  return domain.length <= 200 && NAME.test(domain);
}

/** The hostname of a preview: one label for port and task, under the preview domain. */
export function previewHostname(target: PreviewTarget, domain: string): string {
  return `p${target.port}-${target.taskId}.${domain}`;
}

/**
 * The preview a Host header names, or null when it names none: only `p<port>-<task>.<domain>`
 * exactly (one label under the domain, any listener port, case-insensitive, one trailing dot
 * allowed); anything else (more labels, a port out of range, userinfo, odd characters) is null.
 */
export function parsePreviewHost(host: string | undefined, domain: string): PreviewTarget | null {
  if (!host || host.length > 300 || !domain) return null;
  let name = host.toLowerCase();
  const colon = name.lastIndexOf(':');
  if (colon >= 0) {
    if (!/^:[0-9]{1,5}$/.test(name.slice(colon))) return null;
    name = name.slice(0, colon);
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (!NAME.test(name) || !name.endsWith(`.${domain}`)) return null;
  const label = name.slice(0, -domain.length - 1);
  const m = LABEL.exec(label);
  if (!m) return null;
  const port = Number(m[1]);
  return port <= 65535 ? { port, taskId: m[2]! } : null;
}

/** Host names on which every name below resolves to this machine in browsers (no DNS needed). */
export function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '127.0.0.1' || hostname === '[::1]' || hostname === '::1';
}

// Wire types of a task's network egress policy and of the connections it blocked.
import { z } from 'zod';

/** open: no restriction (as before). allowlist: only `allow`. none: nothing leaves the container (SSH in still works). */
export const EgressMode = z.enum(['open', 'allowlist', 'none']).meta({ id: 'EgressMode' });
export type EgressMode = z.infer<typeof EgressMode>;

/** Named groups of hosts: the package registries, the task's forge, the agent's model API. */
export const EGRESS_PRESETS = ['@registries', '@forge', '@model'] as const;
export const MAX_EGRESS_ENTRIES = 200;

const label = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST = new RegExp(`^(\\*\\.)?${label}(?:\\.${label})*$`);
const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(\/(3[0-2]|[12]?\d))?$/;
const V6 = /^[0-9a-f:]*:[0-9a-f:.]*(\/(12[0-8]|1[01]\d|[1-9]?\d))?$/;

/**
 * Why an allowlist entry is not one, or undefined when it is: a preset; a host name (`*.` allows
 * its subdomains); an IPv4 or IPv6 address or CIDR (IPv6 in brackets when a port follows); each
 * optionally with `:port` (without one, 80 and 443).
 */
export function egressEntryProblem(entry: string): string | undefined {
  const e = entry.trim().toLowerCase();
  if ((EGRESS_PRESETS as readonly string[]).includes(e)) return undefined;
  let host = e;
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(e);
  let port: string | undefined;
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2];
    if (!V6.test(host)) return 'is not an IPv6 address or CIDR';
  } else if ((e.match(/:/g) ?? []).length === 1) {
    [host, port] = e.split(':') as [string, string];
  }
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) return 'has a port that is not 1-65535';
  if (bracket || V4.test(host) || (host.includes(':') && V6.test(host))) return undefined;
  if (/^[\d.]+(\/\d+)?$/.test(host)) return 'is not an IPv4 address or CIDR';
  if (host.length > 253 || !HOST.test(host)) return `must be ${EGRESS_PRESETS.join(', ')}, a host name, "*.domain", or an IP address or CIDR, with an optional :port`;
  return undefined;
}

export const EgressEntry = z
  .string()
  .max(300)
  .refine((v) => egressEntryProblem(v) === undefined, { error: (issue) => egressEntryProblem(String(issue.input)) ?? 'not an allowlist entry' })
  .describe('A preset (@registries, @forge, @model), a host name or *.domain, or an IP address/CIDR; optionally :port (default 80 and 443).');

export const EgressPolicy = z
  .object({
    mode: EgressMode,
    allow: z.array(EgressEntry).max(MAX_EGRESS_ENTRIES).describe('Used in mode `allowlist`.'),
  })
  .meta({ id: 'EgressPolicy' });
export type EgressPolicy = z.infer<typeof EgressPolicy>;

/** As a client sends it at task creation: `allow` may be left out (then the configured list). */
export const EgressPolicyReq = z
  .object({ mode: EgressMode, allow: z.array(EgressEntry).max(MAX_EGRESS_ENTRIES).optional() })
  .meta({ id: 'EgressPolicyReq' });

/** Connections the policy refused to one destination, so far in this task. */
export const EgressBlocked = z
  .object({
    host: z.string().describe('The host name the agent asked for, or the address when it gave none.'),
    port: z.number().int().describe('0: a name lookup (DNS) the agent made around the proxy; the host is the name it looked up.'),
    count: z.number().int(),
    lastAt: z.iso.datetime(),
  })
  .meta({ id: 'EgressBlocked' });
export type EgressBlocked = z.infer<typeof EgressBlocked>;

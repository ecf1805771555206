// Runs one tool for a principal: lookup, argument validation, scopes, the handler, the audit record; shared by the MCP endpoint and the voice tools routes.
import { DockerUnavailableError, ContainerError } from '../containers/index.js';
import type { Logger } from '../log/index.js';
import { TaskError } from '../tasks/index.js';
import { LOCAL_ACCOUNT, type McpScope } from '../api/index.js';
import type { AuditSink, Principal } from './auth.js';
import { summarizeArgs } from './audit.js';
import { TOOLS, TOOLS_BY_NAME, type McpServices, type ToolDef } from './tools.js';

/** What one call came to; each caller turns it into its own wire form. */
export type ToolCallOutcome =
  | { kind: 'unknown' }
  | { kind: 'invalid'; tool: string; message: string }
  | { kind: 'denied'; tool: string; scope: McpScope }
  /** The tool ran: `ok` false is a domain failure (a task that does not exist, a blocked push), with `code`. */
  | { kind: 'ran'; tool: string; ok: boolean; code: string; result: unknown; text: string; truncated: boolean };

export interface CallDeps {
  services: McpServices;
  logger: Logger;
  audit?: AuditSink;
}

/** The tools a principal may call (the others are not shown to it). */
export function toolsFor(p: Principal): ToolDef[] {
  return TOOLS.filter((t) => p.scopes.has(t.scope));
}

/** A thrown failure as the caller sees it: domain errors say why; anything else is logged and stays internal. */
export function domainError(err: unknown, logger: Logger): { code: string; message: string } {
  if (err instanceof TaskError) return { code: err.code, message: err.message };
  if (err instanceof DockerUnavailableError) return { code: 'SERVICE_UNAVAILABLE', message: err.message };
  if (err instanceof ContainerError) return { code: 'CONFLICT', message: err.message };
  logger.error({ err }, 'tool failed');
  return { code: 'INTERNAL_ERROR', message: 'internal error' };
}

/** Named as the authorization server's records name them: `user` is the account id. */
const who = (p: Principal) => ({ user: p.caller?.id ?? LOCAL_ACCOUNT, username: p.caller?.username ?? '', client: p.clientId, via: p.via });

/**
 * Runs tool `name` with `rawArgs` for `p`. Every outcome but an unknown name writes one audit
 * record (`event: mcp.tool`) with the arguments redacted; nothing here throws for bad input.
 */
export async function callTool(deps: CallDeps, p: Principal, name: string, rawArgs: unknown): Promise<ToolCallOutcome> {
  const audit = (record: Record<string, unknown>) => deps.audit?.append({ ts: new Date().toISOString(), event: 'mcp.tool', ...who(p), ...record });
  const started = performance.now();
  const def = TOOLS_BY_NAME.get(name);
  if (!def) return { kind: 'unknown' };
  const parsed = def.args.safeParse(rawArgs ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    audit({ tool: def.name, decision: 'deny', result: 'INVALID_PARAMS', ms: 0 });
    return { kind: 'invalid', tool: def.name, message: `invalid arguments for ${def.name}: ${issue.path.join('.') || '(arguments)'}: ${issue.message}` };
  }
  const args = parsed.data;
  const argSummary = summarizeArgs(args as Record<string, unknown>);
  const needed = [def.scope, def.extraScope?.(args)].find((s): s is McpScope => s != null && !p.scopes.has(s));
  if (needed) {
    audit({ tool: def.name, args: argSummary, decision: 'deny', result: 'INSUFFICIENT_SCOPE', scope: needed, ms: 0 });
    return { kind: 'denied', tool: def.name, scope: needed };
  }
  let outcome: ToolCallOutcome;
  try {
    const out = await def.run({ principal: p, services: deps.services }, args);
    outcome = out.failure
      ? { kind: 'ran', tool: def.name, ok: false, code: out.failure.code, result: out.result, text: out.text, truncated: out.truncated === true }
      : { kind: 'ran', tool: def.name, ok: true, code: 'OK', result: out.result, text: out.text, truncated: out.truncated === true };
  } catch (err) {
    const e = domainError(err, deps.logger);
    outcome = { kind: 'ran', tool: def.name, ok: false, code: e.code, result: undefined, text: e.message, truncated: false };
  }
  audit({ tool: def.name, args: argSummary, decision: 'allow', result: outcome.code, ms: Math.round(performance.now() - started) });
  return outcome;
}

// Routes: GET /api/v1/voice/tools and POST /api/v1/voice/tools/call, the MCP tools for a voice client to offer its model and run with the page's own session.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { LOCAL_ACCOUNT, routes, VOICE_CHANNEL_LIMITS, type VoiceToolCallResp, type VoiceToolInfo } from '../api/index.js';
import { routeOptions, sendError } from '../http/index.js';
import type { Logger } from '../log/index.js';
import { ALL_SCOPES, type AuditSink, type Principal } from './auth.js';
import { callTool, toolsFor, type ToolCallOutcome } from './call.js';
import { toolSchema } from './json-schema.js';
import { cutText, TEXT_CAP_BYTES } from './tasks-view.js';
import { TOOLS, type McpServices } from './tools.js';

export interface VoiceToolsDeps {
  services: McpServices;
  logger: Logger;
  audit?: AuditSink;
}

/** The client id voice calls carry in the audit log (MCP clients carry theirs). */
export const VOICE_CLIENT_ID = 'voice';

/**
 * A result travels to the model as the data channel's `tool.result`, which the gateway refuses
 * above VOICE_CHANNEL_LIMITS.toolResultBytes: a bigger one is replaced by its (cut) text, with
 * room left for the message around it.
 */
const RESULT_CAP_BYTES = VOICE_CHANNEL_LIMITS.toolResultBytes - 4096;

/** Descriptors are the same for everyone; which ones a caller sees depends on its scopes. */
const DESCRIPTORS: ReadonlyMap<string, VoiceToolInfo> = new Map(
  TOOLS.map((t) => [t.name, { name: t.name, description: `${t.title}. ${t.description}`.slice(0, VOICE_CHANNEL_LIMITS.toolDescription), parameters: toolSchema(t.args, 'input') }]),
);

/**
 * Who calls: the signed-in user of the web session (or app session token), with every scope, as
 * the MCP endpoint treats the session cookie; without login, the local user. The task service
 * then shows this caller only their own tasks, exactly as REST and MCP do.
 */
export function voicePrincipal(req: FastifyRequest): Principal {
  const user = req.user;
  if (user) return { subject: `user:${user.id}`, caller: { id: user.id, username: user.username }, clientId: VOICE_CLIENT_ID, scopes: ALL_SCOPES, via: 'cookie' };
  return { subject: LOCAL_ACCOUNT, caller: null, clientId: VOICE_CLIENT_ID, scopes: ALL_SCOPES, via: 'none' };
}

/** The tools a principal may offer its model, as JSON Schema. */
export function voiceToolList(p: Principal): VoiceToolInfo[] {
  return toolsFor(p).map((t) => DESCRIPTORS.get(t.name)!);
}

function bytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return Infinity;
  }
}

/** The answer to a call that was well formed: what the model hears (a refusal or a domain failure is ok:false, not a 4xx). */
export function voiceAnswer(out: Extract<ToolCallOutcome, { kind: 'denied' | 'ran' }>): VoiceToolCallResp {
  if (out.kind === 'denied') {
    const text = `${out.tool} needs the ${out.scope} scope, which this session does not have.`;
    return { ok: false, result: { error: { code: 'INSUFFICIENT_SCOPE', message: text } }, text };
  }
  const text = cutText(out.text, TEXT_CAP_BYTES).text;
  let result = out.ok ? out.result : { error: { code: out.code, message: text }, ...(out.result !== undefined ? { detail: out.result } : {}) };
  if (bytes(result) > RESULT_CAP_BYTES) {
    const short = cutText(text, RESULT_CAP_BYTES / 2).text;
    result = out.ok ? { text: short, truncated: true } : { error: { code: out.code, message: short }, truncated: true };
  }
  return { ok: out.ok, result, text };
}

/** Runs one call for `p`: null for an unknown tool, a message for bad arguments, else the answer. */
export async function runVoiceTool(deps: VoiceToolsDeps, p: Principal, name: string, args: Record<string, unknown>): Promise<VoiceToolCallResp | { invalid: string } | null> {
  const out = await callTool(deps, p, name, args);
  if (out.kind === 'unknown') return null;
  if (out.kind === 'invalid') return { invalid: out.message };
  return voiceAnswer(out);
}

export function registerVoiceTools(app: FastifyInstance, deps: VoiceToolsDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.route({
    ...routeOptions(routes.voiceTools),
    handler: (req) => Promise.resolve({ tools: voiceToolList(voicePrincipal(req)) }),
  });
  r.route({
    ...routeOptions(routes.voiceToolCall),
    handler: async (req, reply) => {
      const { name, args } = req.body;
      const out = await runVoiceTool(deps, voicePrincipal(req), name, args);
      // Another user's task is not a 404 here: it is a tool that ran and found no such task.
      if (out === null) return sendError(reply, 'NOT_FOUND', `unknown tool ${JSON.stringify(name)} (GET /api/v1/voice/tools lists them)`);
      if ('invalid' in out) return sendError(reply, 'BAD_REQUEST', out.invalid);
      return out;
    },
  });
}

// Harness.deltaPiece for the JSON-RPC agents: the text of Codex's and ACP's streamed deltas, and the line rebuilt around other text.
import type { DeltaPiece } from './types.js';
import { asObject, parseLine, type Json } from './util.js';

/** Codex app-server notifications whose `params.delta` is streamed text (a reply, reasoning, a plan, a command's output). */
const CODEX_DELTAS = new Set(['item/agentMessage/delta', 'item/reasoning/textDelta', 'item/reasoning/summaryTextDelta', 'item/plan/delta', 'item/commandExecution/outputDelta']);
/** ACP session updates whose `content.text` is streamed text. */
const ACP_CHUNKS = new Set(['agent_message_chunk', 'agent_thought_chunk']);

/** A piece whose text is `holder[field]` of the parsed line `root`. */
function pieceAt(root: Json, holder: Json | undefined, field: string): DeltaPiece | null {
  const text = holder?.[field];
  if (typeof text !== 'string') return null;
  return {
    text,
    replace: (t) => {
      holder![field] = t;
      return Buffer.from(JSON.stringify(root));
    },
  };
}

export function codexDeltaPiece(line: Buffer): DeltaPiece | null {
  if (!line.includes('Delta"') && !line.includes('/delta"')) return null;
  const msg = parseLine(line.toString('utf8'));
  if (!msg.ok || typeof msg.value.method !== 'string' || !CODEX_DELTAS.has(msg.value.method)) return null;
  return pieceAt(msg.value, asObject(msg.value.params), 'delta');
}

export function acpDeltaPiece(line: Buffer): DeltaPiece | null {
  if (!line.includes('_chunk"')) return null;
  const msg = parseLine(line.toString('utf8'));
  if (!msg.ok || msg.value.method !== 'session/update') return null;
  const update = asObject(asObject(msg.value.params)?.update);
  const content = asObject(update?.content);
  if (!ACP_CHUNKS.has(String(update?.sessionUpdate)) || content?.type !== 'text') return null;
  return pieceAt(msg.value, content, 'text');
}

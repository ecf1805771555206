// What the ACP harnesses (OpenCode, Gemini CLI) share: handshake, prompts, cancel, the parser.
import { acpDeltaPiece } from '../delta-piece.js';
import type { Prompt } from '../../api/index.js';
import type { AgentParser, Harness, StartOptions } from '../types.js';
import { AcpParser, type AcpDialect } from './parser.js';

const rpc = (o: Record<string, unknown>) => `${JSON.stringify({ jsonrpc: '2.0', ...o })}\n`;

type AcpHarnessSpec = Omit<Harness, 'logStdin' | 'handshake' | 'encodePrompt' | 'encodeCompact' | 'encodeInterrupt' | 'newParser' | 'supportsInterrupt' | 'supportsCompact' | 'readyTimeoutMs'> & {
  dialect: AcpDialect;
};

export function acpHarness(spec: AcpHarnessSpec): Harness {
  return {
    ...spec,
    supportsCompact: false,
    supportsInterrupt: true,
    // A Node bundle (Gemini CLI) or a Bun binary with its database (OpenCode) to start, then three
    // answered steps: measured 4 to 20 s, far more on a loaded machine.
    readyTimeoutMs: 120_000,
    // JSON-RPC requests are not conversation: caic records the prompts itself.
    logStdin: false,
    // The rest of the handshake (session, model) follows the agent's answers: the parser queues it.
    handshake: (o: StartOptions, parser: AgentParser) => {
      (parser as AcpParser).start(o);
      return [AcpParser.initialize()];
    },
    encodePrompt: (prompt: Prompt, parser: AgentParser) => {
      const p = parser as AcpParser;
      if (!p.ready) return null;
      const blocks = [...(prompt.images ?? []).map((img) => ({ type: 'image', mimeType: img.mediaType, data: img.data })), { type: 'text', text: prompt.text }];
      return rpc({ id: p.requestId(), method: 'session/prompt', params: { sessionId: p.promptSessionId, prompt: blocks } });
    },
    encodeCompact: () => null,
    // A notification: the running prompt answers with stopReason "cancelled". Harmless when idle.
    encodeInterrupt: (parser) => {
      const p = parser as AcpParser;
      return p.promptSessionId ? rpc({ method: 'session/cancel', params: { sessionId: p.promptSessionId } }) : null;
    },
    newParser: ({ model }) => new AcpParser(spec.dialect, { model, contextWindow: spec.contextWindow(model) }),
    deltaPiece: acpDeltaPiece,
  };
}

// Codex CLI: `codex app-server`, JSON-RPC over stdio (stdin is not mirrored into the relay log).
import type { Harness } from '../types.js';
import { CodexParser, REQUEST_IDS } from './parser.js';

const CONTEXT = 200_000;
const line = (o: unknown) => `${JSON.stringify(o)}\n`;

export const codexHarness: Harness = {
  name: 'codex',
  models: ['gpt-5.4', 'gpt-5.4-mini'],
  defaultModel: 'gpt-5.4',
  supportsImages: true,
  supportsCompact: true,
  contextWindow: () => CONTEXT,
  argv: () => ['codex', 'app-server'],
  logStdin: false,
  handshake: (o) => [
    line({ id: REQUEST_IDS.initialize, method: 'initialize', params: { clientInfo: { name: 'caic', version: '1' } } }),
    line({ method: 'initialized' }),
    o.resumeSessionId
      ? line({ id: REQUEST_IDS.thread, method: 'thread/resume', params: { threadId: o.resumeSessionId } })
      : line({ id: REQUEST_IDS.thread, method: 'thread/start', params: { model: o.model, cwd: o.cwd, approvalPolicy: 'never', sandbox: 'danger-full-access' } }),
  ],
  encodePrompt: (prompt, parser) => {
    const p = parser as CodexParser;
    if (!p.ready) return null;
    const input = [
      { type: 'text', text: prompt.text },
      ...(prompt.images ?? []).map((img) => ({ type: 'image', url: `data:${img.mediaType};base64,${img.data}` })),
    ];
    return line({ id: p.requestId(), method: 'turn/start', params: { threadId: p.threadId, input } });
  },
  encodeCompact: (_instructions, parser) => {
    const p = parser as CodexParser;
    return p.ready ? line({ id: p.requestId(), method: 'thread/compact/start', params: { threadId: p.threadId } }) : null;
  },
  newParser: ({ model }) => new CodexParser(model, CONTEXT),
};

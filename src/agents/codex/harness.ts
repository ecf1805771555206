// Codex CLI: `codex app-server`, JSON-RPC over stdio (stdin is not mirrored into the relay log).
import { codexDeltaPiece } from '../delta-piece.js';
import type { Harness } from '../types.js';
import { CodexParser, REQUEST_IDS } from './parser.js';

const CONTEXT = 200_000;
const line = (o: unknown) => `${JSON.stringify(o)}\n`;

/**
 * The app server reads neither OPENAI_API_KEY nor OPENAI_BASE_URL from its environment (measured,
 * codex 0.171): the key is stored with `codex login --with-api-key` (over a pipe, into
 * ~/.codex/auth.json, 0600) and the URL passed as the `openai_base_url` config key. Login output
 * must not reach stdout, which is the JSON-RPC stream.
 */
const LAUNCH = [
  'if [ -n "${OPENAI_API_KEY:-}" ]; then printenv OPENAI_API_KEY | codex login --with-api-key >/dev/null || exit 1; fi',
  'exec codex app-server ${OPENAI_BASE_URL:+-c "openai_base_url=\\"$OPENAI_BASE_URL\\""}',
].join('\n');

/** Notifications nothing here shows; opting out keeps them off the wire and out of the log. */
const OPT_OUT = [
  'item/commandExecution/outputDelta',
  'item/commandExecution/terminalInteraction',
  'item/fileChange/outputDelta',
  'item/fileChange/patchUpdated',
  'item/reasoning/summaryPartAdded',
  'item/reasoning/textDelta',
  'item/plan/delta',
  'turn/diff/updated',
  'thread/readState/changed',
  'account/rateLimits/updated',
  'remoteControl/status/changed',
  'mcpServer/startupStatus/updated',
  'skills/changed',
];

const threadSettings = { approvalPolicy: 'never', sandbox: 'danger-full-access' } as const;

export const codexHarness: Harness = {
  name: 'codex',
  // What `model/list` of codex 0.171 offers; the first is its default.
  models: ['gpt-6.2-sol', 'gpt-6.2-astra', 'gpt-6.1-terra', 'gpt-6.1-sol', 'gpt-6-astra', 'gpt-6-sol', 'gpt-6-luna', 'gpt-5.6-sol', 'gpt-5.6-terra', 'gpt-5.6-luna', 'gpt-5.5'],
  defaultModel: 'gpt-6.2-sol',
  supportsImages: true,
  supportsCompact: true,
  supportsInterrupt: true,
  // Login, then the app server's start-up and thread: seconds, more on a loaded machine.
  readyTimeoutMs: 60_000,
  credentials: { anyOf: ['OPENAI_API_KEY'], fix: 'set OPENAI_API_KEY in [harness.codex.env]' },
  contextWindow: () => CONTEXT,
  argv: () => ['sh', '-c', LAUNCH],
  logStdin: false,
  handshake: (o) => [
    line({ id: REQUEST_IDS.initialize, method: 'initialize', params: { clientInfo: { name: 'caic', title: 'caic', version: '1' }, capabilities: { optOutNotificationMethods: OPT_OUT } } }),
    line({ method: 'initialized' }),
    o.resumeSessionId
      ? // The history stays on disk: caic has it already, and a long thread makes a huge line.
        line({ id: REQUEST_IDS.thread, method: 'thread/resume', params: { threadId: o.resumeSessionId, model: o.model, cwd: o.cwd, excludeTurns: true, ...threadSettings } })
      : line({ id: REQUEST_IDS.thread, method: 'thread/start', params: { model: o.model, cwd: o.cwd, ...threadSettings } }),
  ],
  encodePrompt: (prompt, parser) => {
    const p = parser as CodexParser;
    if (!p.ready) return null;
    const input = [
      { type: 'text', text: prompt.text, text_elements: [] },
      ...(prompt.images ?? []).map((img) => ({ type: 'image', url: `data:${img.mediaType};base64,${img.data}` })),
    ];
    return line({ id: p.requestId(), method: 'turn/start', params: { threadId: p.threadId, input } });
  },
  encodeCompact: (_instructions, parser) => {
    const p = parser as CodexParser;
    return p.ready ? line({ id: p.requestId(), method: 'thread/compact/start', params: { threadId: p.threadId } }) : null;
  },
  encodeInterrupt: (parser) => {
    const p = parser as CodexParser;
    return p.ready && p.turnId ? line({ id: p.requestId(), method: 'turn/interrupt', params: { threadId: p.threadId, turnId: p.turnId } }) : null;
  },
  newParser: ({ model }) => new CodexParser(model, CONTEXT),
  deltaPiece: codexDeltaPiece,
};

// Claude Code: `claude -p` with stream-json in and out, under the relay.
import type { Prompt } from '../../api/index.js';
import type { CredentialSpec, Harness } from '../types.js';
import { claudeDeltaPiece, ClaudeParser } from './parser.js';

export const CLAUDE_CONTEXT_WINDOW = 180_000;

/** A stream-json user message: images first (as Claude Code expects), then the text. */
export function claudeUserMessage(prompt: Prompt): string {
  const content = [
    ...(prompt.images ?? []).map((img) => ({ type: 'image', source: { type: 'base64', media_type: img.mediaType, data: img.data } })),
    { type: 'text', text: prompt.text },
  ];
  return `${JSON.stringify({ type: 'user', message: { role: 'user', content } })}\n`;
}

/** Stream-json's interrupt: Claude Code ends the turn (a result follows) and keeps the session. */
export function claudeInterrupt(): string {
  return `${JSON.stringify({ type: 'control_request', request_id: `caic-interrupt-${Date.now().toString(36)}`, request: { subtype: 'interrupt' } })}\n`;
}

export const CLAUDE_CREDENTIALS: CredentialSpec = {
  anyOf: ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_USE_BEDROCK', 'CLAUDE_CODE_USE_VERTEX'],
  fix: 'set ANTHROPIC_API_KEY (or CLAUDE_CODE_OAUTH_TOKEN from `claude setup-token`) in [harness.claude.env]',
};

export const claudeHarness: Harness = {
  name: 'claude',
  models: ['opus', 'sonnet', 'haiku'],
  defaultModel: 'sonnet',
  supportsImages: true,
  supportsCompact: true,
  supportsInterrupt: true,
  readyTimeoutMs: 30_000,
  credentials: CLAUDE_CREDENTIALS,
  contextWindow: () => CLAUDE_CONTEXT_WINDOW,
  argv: (o) => [
    'claude',
    '-p',
    '--input-format',
    'stream-json',
    '--output-format',
    'stream-json',
    '--verbose',
    '--dangerously-skip-permissions',
    '--include-partial-messages',
    ...(o.model ? ['--model', o.model] : []),
    ...(o.resumeSessionId ? ['--resume', o.resumeSessionId] : []),
  ],
  logStdin: true,
  handshake: () => [],
  encodePrompt: (prompt) => claudeUserMessage(prompt),
  encodeCompact: (instructions) => claudeUserMessage({ text: `/compact ${instructions ?? ''}`.trim() }),
  encodeInterrupt: () => claudeInterrupt(),
  newParser: () => new ClaudeParser(CLAUDE_CONTEXT_WINDOW),
  deltaPiece: claudeDeltaPiece,
};

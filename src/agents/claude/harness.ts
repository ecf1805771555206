// Claude Code: `claude -p` with stream-json in and out, under the relay.
import type { Prompt } from '../../api/index.js';
import type { ApprovalAnswer, CredentialSpec, Harness, StartOptions } from '../types.js';
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

/**
 * The answer to a `can_use_tool` control request (Claude Code's permission prompt over stdio). An
 * allow carries no `updatedInput`: the agent runs the call as it asked (what caic saw of the input
 * may be masked or cut, and must not replace it).
 */
export function claudeApproval(a: ApprovalAnswer): string {
  const response = a.allow ? { behavior: 'allow' } : { behavior: 'deny', message: a.message };
  return `${JSON.stringify({ type: 'control_response', response: { subtype: 'success', request_id: a.requestId, response } })}\n`;
}

/**
 * How Claude Code (and the fake agent, which mimics it) is told about tool approval: unasked, or
 * asking over stdio for every call its default mode does not allow by itself (edits, Bash, web).
 */
export function claudePermissionArgs(o: StartOptions): string[] {
  return !o.permissionMode || o.permissionMode === 'bypass' ? ['--dangerously-skip-permissions'] : ['--permission-mode', 'default', '--permission-prompt-tool', 'stdio'];
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
    ...claudePermissionArgs(o),
    '--include-partial-messages',
    ...(o.model ? ['--model', o.model] : []),
    ...(o.resumeSessionId ? ['--resume', o.resumeSessionId] : []),
  ],
  logStdin: true,
  handshake: () => [],
  encodePrompt: (prompt) => claudeUserMessage(prompt),
  encodeCompact: (instructions) => claudeUserMessage({ text: `/compact ${instructions ?? ''}`.trim() }),
  supportsApproval: true,
  encodeApproval: (a) => claudeApproval(a),
  encodeInterrupt: () => claudeInterrupt(),
  newParser: () => new ClaudeParser(CLAUDE_CONTEXT_WINDOW),
  deltaPiece: claudeDeltaPiece,
};

// Gemini CLI: `gemini -p --output-format stream-json --yolo`; prompts are plain text lines.
import type { Harness } from '../types.js';
import { GeminiParser } from './parser.js';

const CONTEXT = 1_000_000;

export const geminiHarness: Harness = {
  name: 'gemini',
  models: ['gemini-3.1-pro', 'gemini-3-flash'],
  defaultModel: 'gemini-3.1-pro',
  supportsImages: false,
  supportsCompact: false,
  contextWindow: () => CONTEXT,
  argv: (o) => ['gemini', '-p', '--output-format', 'stream-json', '--yolo', ...(o.model ? ['-m', o.model] : []), ...(o.resumeSessionId ? ['--resume', o.resumeSessionId] : [])],
  logStdin: false,
  handshake: () => [],
  // One line per prompt: newlines inside would start a new prompt.
  encodePrompt: (prompt) => `${prompt.text.replace(/\r?\n/g, ' ')}\n`,
  encodeCompact: () => null,
  newParser: () => new GeminiParser(CONTEXT),
};

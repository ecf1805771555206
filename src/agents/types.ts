// The Harness interface: how caic starts one coding agent, talks to it, and reads its output.
import type { EventBody, HarnessName, Prompt } from '../api/index.js';

/** Turns an agent's wire lines into common events. Stateful; one per agent session. */
export interface AgentParser {
  /** Never throws: unknown lines become `system` events, malformed ones `error` events. */
  parse(line: string): EventBody[];
  /**
   * Optional fast path for replaying logs: `line` is a binary string (one character per byte, not
   * yet decoded as UTF-8). Returns the events of the commonest line shapes without decoding or
   * parsing the whole line, or null to take `parse`. Must give exactly what `parse` would.
   */
  parseBinary?(line: string): EventBody[] | null;
  /** Session id as the agent reported it (for --resume), '' until known. */
  readonly sessionId: string;
  /** The name the agent gave its session (a title for the task), '' or absent until it gives one. */
  readonly title?: string;
  /** True once the agent can take a prompt (JSON-RPC harnesses finish a handshake first). */
  readonly ready: boolean;
  /**
   * Lines the agent is owed in answer to what was parsed (replies to its JSON-RPC requests, the
   * next handshake step), taken by the live session, which writes them to the agent's stdin.
   * A parser that replays a log leaves them untaken; the session drops what a replay queued.
   */
  drain?(): string[];
}

/** The credentials an agent needs in `[harness.<name>.env]`: any one of `anyOf` will do. */
export interface CredentialSpec {
  anyOf: readonly string[];
  /** What to tell a user who has none. */
  fix: string;
}

export interface StartOptions {
  model: string;
  /** Resume this agent session (revive, reattach after the relay died). */
  resumeSessionId?: string;
  /** Working directory inside the container. */
  cwd: string;
}

/** A streamed delta line's text, and the same line with other text in its place. */
export interface DeltaPiece {
  text: string;
  replace(text: string): Buffer;
}

export interface Harness {
  readonly name: HarnessName;
  readonly models: readonly string[];
  readonly defaultModel: string;
  readonly supportsImages: boolean;
  readonly supportsCompact: boolean;
  readonly supportsInterrupt: boolean;
  /** How long a new session may take to accept its first prompt (start-up and handshake). */
  readonly readyTimeoutMs: number;
  /** Credentials it needs, or null when it needs none (the fake agent). */
  readonly credentials: CredentialSpec | null;
  /** Context window in tokens for a model. */
  contextWindow(model: string): number;
  /** The agent's command line (argv[0] resolved in the container's PATH, or an absolute path). */
  argv(opts: StartOptions, assets: AssetPaths): string[];
  /** Whether the relay should log what caic writes to the agent's stdin (stream-json prompts). */
  readonly logStdin: boolean;
  /** Lines to write when the session starts, before any prompt (JSON-RPC handshakes); `parser` is the session's. */
  handshake(opts: StartOptions, parser: AgentParser): string[];
  /** A prompt as stdin bytes, or null while the parser is not ready (the caller retries). */
  encodePrompt(prompt: Prompt, parser: AgentParser): string | null;
  /** The compact command, or null when the harness cannot compact. */
  encodeCompact(instructions: string | undefined, parser: AgentParser): string | null;
  /** What stops the current turn (the session stays), or null when the parser knows no turn runs. */
  encodeInterrupt(parser: AgentParser): string | null;
  newParser(opts: { model: string }): AgentParser;
  /**
   * When `line` is a streamed piece of the agent's output (a text, thinking or tool-input delta):
   * its text, and how to rebuild the line with other text. Lets caic mask a secret split across
   * pieces (src/tasks/redact.ts DeltaHold). Null for any other line. Without it, a harness's
   * deltas are masked one line at a time only.
   */
  deltaPiece?(line: Buffer): DeltaPiece | null;
}

/** Where deployed helper programs live in the container. */
export interface AssetPaths {
  relay: string;
  fakeAgent: string;
}

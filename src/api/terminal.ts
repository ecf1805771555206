// The task terminal's wire protocol: a WebSocket at GET /api/v1/tasks/{id}/terminal carrying a PTY shell in the task's container.
import { z } from 'zod';

/**
 * The protocol, both directions on one WebSocket:
 *
 * - **Binary frames** are terminal bytes: client → server is what the person types (UTF-8, control
 *   characters included), server → client is the PTY's output, unchanged.
 * - **Text frames** are JSON control messages: `TerminalClientMessage` from the client (a resize),
 *   `TerminalServerMessage` from the server (ready, the shell's exit, why it is closing). A text
 *   frame that is not a valid message closes the socket with 1007 (invalid payload).
 * - The server closes with one of `TERMINAL_CLOSE`: a client reconnects only after an abnormal
 *   close (1006, a network cut) or 1001/1011/1013 (server going away, failure, over capacity for
 *   now), never after exit, idle or the task's end: those are final.
 *
 * Before the upgrade, refusals are plain HTTP answers with the error envelope: 401 (no session),
 * 403 (Origin not this server's, or a cookie without an Origin), 404 (no such task for this
 * caller), 409 (task not live), 429 (too many terminals open).
 */
export const TerminalQuery = z.object({
  cols: z.coerce.number().int().min(1).max(1000).default(80).describe('Initial width of the PTY in cells.'),
  rows: z.coerce.number().int().min(1).max(1000).default(24).describe('Initial height of the PTY in cells.'),
});
export type TerminalQuery = z.infer<typeof TerminalQuery>;

const Cells = z.int().min(1).max(1000);

export const TerminalClientMessage = z
  .discriminatedUnion('type', [z.strictObject({ type: z.literal('resize'), cols: Cells, rows: Cells })])
  .meta({ id: 'TerminalClientMessage', description: 'A JSON text frame from the client: the terminal was resized.' });
export type TerminalClientMessage = z.infer<typeof TerminalClientMessage>;

/** Why the server ends a terminal (the close frame's reason names it too). */
export const TerminalEndReason = z.enum(['exit', 'idle', 'task_ended', 'shutdown', 'error']);
export type TerminalEndReason = z.infer<typeof TerminalEndReason>;

export const TerminalServerMessage = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('ready'),
      cols: Cells,
      rows: Cells,
      /** Seconds without input after which the server closes the terminal. */
      idleTimeoutSeconds: z.int().min(1),
    }),
    z.object({ type: z.literal('exit'), code: z.int().nullable(), signal: z.string().optional() }),
    z.object({ type: z.literal('closing'), reason: TerminalEndReason, message: z.string() }),
  ])
  .meta({ id: 'TerminalServerMessage', description: 'A JSON text frame from the server: the shell is ready, it exited, or the terminal is closing and why.' });
export type TerminalServerMessage = z.infer<typeof TerminalServerMessage>;

/** WebSocket close codes the server uses (4000-4999 are the application's own). */
export const TERMINAL_CLOSE = {
  /** The shell exited (its `exit` message came first). */
  exit: 1000,
  /** The daemon is shutting down. */
  shutdown: 1001,
  /** A text frame was not a valid control message. */
  badMessage: 1007,
  /** The SSH channel failed. */
  error: 1011,
  /** Nothing was typed for `[terminal] idle_timeout_seconds`. */
  idle: 4000,
  /** The task left the live states (stopped, purged, failed). */
  taskEnded: 4001,
} as const;

/** Close codes after which a client should not reconnect by itself. */
export const TERMINAL_FINAL_CLOSES: readonly number[] = [TERMINAL_CLOSE.exit, TERMINAL_CLOSE.badMessage, TERMINAL_CLOSE.idle, TERMINAL_CLOSE.taskEnded];

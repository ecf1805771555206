// TaskError: a refusal with an envelope code (NOT_FOUND, CONFLICT, ...) the HTTP layer passes on.
import type { ErrorCode } from '../api/index.js';

export class TaskError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

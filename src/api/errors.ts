// The JSON error envelope every failing response uses, and the code ↔ HTTP status mapping.
import { z } from 'zod';

export const ErrorCode = z.enum([
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'REQUEST_TIMEOUT',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RATE_LIMITED',
  'HEADERS_TOO_LARGE',
  'INTERNAL_ERROR',
  'SERVICE_UNAVAILABLE',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorResponse = z
  .object({
    error: z.object({ code: ErrorCode, message: z.string() }),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'ErrorResponse', description: 'Error envelope returned with every 4xx/5xx status.' });
export type ErrorResponse = z.infer<typeof ErrorResponse>;

export const statusOfCode: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};

const codeOfStatus = new Map<number, ErrorCode>(
  Object.entries(statusOfCode).map(([code, status]) => [status, code as ErrorCode]),
);

/** Maps any HTTP status to an envelope code; unknown 4xx become BAD_REQUEST, 5xx INTERNAL_ERROR. */
export function codeForStatus(status: number): ErrorCode {
  return codeOfStatus.get(status) ?? (status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL_ERROR');
}

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorResponse {
  return details === undefined ? { error: { code, message } } : { error: { code, message }, details };
}

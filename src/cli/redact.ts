// Tokens never reach the terminal: what the CLI prints from elsewhere (a server's error message, a
// network error) goes through here first.

/** Replaces bearer credentials and JWTs in `text` with [redacted]. */
export function redactTokens(text: string): string {
  return text.replace(/\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]').replace(/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted]');
}

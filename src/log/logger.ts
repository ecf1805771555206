// The pino logger: JSON lines, header redaction, and the secret masker applied to every line.
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { SecretMasker } from './masker.js';

export type { Logger } from 'pino';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = LevelWithSilent;

export interface LoggerOptions {
  level?: LogLevel;
  masker?: SecretMasker;
  /** Defaults to stdout; tests pass a capturing stream. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): { logger: Logger; masker: SecretMasker } {
  const masker = opts.masker ?? new SecretMasker();
  const logger = pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
          'res.headers["set-cookie"]',
          '*.accessToken',
          '*.refreshToken',
        ],
        censor: '[redacted]',
      },
      hooks: {
        // Last stop before the bytes leave the process: catches secrets in messages, errors and stacks.
        streamWrite: (line: string) => masker.mask(line),
      },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return { logger, masker };
}

// The pino logger: JSON lines (or readable ones for a terminal), header redaction, and the secret masker applied to every line.
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { SecretMasker } from './masker.js';

export type { Logger } from 'pino';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = LevelWithSilent;
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  masker?: SecretMasker;
  /** Defaults to stdout; tests pass a capturing stream. */
  destination?: DestinationStream;
  /** `json` (default): one JSON object per line. `pretty`: one readable line per record, for a person at a terminal. */
  format?: LogFormat;
  /** Colours in `pretty` lines (a terminal that shows them). */
  colorize?: boolean;
}

/**
 * Formats each line synchronously on its way out, after the masker saw the JSON: a secret is
 * masked before it is prettified, and nothing is buffered that an exit could lose.
 */
function prettyDestination(out: DestinationStream, colorize: boolean): DestinationStream {
  const pretty = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  const flushable = out as DestinationStream & { flush?: (cb: (err?: Error) => void) => void };
  return {
    write: (line: string) => out.write(pretty(line)),
    flush: (cb: (err?: Error) => void) => (flushable.flush ? flushable.flush(cb) : cb()),
  } as DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): { logger: Logger; masker: SecretMasker } {
  const masker = opts.masker ?? new SecretMasker();
  const out = opts.destination ?? pino.destination({ dest: 1, sync: true });
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
    opts.format === 'pretty' ? prettyDestination(out, opts.colorize ?? false) : out,
  );
  return { logger, masker };
}

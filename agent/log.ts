import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';
export { redactCredentials, redactUrl } from '../hal/redact.js';

/** Paths whose values never reach a log line, whatever the level. */
const REDACT = [
  'password',
  '*.password',
  '*.*.password',
  'secret',
  '*.secret',
  'key',
  '*.key',
  'token',
  '*.token',
];

/**
 * The root logger. Logs go to stderr so that stdout carries only a command's output
 * (`--json` listings stay parseable). Components take a child: `log.child({ component })`.
 */
export function createLogger(
  options: { level?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      level: options.level ?? process.env.THRESHOLD_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

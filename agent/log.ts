import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

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

/** A URL fit for a log line: credentials stripped, query dropped. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.username || url.password) {
      url.username = url.username ? '***' : '';
      url.password = url.password ? '***' : '';
    }
    url.search = '';
    return url.toString();
  } catch {
    return '[unparseable url]';
  }
}

/** Text fit for a log line or a status: credentials inside any URL in it are masked. */
export function redactCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1***@');
}

import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { UserError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';

/** What every command's action may need, created lazily so `--help` touches nothing. */
export interface CliContext {
  /** Reads and validates the `--config` file (a ConfigError names every bad key). */
  config(path: string): Promise<Config>;
  logger(level?: string): Logger;
  /** Writes a command's result to stdout (JSON listings go here, logs never do). */
  out(text: string): void;
}

export function defaultContext(): CliContext {
  return {
    config: loadConfig,
    logger: (level) => createLogger(level ? { level } : {}),
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  };
}

/** Adds the `--config FILE` option every device command takes. */
export function withConfigOption(command: Command): Command {
  return command.requiredOption('-c, --config <file>', 'the agent configuration file (JSON)');
}

/**
 * Parses an ISO-8601 time flag, naming the flag when it is not one. A zone is required:
 * without one, `Date.parse` would read the device's local time.
 */
export function parseIsoFlag(flag: string, value: string): number {
  const ms = Date.parse(value);
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ||
    Number.isNaN(ms)
  ) {
    throw new UserError(
      'bad_flag',
      `${flag}: not an ISO-8601 time with a zone, such as 2026-01-31T12:00:00Z`,
    );
  }
  return ms;
}

const REQUEST_ID = /^[A-Za-z0-9_-]{22}$/;

/** A request id argument: 22 characters of base64url, as intake stores them. */
export function parseRequestId(value: string, name = 'id'): string {
  if (!REQUEST_ID.test(value)) {
    throw new UserError(
      'bad_argument',
      `${name}: not a request id (22 characters of [A-Za-z0-9_-])`,
    );
  }
  return value;
}

/** Parses a flag that counts seconds (more than 0, at most `max`), naming the flag if not. */
export function parseSecondsFlag(flag: string, value: string, max = 600): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > max) {
    throw new UserError('bad_flag', `${flag}: a number of seconds, more than 0 and at most ${max}`);
  }
  return seconds;
}

/**
 * Typed errors with stable codes. They are caught in three places only: per request (an
 * audit entry), per service loop (log, back off, go on) and at the top level (log, exit
 * non-zero). A `UserError` is the user's to fix: the CLI prints its message on one line,
 * without a stack trace.
 */
import { ThresholdError, UserError } from '../hal/errors.js';

export { ThresholdError, UserError };

/** A configuration file that does not parse or does not match the schema. */
export class ConfigError extends UserError {
  constructor(readonly problems: readonly string[]) {
    super('config_invalid', problems.join('\n'));
  }
}

/** ffmpeg or ffprobe failed; `stderr` keeps the tail of what it printed. */
export class MediaToolError extends ThresholdError {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super('media_tool_failed', message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

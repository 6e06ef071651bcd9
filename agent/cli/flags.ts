import { z } from 'zod';
import { UserError } from '../errors.js';

/**
 * Command-line flags are outside input like any other: a command parses the options
 * commander collected (strings, as typed) with a zod schema before it does anything, as
 * the config is parsed. A bad flag is a `UserError` (exit 2) whose one line names the flag.
 *
 *   const options = parseFlags(z.object({ config: z.string(), duration: secondsFlag.optional() }), raw);
 */

/** commander's option key back to the flag that was typed: `dataDir` → `--data-dir`. */
export function flagName(key: PropertyKey): string {
  return `--${String(key).replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** Parses commander's options with `schema`; every problem names its flag, on one line. */
export function parseFlags<Schema extends z.ZodType>(
  schema: Schema,
  options: unknown,
): z.output<Schema> {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const flag = issue.path[0] === undefined ? 'flags' : flagName(issue.path[0]);
    return `${flag}: ${issue.message.replace(/^Invalid input: /, '')}`;
  });
  throw new UserError('bad_flag', problems.join('; '));
}

/**
 * The longest a Node timer waits (2^31 − 1 ms); a longer delay would fire at once
 * (Node's TimeoutOverflowWarning), so it is refused instead.
 */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** A number of seconds greater than 0, such as `30` or `2.5`. */
export const secondsFlag = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, 'not a number of seconds, such as 30 or 2.5')
  .transform(Number)
  .pipe(
    z
      .number()
      .positive('must be greater than 0')
      .max(MAX_TIMER_SECONDS, `must be at most ${MAX_TIMER_SECONDS} seconds`),
  );

/** A flag that must not be empty (a path, a name). */
export const textFlag = z.string().min(1, 'must not be empty');

import { UserError } from '../../agent/errors.js';

/**
 * Parsers for the agency tool's flags. Each throws a `UserError` whose one-line message
 * starts with the flag, so a typo is named, not guessed at.
 */

const fail = (flag: string, message: string): never => {
  throw new UserError('bad_flag', `${flag}: ${message}`);
};

export function numberFlag(
  flag: string,
  value: string,
  bounds: { min?: number; max?: number; integer?: boolean; positive?: boolean } = {},
): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) return fail(flag, 'not a number');
  if (bounds.integer && !Number.isInteger(n)) return fail(flag, 'must be a whole number');
  if (bounds.positive && n <= 0) return fail(flag, 'must be greater than 0');
  if (bounds.min !== undefined && n < bounds.min)
    return fail(flag, `must be at least ${bounds.min}`);
  if (bounds.max !== undefined && n > bounds.max)
    return fail(flag, `must be at most ${bounds.max}`);
  return n;
}

/** ISO-8601 with a zone, such as 2026-01-31T12:00:00Z: the device CLI's parser. */
export { parseIsoFlag as isoFlag } from '../../agent/cli/context.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "72h", "7d" → milliseconds. */
export function durationFlag(flag: string, value: string): number {
  const match = /^(\d+)([smhd])$/.exec(value);
  const unit = match ? UNITS[match[2] ?? ''] : undefined;
  if (!match || unit === undefined || Number(match[1]) <= 0) {
    return fail(flag, 'not a duration such as 90s, 30m, 72h or 7d');
  }
  return Number(match[1]) * unit;
}

/** A value matching `pattern`, described in the error as `what`. */
export function patternFlag(flag: string, value: string, pattern: RegExp, what: string): string {
  return pattern.test(value) ? value : fail(flag, `must be ${what}`);
}

export function textFlag(flag: string, value: string, max: number): string {
  if (value.length === 0) return fail(flag, 'must not be empty');
  if (value.length > max) return fail(flag, `must be at most ${max} characters`);
  return value;
}

export function httpsUrlFlag(flag: string, value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'https:' && url.hostname && !url.username && !url.password) return value;
  } catch {
    // fall through to the error below
  }
  return fail(flag, 'must be an https URL without credentials');
}

export function mqttUrlFlag(flag: string, value: string): string {
  try {
    const url = new URL(value);
    if (['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(url.protocol) && url.hostname) return value;
  } catch {
    // fall through to the error below
  }
  return fail(flag, 'must be an mqtt://, mqtts://, ws:// or wss:// URL');
}

/** For repeatable options: commander calls this with each value and the list so far. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** "a,b" or repeated flags → ["a", "b"], empty entries dropped. */
export function listFlag(values: readonly string[]): string[] {
  return values
    .flatMap((value) => value.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

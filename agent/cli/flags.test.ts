import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { flagName, MAX_TIMER_SECONDS, parseFlags, secondsFlag, textFlag } from './flags.js';

const flags = z.object({ dataDir: textFlag, duration: secondsFlag.optional() });

function refusal(options: unknown): UserError {
  try {
    parseFlags(flags, options);
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error('the flags were accepted');
}

describe('parseFlags', () => {
  it('turns the typed strings into values', () => {
    expect(parseFlags(flags, { dataDir: 'demo', duration: '30' })).toEqual({
      dataDir: 'demo',
      duration: 30,
    });
    expect(parseFlags(flags, { dataDir: 'demo', duration: ' 2.5 ' }).duration).toBe(2.5);
    expect(parseFlags(flags, { dataDir: 'demo' }).duration).toBeUndefined();
  });

  it('refuses a duration that is not a positive number of seconds a timer can wait, naming the flag', () => {
    const cases: [string, RegExp][] = [
      ['abc', /^--duration: not a number of seconds, such as 30 or 2\.5$/],
      ['', /^--duration: not a number/],
      ['1e3', /^--duration: not a number/],
      ['Infinity', /^--duration: not a number/],
      ['-5', /^--duration: not a number/],
      ['0', /^--duration: must be greater than 0$/],
      [String(MAX_TIMER_SECONDS + 1), /^--duration: must be at most 2147483 seconds$/],
    ];
    for (const [value, message] of cases) {
      const err = refusal({ dataDir: 'demo', duration: value });
      expect(err.code, value).toBe('bad_flag');
      expect(err.message, value).toMatch(message);
    }
    expect(parseFlags(flags, { dataDir: 'd', duration: String(MAX_TIMER_SECONDS) }).duration).toBe(
      MAX_TIMER_SECONDS,
    );
  });

  it('names every bad flag on one line, as typed (kebab case)', () => {
    const err = refusal({ dataDir: '', duration: 'soon' });
    expect(err.message).toBe(
      '--data-dir: must not be empty; --duration: not a number of seconds, such as 30 or 2.5',
    );
    expect(err.message).not.toContain('\n');
    expect(flagName('requestId')).toBe('--request-id');
  });
});

/**
 * The base of every typed error, here so that `hal/` and `agent/` share it (`hal/` never
 * imports `agent/`; `agent/errors.ts` re-exports it). `code` is stable: callers branch on
 * it, and it never carries a value from outside.
 */
export class ThresholdError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from the person at the keyboard: a config key, a flag, a file. */
export class UserError extends ThresholdError {}

import { UserError } from '../errors.js';
import type { Prompter } from './prompter.js';

/**
 * Where provisioning gets its answers: from flags (`--non-interactive`) or from the person
 * at the terminal. Every question is a `Field` with a flag, so every prompt has one by
 * construction; the same parser checks a flag's value and a typed answer.
 */

/** A bad answer; the message says what is wrong with it in plain words. */
export class AnswerError extends Error {}

export interface Field<T> {
  /** The long flag, e.g. `--lat`; its value is used instead of asking. */
  readonly flag: `--${string}`;
  /** What the question asks, e.g. "Latitude of the camera". */
  readonly label: string;
  /** What an empty answer (or a missing flag, non-interactively) means; absent: required. */
  readonly default?: string;
  /** Shown in brackets instead of `default` (e.g. "none" for ''). */
  readonly defaultLabel?: string;
  /** Not echoed; also read from this environment variable, to keep it out of `ps`. */
  readonly secret?: { readonly env: string };
  /** Checks a text answer; throws AnswerError. */
  parse(text: string): T;
}

/** The flags given, by flag name (`--lat` → '52.1'). */
export type FlagValues = ReadonlyMap<string, string>;

export interface AnswerSource {
  readonly interactive: boolean;
  /** The flag's value if given, else the answer to a prompt (or the default). Checked. */
  get<T>(field: Field<T>): Promise<T>;
  /** Whether the flag (or the secret's environment variable) was given. */
  has(field: Field<unknown>): boolean;
  /** Asks afresh, even when a flag was given (after another answer was found wrong). */
  ask<T>(field: Field<T>): Promise<T>;
  /**
   * The value of `field` failed a check made elsewhere (a login, a connection): asks
   * again showing `problem`, or, non-interactively, fails naming the flag.
   */
  again<T>(field: Field<T>, problem: string): Promise<T>;
  /** Tells the installer something (progress, a summary, a warning). */
  say(text: string): void;
}

/** A flag's value, or the secret's environment variable. */
function given(
  field: Field<unknown>,
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
): string | undefined {
  return flags.get(field.flag) ?? (field.secret ? env[field.secret.env] : undefined);
}

function flagProblem(field: Field<unknown>, message: string): UserError {
  return new UserError('provision_answer', `${field.flag}: ${message}`);
}

/** Answers from flags only: a missing one without a default is an error naming it. */
export class FlagAnswers implements AnswerSource {
  readonly interactive = false;

  constructor(
    private readonly flags: FlagValues,
    private readonly output: (text: string) => void,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async get<T>(field: Field<T>): Promise<T> {
    const text = given(field, this.flags, this.env) ?? field.default;
    if (text === undefined) {
      const alt = field.secret ? ` (or set ${field.secret.env})` : '';
      throw new UserError('provision_missing', `missing ${field.flag}${alt}: ${field.label}`);
    }
    try {
      return field.parse(text);
    } catch (err) {
      if (err instanceof AnswerError) throw flagProblem(field, err.message);
      throw err;
    }
  }

  has(field: Field<unknown>): boolean {
    return given(field, this.flags, this.env) !== undefined;
  }

  ask<T>(field: Field<T>): Promise<T> {
    return this.get(field);
  }

  async again<T>(field: Field<T>, problem: string): Promise<T> {
    throw flagProblem(field, problem);
  }

  say(text: string): void {
    this.output(text);
  }
}

/** Answers typed at a terminal; a flag given on the command line is used without asking. */
export class PromptAnswers implements AnswerSource {
  readonly interactive = true;

  constructor(
    private readonly prompter: Prompter,
    private readonly flags: FlagValues,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async get<T>(field: Field<T>): Promise<T> {
    const text = given(field, this.flags, this.env);
    if (text !== undefined) {
      try {
        return field.parse(text);
      } catch (err) {
        if (!(err instanceof AnswerError)) throw err;
        return this.again(field, `${field.flag}: ${err.message}`);
      }
    }
    return this.#ask(field);
  }

  has(field: Field<unknown>): boolean {
    return given(field, this.flags, this.env) !== undefined;
  }

  ask<T>(field: Field<T>): Promise<T> {
    return this.#ask(field);
  }

  async again<T>(field: Field<T>, problem: string): Promise<T> {
    this.prompter.say(`  ✗ ${problem}`);
    return this.#ask(field);
  }

  say(text: string): void {
    this.prompter.say(text);
  }

  /** Asks until the answer parses; each bad answer is explained, then asked again. */
  async #ask<T>(field: Field<T>): Promise<T> {
    const defaultText = field.defaultLabel ?? field.default;
    for (;;) {
      const answer = await this.prompter.ask(field.label, {
        ...(defaultText ? { defaultText } : {}),
        ...(field.secret ? { secret: true } : {}),
      });
      const text = answer === '' && field.default !== undefined ? field.default : answer;
      try {
        return field.parse(text);
      } catch (err) {
        if (!(err instanceof AnswerError)) throw err;
        this.prompter.say(`  ✗ ${err.message}`);
      }
    }
  }
}

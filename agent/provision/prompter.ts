import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';
import { UserError } from '../errors.js';

/**
 * Questions on a terminal through node:readline, one interface for the whole session (two
 * interfaces on one input would split its buffered bytes between them).
 *
 * A secret is read with the echo off: readline writes what it echoes to an output that is
 * muted while the answer is typed, so the characters never reach the terminal. History is
 * off, so no answer can be recalled with the arrow keys. Ctrl-C cancels the whole session.
 */
export interface PrompterIo {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  /** A real terminal: readline edits lines and handles Ctrl-C itself. */
  readonly terminal: boolean;
  /** Called on Ctrl-C, e.g. to abort a probe under way. */
  readonly onCancel?: () => void;
}

export class Prompter {
  readonly #rl: Interface;
  readonly #output: NodeJS.WritableStream;
  readonly #lines: string[] = [];
  readonly #waiting: ((line: string | null) => void)[] = [];
  #muted = false;
  #closed = false;
  #cancelled = false;

  constructor(io: PrompterIo) {
    this.#output = io.output;
    const muted = new Writable({
      write: (chunk, _encoding, done) => {
        if (!this.#muted) io.output.write(chunk);
        done();
      },
    });
    this.#rl = createInterface({
      input: io.input,
      output: muted,
      terminal: io.terminal,
      historySize: 0,
    });
    // Lines are queued rather than taken with rl.question(): a line typed (or piped)
    // ahead of its question is kept for it, not lost.
    this.#rl.on('line', (line) => {
      const waiter = this.#waiting.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
    this.#rl.on('close', () => {
      this.#closed = true;
      for (const waiter of this.#waiting.splice(0)) waiter(null);
    });
    this.#rl.on('SIGINT', () => {
      this.#cancelled = true;
      this.#rl.close();
      io.onCancel?.();
    });
  }

  /** Prints a line (or several) as it is. */
  say(text: string): void {
    this.#output.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /**
   * Asks one question, showing `defaultText` in brackets; an empty answer returns ''.
   * A `secret` answer is not echoed.
   */
  async ask(
    label: string,
    options: { defaultText?: string; secret?: boolean } = {},
  ): Promise<string> {
    const shown = options.defaultText ? ` [${options.defaultText}]` : '';
    // Through readline, so that its line editing redraws this prompt, not its own.
    this.#rl.setPrompt(`${label}${shown}: `);
    this.#rl.prompt(true);
    this.#muted = options.secret === true;
    let line: string | null;
    try {
      line = await this.#nextLine();
    } finally {
      this.#muted = false;
    }
    if (options.secret) this.#output.write('\n');
    if (line === null) {
      throw new UserError(
        'provision_cancelled',
        this.#cancelled ? 'cancelled; nothing was written' : 'input ended; nothing was written',
      );
    }
    return line.trim();
  }

  close(): void {
    if (!this.#closed) this.#rl.close();
  }

  #nextLine(): Promise<string | null> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}

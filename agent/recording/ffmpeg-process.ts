import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { redactCredentials } from '../log.js';

/**
 * A long-running ffmpeg, spawned without a shell, its stdout and fd 3 read as lines and
 * the tail of its stderr kept for error messages. `exited` resolves when the process is
 * gone and its output read to the end.
 */
export class FfmpegProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #child: ChildProcess;
  #stderrTail = '';

  constructor(
    ffmpegPath: string,
    args: readonly string[],
    handlers: { stdoutLine(line: string): void; fd3Line?(line: string): void },
  ) {
    this.#child = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const streams: Promise<void>[] = [];
    const readLines = (stream: Readable | null | undefined, onLine: (line: string) => void) => {
      if (!stream) return;
      const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
      lines.on('line', onLine);
      streams.push(new Promise((resolve) => lines.once('close', resolve)));
    };
    readLines(this.#child.stdout, handlers.stdoutLine);
    const fd3 = this.#child.stdio[3] as Readable | null | undefined;
    if (handlers.fd3Line) readLines(fd3, handlers.fd3Line);
    else fd3?.resume();
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderrTail = (this.#stderrTail + chunk.toString('utf8')).slice(-4096);
    });
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      this.#child.once('error', (err) => {
        this.#stderrTail += `\n${err.message}`;
        resolve({ code: null, signal: null });
      });
      this.#child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.exited = exit.then(async (result) => {
      await Promise.all(streams);
      return result;
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The last lines ffmpeg printed on stderr, credentials in URLs masked (ffmpeg quotes its input URL). */
  stderrTail(): string {
    return redactCredentials(this.#stderrTail.trim());
  }

  /**
   * Asks ffmpeg to finish (SIGTERM: it closes the segment in progress and writes the
   * trailer), then kills it if it has not exited within `graceMs`.
   */
  async terminate(graceMs: number): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { MediaToolError } from '../errors.js';
import { exportCancelled } from './types.js';

const STDERR_TAIL_BYTES = 4096;

export interface RunToolOptions {
  signal?: AbortSignal;
  /** Called with each stdout line (ffmpeg `-progress pipe:1`); stdout is not kept then. */
  onLine?: (line: string) => void;
  /** Given the tool's stdin at once; without it stdin is closed. */
  stdin?: (sink: Writable) => void;
  /**
   * Stderr that means failure even with exit status 0: ffmpeg 5.1 exits 0 when it cannot
   * write a file's trailer (the MP4 index), leaving a broken file.
   */
  failOn?: RegExp;
}

/**
 * Runs ffmpeg or ffprobe to completion without a shell and returns its stdout. A non-zero
 * exit is a `MediaToolError` holding the tail of stderr; an abort kills the process and
 * rejects with `ExportError('export_cancelled')` once it is gone.
 */
export function runMediaTool(
  command: string,
  args: readonly string[],
  options: RunToolOptions = {},
): Promise<string> {
  const { signal, onLine } = options;
  if (signal?.aborted) return Promise.reject(exportCancelled(signal));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    // A tool that exits without reading all its input breaks the pipe; its exit status says
    // whether that matters.
    child.stdin.on('error', () => {});
    if (options.stdin) options.stdin(child.stdin);
    else child.stdin.end();
    let stdout = '';
    let stderr = '';
    let spawnError: Error | undefined;
    const stdoutDone = new Promise<void>((done) => {
      if (onLine) {
        const lines = createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY });
        lines.on('line', onLine);
        lines.once('close', done);
      } else {
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => {
          stdout += chunk;
        });
        child.stdout.once('close', done);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      spawnError = err;
    });
    child.once('close', (code, killedBy) => {
      signal?.removeEventListener('abort', onAbort);
      void stdoutDone.then(() => {
        if (signal?.aborted) reject(exportCancelled(signal));
        else if (spawnError) {
          reject(new MediaToolError(`cannot run ${command}: ${spawnError.message}`, stderr));
        } else if (code !== 0) {
          const how = code === null ? `was killed (${killedBy})` : `exited with ${code}`;
          reject(new MediaToolError(`${command} ${how}: ${lastLine(stderr)}`, stderr.trim()));
        } else if (options.failOn?.test(stderr)) {
          reject(new MediaToolError(`${command} failed: ${lastLine(stderr)}`, stderr.trim()));
        } else resolve(stdout);
      });
    });
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines.at(-1)?.trim() || 'no message';
}

/**
 * Reads ffmpeg's `-progress` key=value lines and reports the fraction of `totalS` written.
 * `out_time_us` is the output position (ffmpeg 5.1's `out_time_ms` is microseconds too,
 * a long-standing misnomer, so the explicit key is preferred).
 */
export function progressReader(
  totalS: number,
  report: (fraction: number) => void,
): (line: string) => void {
  let last = -1;
  return (line) => {
    const match = /^out_time_us=(-?\d+)$/.exec(line.trim());
    let fraction: number | undefined;
    if (match?.[1] !== undefined && totalS > 0) {
      fraction = Math.min(1, Math.max(0, Number(match[1]) / 1e6 / totalS));
    } else if (line.trim() === 'progress=end') {
      fraction = 1;
    }
    if (fraction !== undefined && fraction > last) {
      last = fraction;
      report(fraction);
    }
  };
}

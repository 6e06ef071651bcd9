import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { FileReader, FileSource, SliceResult } from 'tus-js-client';
import { UploadError } from './errors.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * The sealed file as tus-js-client sees it. tus-js-client's own Node file source re-opens
 * streams with its default buffering; ours hands the HTTP stack a byte range, which the
 * stack reads only while the socket takes the bytes (backpressure), paced by the bandwidth
 * cap. Memory stays flat: a few reads in flight, whatever the file size.
 */

/** What the uploader passes to tus-js-client as its "file". */
export class SealedFile {
  constructor(
    readonly path: string,
    readonly size: number,
  ) {}
}

/** A body for one PATCH: bytes [start, end) of the sealed file. */
export class FileRange {
  constructor(
    readonly path: string,
    readonly start: number,
    readonly end: number,
  ) {}

  /** tus-js-client reads `size` to learn how much the slice holds. */
  get size(): number {
    return this.end - this.start;
  }
}

export class SealedFileReader implements FileReader {
  async openFile(input: unknown): Promise<FileSource> {
    if (!(input instanceof SealedFile)) {
      throw new UploadError('upload_invalid', 'the uploader reads sealed files only');
    }
    return {
      size: input.size,
      slice: async (start: number, end: number): Promise<SliceResult> => {
        const last = Math.min(end, input.size);
        return { value: new FileRange(input.path, start, last), done: last >= input.size };
      },
      close: () => undefined,
    };
  }
}

/** Bytes per read: large enough for throughput, small against the 16 MiB memory budget. */
export const READ_BYTES = 256 * 1024;

export interface RangeStreamOptions {
  readonly limiter?: RateLimiter;
  readonly signal?: AbortSignal;
  /** Called with each read's size as it is handed to the socket. */
  readonly onBytes?: (bytes: number) => void;
  /** True while a read waits for the bandwidth cap (not a stall). */
  readonly onThrottled?: (waiting: boolean) => void;
}

/** A readable stream of one range, read on demand. */
export class RangeStream extends Readable {
  private handle: FileHandle | undefined;
  private position: number;

  constructor(
    private readonly range: FileRange,
    private readonly options: RangeStreamOptions = {},
  ) {
    super({ highWaterMark: READ_BYTES });
    this.position = range.start;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.range.path, 'r').then(
      (handle) => {
        this.handle = handle;
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _read(): void {
    this.readNext().then(
      (chunk) => this.push(chunk),
      (err: Error) => this.destroy(err),
    );
  }

  private async readNext(): Promise<Buffer | null> {
    const remaining = this.range.end - this.position;
    if (remaining <= 0) return null;
    const { limiter, signal } = this.options;
    let want = Math.min(READ_BYTES, remaining);
    if (limiter) {
      want = Math.min(want, limiter.readSize(READ_BYTES));
      this.options.onThrottled?.(true);
      try {
        await limiter.take(want, signal);
      } finally {
        this.options.onThrottled?.(false);
      }
    }
    const handle = this.handle;
    if (!handle || this.destroyed) return null;
    const buffer = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(buffer, 0, want, this.position);
    if (bytesRead === 0) {
      throw new UploadError('upload_invalid', 'the sealed file is shorter than when it was sized');
    }
    this.position += bytesRead;
    this.options.onBytes?.(bytesRead);
    return bytesRead === want ? buffer : buffer.subarray(0, bytesRead);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) {
      callback(error);
      return;
    }
    handle.close().then(
      () => callback(error),
      () => callback(error),
    );
  }
}

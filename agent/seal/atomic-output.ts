import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Written bytes after which `write` starts flushing them to disk in the background. */
const FLUSH_BEHIND_BYTES = 8 * 1024 * 1024;

/**
 * A file that appears at its path complete or not at all: written under a temporary name
 * in the same directory, then fsynced, renamed into place and the directory fsynced (the
 * crash order of DESIGN.md). A crash leaves at most a `.*.part` file, never a partial file
 * at `path`.
 *
 * Write-behind: every few MiB written, `write` starts an fdatasync without waiting for it,
 * so the disk writes while the writer goes on computing, and the fsync in `commit` waits
 * only for the tail. A failed background flush fails `commit`: Linux reports a writeback
 * error to one fsync only, so it must not be lost here.
 */
export class AtomicOutput {
  private closed = false;
  private unflushed = 0;
  private flushing: Promise<void> | undefined;
  private flushError: { readonly error: unknown } | undefined;

  private constructor(
    readonly path: string,
    readonly tempPath: string,
    readonly handle: FileHandle,
  ) {}

  static async create(path: string, mode = 0o600): Promise<AtomicOutput> {
    const tempPath = join(
      dirname(path),
      `.${basename(path)}.${randomBytes(6).toString('hex')}.part`,
    );
    const handle = await open(tempPath, 'wx', mode);
    return new AtomicOutput(path, tempPath, handle);
  }

  /** Writes all of `bytes` at `position`; see write-behind above. */
  async write(bytes: Uint8Array, position: number): Promise<void> {
    await writeAll(this.handle, bytes, position);
    this.unflushed += bytes.length;
    if (this.unflushed >= FLUSH_BEHIND_BYTES && !this.flushing) {
      this.unflushed = 0;
      this.flushing = this.handle
        .datasync()
        .catch((error: unknown) => {
          this.flushError ??= { error };
        })
        .finally(() => {
          this.flushing = undefined;
        });
    }
  }

  /** Makes the file durable and puts it at `path`. */
  async commit(): Promise<void> {
    await this.flushing;
    if (this.flushError) throw this.flushError.error;
    await this.handle.sync();
    this.closed = true;
    await this.handle.close();
    await rename(this.tempPath, this.path);
    await syncDirectory(dirname(this.path));
  }

  /**
   * Closes and removes the temporary file. Used on a failure path: the failure being
   * handled is the one worth reporting, so an error closing the half-written file is
   * dropped, while removing it must succeed.
   */
  async abort(): Promise<void> {
    await this.flushing; // it never rejects: its error is kept for commit
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await rm(this.tempPath, { force: true });
  }
}

export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes all of `bytes` at `position`, repeating over short writes. */
export async function writeAll(
  out: FileHandle,
  bytes: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await out.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

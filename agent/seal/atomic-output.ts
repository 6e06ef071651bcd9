import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * A file that appears at its path complete or not at all: written under a temporary name
 * in the same directory, then fsynced, renamed into place and the directory fsynced (the
 * crash order of DESIGN.md). A crash leaves at most a `.*.part` file, never a partial file
 * at `path`.
 */
export class AtomicOutput {
  private closed = false;

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

  /** Makes the file durable and puts it at `path`. */
  async commit(): Promise<void> {
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

/**
 * A few preallocated chunk buffers reused in turn, so that while chunk `i` is sealed or
 * opened (synchronous JavaScript) the read of a later chunk and the write of an earlier one
 * run in libuv's thread pool. Nothing is allocated per chunk, so memory stays flat
 * whatever the file size.
 *
 * INVARIANTS:
 * - chunk `i` lives in buffer `i % slots`;
 * - a read into a buffer starts only after the previous write from it has finished;
 * - every read and write promise has a handler from the moment it exists (no unhandled
 *   rejection while the caller is busy), and `settle()` waits for all of them before the
 *   caller closes its files.
 */
export class ChunkRing {
  private readonly buffers: Uint8Array[];
  private readonly reads = new Map<number, Promise<number>>();
  private readonly writes: (Promise<void> | undefined)[];

  constructor(
    private readonly slots: number,
    bufferBytes: number,
  ) {
    this.buffers = Array.from({ length: slots }, () => new Uint8Array(bufferBytes));
    this.writes = new Array(slots).fill(undefined);
  }

  buffer(index: number): Uint8Array {
    const buffer = this.buffers[index % this.slots];
    if (!buffer) throw new RangeError(`no buffer for chunk ${index}`);
    return buffer;
  }

  /** Starts reading chunk `index` once its buffer is free; resolves when the read is issued. */
  async startRead(index: number, read: (buffer: Uint8Array) => Promise<number>): Promise<void> {
    const pending = this.writes[index % this.slots];
    if (pending) await pending;
    this.reads.set(index, handled(read(this.buffer(index))));
  }

  /** The byte count of chunk `index`'s read (started earlier with `startRead`). */
  read(index: number): Promise<number> {
    const pending = this.reads.get(index);
    if (!pending) throw new Error(`chunk ${index} was never read`);
    this.reads.delete(index);
    return pending;
  }

  /** Starts writing from chunk `index`'s buffer; the buffer is not reused until it ends. */
  startWrite(index: number, write: (buffer: Uint8Array) => Promise<void>): void {
    this.writes[index % this.slots] = handled(write(this.buffer(index)));
  }

  /** Waits for every read and write in flight; rethrows the first failure among them. */
  async settle(): Promise<void> {
    const pending: Promise<unknown>[] = [...this.reads.values()];
    for (const write of this.writes) if (write) pending.push(write);
    this.reads.clear();
    this.writes.fill(undefined);
    const results = await Promise.allSettled(pending);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Zeroes every buffer (they held plaintext). */
  wipe(): void {
    for (const buffer of this.buffers) buffer.fill(0);
  }
}

/**
 * Marks `promise` as handled now; whoever awaits it later still sees its rejection. Without
 * this, a write failing while the caller computes would be an unhandled rejection.
 */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

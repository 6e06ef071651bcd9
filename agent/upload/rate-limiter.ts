import { delay } from '../lifecycle.js';

/**
 * The bandwidth cap (`upload.maxBytesPerSecond`), shared by every upload of one uploader.
 * It paces the bytes read from the sealed file, so the socket can send no faster: a
 * virtual clock (GCRA) that each read advances by `bytes / rate`; a read waits until the
 * clock's previous position. No token refill timer, no burst beyond one read.
 */
export class RateLimiter {
  /** When the bytes granted so far have been "sent" at the cap, ms on `now`'s clock. */
  private clock = 0;

  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * The read size that keeps each wait short (about 1/8 s at the cap), so pacing stays
   * smooth and a wait never looks like a stall.
   */
  readSize(maxBytes: number): number {
    return Math.max(4096, Math.min(maxBytes, Math.floor(this.bytesPerSecond / 8)));
  }

  /** Waits until `bytes` more may be read. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = this.now();
    const start = Math.max(this.clock, now);
    this.clock = start + (bytes * 1000) / this.bytesPerSecond;
    if (start > now) await delay(start - now, signal);
  }
}

/**
 * Maps one recorder run's stream time (seconds from ffmpeg's first packet) to wall-clock
 * ms. A segment is announced when ffmpeg reads the first packet of the next one, so
 * `announcedAt - ptsEnd` is the run's epoch plus a delay that is never negative (network,
 * buffering). The smallest such value over a recent window estimates the epoch: the
 * minimum filters out delays, and the window lets the estimate follow drift between the
 * camera's clock and ours.
 *
 * INVARIANTS: within a run, consecutive segments are contiguous (start = previous end)
 * and no segment ends before it starts; so joined segments span exactly what the index
 * says, give or take the slew applied when the estimate moves.
 */
export class WallClockMap {
  readonly #window: number[] = [];
  #prevEndMs: number | null = null;
  #prevPtsEnd: number | null = null;

  constructor(private readonly windowSize = 30) {}

  /** Wall-clock span of a segment announced at `announcedAt` (ms). */
  place(ptsStart: number, ptsEnd: number, announcedAt: number): { startMs: number; endMs: number } {
    this.#window.push(announcedAt - ptsEnd * 1000);
    if (this.#window.length > this.windowSize) this.#window.shift();
    const epoch = Math.min(...this.#window);
    const durationMs = (ptsEnd - ptsStart) * 1000;
    const contiguous =
      this.#prevEndMs !== null &&
      this.#prevPtsEnd !== null &&
      Math.abs(ptsStart - this.#prevPtsEnd) < 0.05;
    const startMs =
      contiguous && this.#prevEndMs !== null
        ? this.#prevEndMs
        : Math.round(epoch + ptsStart * 1000);
    // Never let a segment shrink below half or grow above 1.5 times its own duration.
    const endMs = Math.round(
      Math.min(
        Math.max(epoch + ptsEnd * 1000, startMs + durationMs * 0.5),
        startMs + durationMs * 1.5,
      ),
    );
    this.#prevEndMs = endMs;
    this.#prevPtsEnd = ptsEnd;
    return { startMs, endMs };
  }

  /** Wall-clock ms of a stream time, for motion samples. Null before the first segment. */
  toWall(ptsTime: number): number | null {
    if (this.#window.length === 0) return null;
    return Math.round(Math.min(...this.#window) + ptsTime * 1000);
  }
}

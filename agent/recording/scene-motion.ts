import type { MotionEvent } from '../../hal/interfaces.js';

/**
 * Turns scene scores between consecutive keyframes into motion events. Motion starts at
 * the keyframe before the first score above the threshold (the change happened between
 * the two) and ends at the last keyframe above it, once the scores stayed below for
 * `quietMs` (a person pausing mid-way is one event, not two). The first samples of a stream are ignored: a decoder that starts mid-GOP
 * yields a first picture unlike the next, which is no motion.
 */
export class SceneMotionDetector {
  #prevTime: number | null = null;
  #open: { start: number; lastMoving: number; peak: number } | null = null;
  #seen = 0;

  constructor(
    private readonly threshold: number,
    private readonly quietMs = 3000,
    private readonly warmupSamples = 2,
  ) {}

  /** Feeds one sample (wall ms, score); returns what changed: an event opened or closed. */
  push(timeMs: number, score: number): { opened?: MotionEvent; closed?: MotionEvent } {
    const prev = this.#prevTime ?? timeMs;
    this.#prevTime = timeMs;
    this.#seen += 1;
    if (this.#seen <= this.warmupSamples) return {};
    if (score > this.threshold) {
      if (!this.#open) {
        this.#open = { start: prev, lastMoving: timeMs, peak: score };
        return { opened: { start: prev, end: null, score, source: 'scene' } };
      }
      this.#open.lastMoving = timeMs;
      this.#open.peak = Math.max(this.#open.peak, score);
      return {};
    }
    if (!this.#open || timeMs - this.#open.lastMoving < this.quietMs) return {};
    return { closed: this.close() };
  }

  /** Closes an open event (end of a run); undefined when none is open. */
  flush(): MotionEvent | undefined {
    return this.#open ? this.close() : undefined;
  }

  private close(): MotionEvent {
    const open = this.#open;
    if (!open) throw new Error('no open motion event');
    this.#open = null;
    return { start: open.start, end: open.lastMoving, score: open.peak, source: 'scene' };
  }
}

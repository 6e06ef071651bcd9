import type { MotionEvent, MotionSource } from '../interfaces.js';

/**
 * A motion sensor driven by the test or demo: `trigger(ms)` senses motion for `ms`,
 * reporting the opening at once and the closed event when it ends.
 */
export class EmulatedMotionSource implements MotionSource {
  readonly kind = 'emulated';
  readonly #timers = new Set<NodeJS.Timeout>();
  #onEvent: ((event: MotionEvent) => void) | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  async start(signal: AbortSignal, onEvent: (event: MotionEvent) => void): Promise<void> {
    this.#onEvent = onEvent;
    signal.addEventListener('abort', () => void this.stop(), { once: true });
  }

  async stop(): Promise<void> {
    this.#onEvent = null;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  trigger(durationMs: number): void {
    const start = this.now();
    this.#onEvent?.({ start, end: null, score: 1, source: 'emulated' });
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#onEvent?.({ start, end: this.now(), score: 1, source: 'emulated' });
    }, durationMs);
    this.#timers.add(timer);
  }
}

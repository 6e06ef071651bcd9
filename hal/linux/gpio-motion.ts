import { readFile } from 'node:fs/promises';
import type { MotionEvent, MotionSource } from '../interfaces.js';

/**
 * A PIR motion sensor on a GPIO line, read from its sysfs `value` file ("1" while it
 * senses motion). Polled: PIR outputs hold high for seconds, so 100 ms polling loses
 * nothing and costs next to no CPU.
 */
export class GpioMotionSource implements MotionSource {
  readonly kind = 'pir';
  #timer: NodeJS.Timeout | null = null;
  #openedAt: number | null = null;

  constructor(
    private readonly valuePath: string,
    private readonly now: () => number = Date.now,
    private readonly pollMs = 100,
  ) {}

  async start(signal: AbortSignal, onEvent: (event: MotionEvent) => void): Promise<void> {
    await readFile(this.valuePath, 'utf8'); // fails early when the line is not exported
    const poll = async () => {
      const high = (await readFile(this.valuePath, 'utf8').catch(() => '0')).trim() === '1';
      const now = this.now();
      if (high && this.#openedAt === null) {
        this.#openedAt = now;
        onEvent({ start: now, end: null, score: 1, source: 'pir' });
      } else if (!high && this.#openedAt !== null) {
        onEvent({ start: this.#openedAt, end: now, score: 1, source: 'pir' });
        this.#openedAt = null;
      }
      if (!signal.aborted && this.#timer !== null)
        this.#timer = setTimeout(() => void poll(), this.pollMs);
    };
    this.#timer = setTimeout(() => void poll(), this.pollMs);
    signal.addEventListener('abort', () => void this.stop(), { once: true });
  }

  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

import type { Clock } from '../interfaces.js';

/**
 * A clock the test sets. Wall time can be set anywhere (including back to 1970), as a
 * real device's can; monotonic time only moves forward with `advance`.
 */
export class ManualClock implements Clock {
  #wall: number;
  #mono = 0;

  constructor(wall: number = Date.UTC(2026, 0, 1)) {
    this.#wall = wall;
  }

  now(): number {
    return this.#wall;
  }

  monotonic(): number {
    return this.#mono;
  }

  /** Moves both clocks forward by `ms`. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('advance takes a non-negative duration');
    this.#wall += ms;
    this.#mono += ms;
  }

  /** Sets the wall clock, as an NTP step or a reset to 1970 would. */
  setWall(ms: number): void {
    this.#wall = ms;
  }
}

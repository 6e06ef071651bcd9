import { describe, expect, it } from 'vitest';
import type { Clock } from '../interfaces.js';

/** What every Clock must do. `tick` lets time pass (really, or by advancing a fake). */
export function clockContract(
  name: string,
  make: () => { clock: Clock; tick(ms: number): Promise<void> },
) {
  describe(`Clock contract: ${name}`, () => {
    it('gives wall time as integer ms since the epoch, after 2020', () => {
      const { clock } = make();
      const now = clock.now();
      expect(Number.isInteger(now)).toBe(true);
      expect(now).toBeGreaterThan(Date.UTC(2020, 0, 1));
    });

    it('moves monotonic time forward by at least the time that passed, never back', async () => {
      const { clock, tick } = make();
      const before = clock.monotonic();
      await tick(20);
      const after = clock.monotonic();
      expect(after - before).toBeGreaterThanOrEqual(19);
      for (let i = 0; i < 1000; i++) expect(clock.monotonic()).toBeGreaterThanOrEqual(after);
    });
  });
}

import { describe, expect, it } from 'vitest';
import type { MotionEvent, MotionSource } from '../interfaces.js';

/**
 * What every MotionSource must do. `stimulate` makes the hardware sense motion for
 * about `ms` (a real sensor cannot be stimulated here; its test drives what it reads).
 */
export function motionContract(
  name: string,
  make: () => Promise<{ source: MotionSource; stimulate(ms: number): Promise<void> }>,
) {
  describe(`MotionSource contract: ${name}`, () => {
    it('reports motion as an event with a start no later than its end', async () => {
      const { source, stimulate } = await make();
      const events: MotionEvent[] = [];
      const abort = new AbortController();
      const before = Date.now();
      await source.start(abort.signal, (event) => events.push(event));
      await stimulate(300);
      const deadline = Date.now() + 3000;
      while (!events.some((event) => event.end !== null) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await source.stop();
      const closed = events.find((event) => event.end !== null);
      expect(closed).toBeDefined();
      expect(closed?.start).toBeGreaterThanOrEqual(before - 1000);
      expect(closed?.end ?? 0).toBeGreaterThanOrEqual(closed?.start ?? Number.POSITIVE_INFINITY);
      expect(closed?.source).toBe(source.kind);
    });

    it('reports nothing after stop', async () => {
      const { source, stimulate } = await make();
      const events: MotionEvent[] = [];
      await source.start(new AbortController().signal, (event) => events.push(event));
      await source.stop();
      await stimulate(300);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(events).toEqual([]);
    });
  });
}

import { describe, expect, it } from 'vitest';
import { WallClockMap } from './wall-clock-map.js';

describe('WallClockMap', () => {
  it('places contiguous segments end to start, anchored at the least delayed announcement', () => {
    const map = new WallClockMap();
    const epoch = 1_700_000_000_000;
    const delays = [900, 40, 55, 35, 60];
    const placed = delays.map((delayMs, i) =>
      map.place(i * 2, (i + 1) * 2, epoch + (i + 1) * 2000 + delayMs),
    );
    for (let i = 1; i < placed.length; i++) {
      expect(placed[i]?.startMs).toBe(placed[i - 1]?.endMs);
    }
    // The last segment ends where the best estimate (35 ms late) puts it.
    expect(placed.at(-1)?.endMs).toBe(epoch + 10_000 + 35);
    const span = (placed.at(-1)?.endMs ?? 0) - (placed[0]?.startMs ?? 0);
    expect(Math.abs(span - 10_000)).toBeLessThan(1000);
  });

  it('never makes a segment shorter than half its stream duration', () => {
    const map = new WallClockMap();
    map.place(0, 2, 10_000 + 5000);
    const next = map.place(2, 4, 10_000 + 4000);
    expect(next.endMs - next.startMs).toBeGreaterThanOrEqual(1000);
  });

  it('starts afresh after a discontinuity in stream time', () => {
    const map = new WallClockMap();
    map.place(0, 2, 2100);
    const jumped = map.place(50, 52, 52_100);
    expect(jumped.startMs).toBe(50_100);
  });

  it('converts stream time to wall time once anchored', () => {
    const map = new WallClockMap();
    expect(map.toWall(1)).toBeNull();
    map.place(0, 2, 5000);
    expect(map.toWall(1)).toBe(4000);
  });
});

import { describe, expect, it } from 'vitest';
import { offerClips } from './offers.js';
import { planClips } from './plan.js';

const S = 1_000;
const window = { start: 100 * S, end: 200 * S };
const segments = Array.from({ length: 60 }, (_, i) => ({
  startMs: 80 * S + i * 2 * S,
  endMs: 82 * S + i * 2 * S,
  bytes: 1000,
}));
const base = { window, segments, preRollMs: 5 * S, postRollMs: 10 * S, now: 300 * S };

describe('offerClips', () => {
  it('offers the whole window when there was no motion', () => {
    const offers = offerClips({ ...base, motion: [] });
    expect(offers).toEqual([
      { index: 0, start: 100 * S, end: 200 * S, motion: false, bytes: 50 * 1000 },
    ]);
  });

  it('offers one clip per motion event, widened by the rolls and cut to the window', () => {
    const offers = offerClips({
      ...base,
      motion: [
        { start: 150 * S, end: 155 * S },
        { start: 102 * S, end: 104 * S },
        { start: 195 * S, end: null },
      ],
    });
    expect(offers.map(({ index, start, end, motion }) => ({ index, start, end, motion }))).toEqual([
      { index: 0, start: 100 * S, end: 114 * S, motion: true },
      { index: 1, start: 145 * S, end: 165 * S, motion: true },
      { index: 2, start: 190 * S, end: 200 * S, motion: true },
    ]);
    expect(offers[1]?.bytes).toBe(11 * 1000);
  });

  it('merges events whose clips touch', () => {
    const offers = offerClips({
      ...base,
      motion: [
        { start: 120 * S, end: 122 * S },
        { start: 135 * S, end: 140 * S },
      ],
    });
    expect(offers.map(({ start, end }) => [start / S, end / S])).toEqual([[115, 150]]);
  });

  it('ignores motion whose rolled span misses the window', () => {
    const offers = offerClips({ ...base, motion: [{ start: 40 * S, end: 50 * S }] });
    expect(offers).toHaveLength(1);
    expect(offers[0]?.motion).toBe(false);
  });
});

describe('planClips', () => {
  const offers = offerClips({
    ...base,
    motion: [
      { start: 110 * S, end: 112 * S },
      { start: 150 * S, end: 155 * S },
    ],
  });

  it('shares every offered clip when nothing is named', () => {
    expect(planClips(window, offers, { clips: [], ranges: [] })).toEqual([
      { clipIndex: 0, start: 105 * S, end: 122 * S },
      { clipIndex: 1, start: 145 * S, end: 165 * S },
    ]);
  });

  it('narrows a clip and merges an overlapping range', () => {
    const planned = planClips(window, offers, {
      clips: [{ index: 1, start: 150 * S, end: 160 * S }],
      ranges: [{ start: 155 * S, end: 170 * S }],
    });
    expect(planned).toEqual([{ clipIndex: 0, start: 150 * S, end: 170 * S }]);
  });

  it.each([
    [{ clips: [{ index: 2 }], ranges: [] }, 'no_such_clip'],
    [{ clips: [{ index: 0, start: 100 * S }], ranges: [] }, 'range_outside_clip'],
    [{ clips: [], ranges: [{ start: 90 * S, end: 120 * S }] }, 'range_outside_window'],
    [{ clips: [], ranges: [{ start: 190 * S, end: 201 * S }] }, 'range_outside_window'],
    [{ clips: [], ranges: [{ start: 150 * S, end: 150 * S }] }, 'range_empty'],
    [{ clips: [], ranges: [{ start: Number.NaN, end: 150 * S }] }, 'range_empty'],
  ])('refuses %j with %s', (choice, code) => {
    expect(() => planClips(window, offers, choice)).toThrowError(expect.objectContaining({ code }));
  });
});
